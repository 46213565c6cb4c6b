// Lint configuration: typescript-eslint's recommended type-aware rules, plus the house rules that
// keep the protocol core free of ambient I/O (time and randomness are injected).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.bftkv/**', 'scratch/**', 'eslint.config.js', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/require-await': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // The protocol core must be deterministic: no wall clock, no ambient randomness, no timers, no sockets.
    files: [
      'src/codec/**',
      'src/collections/**',
      'src/crypto/**',
      'src/trust/**',
      'src/quorum/**',
      'src/protocol/**',
    ],
    rules: {
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'setImmediate'],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'inject a Clock' },
        { object: 'Math', property: 'random', message: 'inject a Random' },
      ],
      'no-restricted-imports': [
        'error',
        { paths: ['node:net', 'node:fs', 'node:http', 'node:tls', 'node:dgram'] },
      ],
    },
  },
  {
    files: ['test/**'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
