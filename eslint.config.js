// ESLint (flat config): typescript-eslint's recommended type-checked rules over the TypeScript
// sources; `npm run lint`. Formatting is Prettier's job (`npm run format:check`), not ESLint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', 'test-artifacts/**', 'bench/results/**'] },
  {
    files: ['**/*.{ts,tsx}'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // `const { secret: _secret, ...rest } = x` is how a field is left out of a copy: the rest is what is used.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
  {
    // Test doubles stand in for async interfaces (CoveyApi, the core channel, Electron's webContents):
    // an `async` method that returns at once is the plainest way to satisfy them.
    files: ['tests/**/*.{ts,tsx}'],
    rules: { '@typescript-eslint/require-await': 'off' },
  },
  {
    files: ['**/*.{js,mjs,cjs}'],
    extends: [js.configs.recommended],
    languageOptions: {
      globals: {
        console: 'readonly',
        process: 'readonly',
        module: 'writable',
        require: 'readonly',
        window: 'readonly',
        document: 'readonly',
        fetch: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        localStorage: 'readonly',
        WebSocket: 'readonly',
        URL: 'readonly',
        EventSource: 'readonly',
        Intl: 'readonly',
        requestAnimationFrame: 'readonly',
        location: 'readonly',
        sessionStorage: 'readonly',
        navigator: 'readonly',
        HTMLElement: 'readonly',
        AbortController: 'readonly',
        uPlot: 'readonly',
      },
    },
  },
);
