// ESLint 9 flat config. typescript-eslint's recommended rules for TypeScript sources, tests and
// examples; not type-aware (no parserOptions.project), so `pnpm lint` stays fast.
// CommonJS on purpose: the root package.json has no "type": "module".
const tseslint = require('typescript-eslint');

const TS_FILES = ['**/*.ts', '**/*.mts', '**/*.cts'];

module.exports = [
  {
    // Global ignores: build output, installed packages, coverage, declaration files, scratch.
    ignores: ['**/dist/', 'examples/*/dist/', '**/node_modules/', '**/coverage/', '**/*.d.ts', '.tmp/'],
  },
  // The recommended set scoped to TypeScript files (the plain .js config files only get parsed).
  ...tseslint.configs.recommended.map((config) => ({ ...config, files: TS_FILES })),
  {
    files: TS_FILES,
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
        },
      ],
    },
  },
];
