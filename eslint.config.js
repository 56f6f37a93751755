// Lint: typescript-eslint's type-aware recommended set, tuned so that what it reports is
// worth fixing (docs/architecture.md, "Lint and format"). `npm run lint`; CI runs it
// before the tests.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** node:test's test()/describe() return promises the runner itself awaits. */
const nodeTest = { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] };

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/*.js', '**/*.mjs', '**/*.cjs', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // what matters: a promise nobody awaits or catches loses its error (`void p` says "on purpose")
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: true, allowForKnownSafeCalls: [nodeTest] }],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // noise for this code base: async handlers without await are an interface's shape, a
      // redundant `!` or cast is harmless, and templates of numbers and errors are what logs want
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      // rejecting with what a catch got is how errors are passed on here
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
      'no-regex-spaces': 'off',
      // Promise.all over a mix of promises and plain values is fine
      '@typescript-eslint/await-thenable': 'off',
      // Object.assign over a spread of records is `any`; what it builds is typed where it is used
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
  {
    // tests read JSON answers and parsed packets as loosely typed values, on purpose
    files: ['tests/src/**/*.ts', '**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
