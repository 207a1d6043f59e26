// One jest project per package. Tests import the packages' TypeScript sources (no build needed);
// ts-jest also transpiles the two ESM-only dependencies (p-retry, devalue) to CommonJS for jest.
// Child-process tests (crashes, several processes on one file) run the built packages, the way
// users do: `pnpm test` builds first.
const ESM_ONLY = ['p-retry', 'devalue', 'is-network-error'];

/** @type {(name: string) => import('jest').Config} */
const project = (name, extra = {}) => ({
  displayName: name,
  rootDir: `<rootDir>/packages/${name}`,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  transform: {
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: '<rootDir>/../../tsconfig.test.json', diagnostics: false }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(\\.pnpm/)?(${ESM_ONLY.join('|')})[@/])`],
  moduleNameMapper: {
    '^@cairn/core$': '<rootDir>/../core/src/index.ts',
    '^@cairn/core/testing$': '<rootDir>/../core/src/testing/index.ts',
    '^@cairn/storage-sqlite$': '<rootDir>/../storage-sqlite/src/index.ts',
    '^@cairn/storage-postgres$': '<rootDir>/../storage-postgres/src/index.ts',
    '^@cairn/storage-postgres/testing$': '<rootDir>/../storage-postgres/src/testing/index.ts',
  },
  ...extra,
});

/** @type {import('jest').Config} */
module.exports = {
  rootDir: __dirname,
  projects: [
    project('core'),
    project('storage-sqlite'),
    // Starts a real PostgreSQL (loopback only) for the run unless CAIRN_TEST_PG_URL names one.
    project('storage-postgres', { globalSetup: '<rootDir>/test/global-setup.ts', globalTeardown: '<rootDir>/test/global-teardown.ts' }),
    // The short torture run and the bad-input catalog (pnpm torture runs the long version).
    project('torture', {
      globalSetup: '<rootDir>/../storage-postgres/test/global-setup.ts',
      globalTeardown: '<rootDir>/../storage-postgres/test/global-teardown.ts',
    }),
  ],
  testTimeout: 60_000,
};
