// ESLint runs only the type-aware rules that catch async bugs; Biome does formatting and general lint.
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', 'data/**', 'bin/**', 'eslint.config.js', 'scripts/**'],
  },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      'no-restricted-imports': 'off',
    },
  },
  {
    // node:test's test() and describe() return promises that the runner tracks.
    files: ['**/*.test.ts', 'src/testing/**/*.ts'],
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
  {
    // The browser client never imports node:*, nor the server (ferry/client/node may use node:*).
    files: ['src/client/**/*.ts'],
    ignores: ['**/*.test.ts', 'src/client/node/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            'node:*',
            '**/server/**',
            '**/stores/**',
            '**/store/**',
            '**/adapters/**',
            '**/check/**',
            '**/cli/**',
          ],
        },
      ],
    },
  },
  {
    // ferry check tests any server, Ferry included: it may use header constants and field codecs,
    // never the server's rules, or it would test Ferry's logic against itself.
    files: ['src/check/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            '**/protocol/classify*',
            '**/protocol/rules*',
            '**/protocol/render*',
            '**/protocol/ietf-versions*',
            '**/protocol/errors*',
            '**/protocol/index*',
            '**/server/**',
            '**/store/**',
            '**/stores/**',
            '**/lock/**',
            '**/adapters/**',
          ],
        },
      ],
    },
  },
  {
    // The protocol core and the client's state machine are pure: no I/O, clock, randomness or
    // node:* imports (tests excepted).
    files: ['src/protocol/**/*.ts', 'src/client/machine.ts', 'src/client/protocols.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            'node:*',
            '../server/*',
            '../store/*',
            '../stores/*',
            '../lock/*',
            '../adapters/*',
            '../cli/*',
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        'setTimeout',
        'setInterval',
        'process',
        'crypto',
        'performance',
        'fetch',
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random' },
        { object: 'Date', property: 'now' },
      ],
    },
  },
)
