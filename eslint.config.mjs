// ESLint for the TypeScript sources, tests and scripts. Besides the usual checks it enforces the
// layer order of docs/ARCHITECTURE.md: a module of src/ts/ imports only from its own layer and
// the layers before it, so a wrong import fails `npm test`.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * src/ts/ layers, in order; each may import only from itself and those before it. errors.ts and
 * volume.ts are one level, after util/ (util imports nothing of ours).
 */
const LAYERS = [
  ['util'],
  ['errors', 'volume'],
  ['geometry'],
  ['io'],
  ['transforms'],
  ['data'],
  ['native'],
  ['nets'],
  ['metrics'],
  ['bundle'],
  ['inferers'],
  ['engines'],
  ['serve'],
  ['cli'],
];

/** Import patterns naming a module of `name`, as seen from any folder under src/ts/. */
const patternsFor = (name) => [`**/${name}`, `**/${name}/**`, `./${name}`, `./${name}/**`];

const layerRules = LAYERS.map((level, i) => {
  const later = LAYERS.slice(i + 1).flat();
  const files = level.flatMap((name) => [`src/ts/${name}/**/*.ts`, `src/ts/${name}.ts`]);
  return {
    files,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...(later.length
              ? [
                  {
                    group: later.flatMap(patternsFor),
                    message: `layer order (docs/ARCHITECTURE.md): ${level.join('/')} may import only from ${LAYERS.slice(0, i + 1)
                      .flat()
                      .join(', ')}`,
                  },
                ]
              : []),
          ],
        },
      ],
    },
  };
});

export default tseslint.config(
  {
    ignores: [
      'lib/**',
      'build/**',
      'build-*/**',
      'node_modules/**',
      'prebuilds/**',
      'coverage/**',
      'demo-output/**',
      '.gpu/**',
      'tests/fixtures/**',
      'bench/results/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // Numeric kernels declare several loop counters per line on purpose.
      'one-var': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-console': 'off',
      'prefer-const': 'error',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  { files: ['tests/**/*.ts'], languageOptions: { globals: { ...globals.jest } } },
  ...layerRules,
  prettier,
);
