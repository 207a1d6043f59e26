// Lets child processes in tests run TypeScript fixtures with plain `node -r`: each .ts file is
// transpiled with the workspace's own TypeScript (decorators and their metadata included).
// Imports of @cairn/* resolve to the built packages, exactly as in a user's app.
const fs = require('node:fs');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      esModuleInterop: true,
    },
  });
  module._compile(outputText, filename);
};
