// Lint rules for every TypeScript and JavaScript file of the project (`npm run lint`, part of `npm test`).
// typescript-eslint's recommended set without type information (fast on 2 cores); formatting is Prettier's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'out/',
      '.vscode-test/',
      '.bench/',
      '.test-tmp/',
      'test-artifacts/',
      'demo-workspace/',
      '.gpu-kit/',
      'src/core/delta/simd/wasm.generated.ts',
      'src/core/lora/simd/wasm.generated.ts',
      'src/core/delta/simd/kernel.ts',
      'src/core/lora/simd/kernel.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  { files: ['src/webview/**', 'test/ui/**'], languageOptions: { globals: { ...globals.browser, ...globals.node } } },
  // The launcher in bin/ is plain CommonJS.
  {
    files: ['bin/**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // Tests read JSON whose shape is the thing under test.
  { files: ['test/**'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
);
