// Lint rules that catch what bites Temporal code: floating promises, value imports of types
// (which would pull activity code into the workflow bundle), import cycles, and Node built-ins or
// non-deterministic modules inside workflow code.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

/** Production code never imports dev-only folders (DESIGN.md §2): their code is not in the build. */
const devOnlyImports = [
  {
    group: ['**/scripts', '**/scripts/**', '**/test', '**/test/**', '**/bench', '**/bench/**'],
    message:
      'production code never imports scripts/, test/ or bench/ (move what both need into production code)',
  },
];

export default tseslint.config(
  { ignores: ['node_modules/', '.venv/', '.data/', 'dist/', 'coverage/', 'models/**/*.py'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mts'],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver': { typescript: true, node: true } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'separate-type-imports' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
    },
  },
  {
    files: ['activities/**/*.ts', 'api/**/*.ts', 'config/**/*.ts', 'pipelines/**/*.ts', 'workers/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: devOnlyImports }] },
  },
  {
    // Workflow code is replayed: no Node built-ins, no I/O libraries, no clocks or randomness of its own.
    files: ['workflows/**/*.ts'],
    rules: {
      'import-x/no-nodejs-modules': 'error',
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity'],
              message: 'workflow code may import only @temporalio/workflow and @temporalio/common',
            },
            { group: ['ssh2', '@google-cloud/*', 'node:*'], message: 'side effects belong in activities/' },
            {
              // From workflows/ and from workflows/runner/ (any depth).
              group: ['**/activities', '**/activities/**', '**/workers/**', '**/api/**'],
              allowTypeImports: true,
              message: 'import activities as types only',
            },
            ...devOnlyImports,
          ],
        },
      ],
    },
  },
  {
    // The API asks the worker (planPipeline, Updates); it holds no git, warehouse client or credentials.
    files: ['api/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../activities/*', '../activities/**', '../../activities/*', '../../activities/**'],
              allowTypeImports: true,
              message: 'api/ imports no activities: ask the worker (planPipeline workflow, Updates, queries)',
            },
            {
              group: ['@google-cloud/*', 'ssh2', '@temporalio/worker', '@temporalio/activity', 'nodemailer'],
              message: 'api/ talks to Temporal only; side effects belong to the worker',
            },
          ],
        },
      ],
    },
  },
);
