/**
 * The layers of DESIGN.md, enforced (`npm run check:layers`). Dependencies point down:
 *   renderer -> app contract (types and the method list only)
 *   main, cli -> app -> client -> core;  server -> core;  cli may start the server
 *   core imports nothing above it; its math modules import no I/O.
 */

/** I/O a math module must not import: files, processes, threads, network, databases. */
const IO_MODULES = [
  '^(node:)?(fs|fs/promises|child_process|worker_threads|net|http|https|dgram|cluster|os|readline)$',
  '^(socket\\.io|socket\\.io-client|ws|better-sqlite3|electron)$',
];

/** The pure-math parts of core. data/, train/ and workers/ are where core's I/O adapters live. */
const CORE_MATH = '^src/core/(aggregate|crypto|model|privacy|protocol|secagg)/';

/**
 * The I/O adapters that sit beside the math (files, worker threads). Math modules may not import
 * them, and the math indexes (index.ts) do not re-export them: importers take them from their own
 * modules.
 */
const CORE_ADAPTERS = [
  '^src/core/privacy/ledger-file\\.ts$',
  '^src/core/privacy/participant-ledgers\\.ts$',
  '^src/core/crypto/identity-file\\.ts$',
  '^src/core/secagg/mask-worker\\.ts$',
  '^src/core/secagg/mask-pool\\.ts$',
];

module.exports = {
  forbidden: [
    {
      name: 'renderer-only-app-contract',
      comment: 'The renderer sees only the app contract (src/app/contract.ts), never core, client, app internals, main or Node.',
      severity: 'error',
      from: { path: '^src/renderer/' },
      to: { path: '^(src/(core|client|app|main|cli|preload)|server)/', pathNot: '^src/app/contract\\.ts$' },
    },
    {
      name: 'app-contract-types-only',
      comment: 'The contract the renderer imports carries only types: its own imports must be type-only.',
      severity: 'error',
      from: { path: '^src/app/contract\\.ts$' },
      to: { dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'preload-only-app-contract',
      comment: 'The preload bridges IPC to the renderer: it may use electron and the app contract only.',
      severity: 'error',
      from: { path: '^src/preload/' },
      to: { path: '^(src/(core|client|app|main|cli|renderer)|server)/', pathNot: '^src/app/contract\\.ts$' },
    },
    {
      name: 'app-below-main-and-cli',
      comment: 'The app core is used by main and the CLI; it never imports them, the renderer or the server.',
      severity: 'error',
      from: { path: '^src/app/' },
      to: { path: '^(src/(main|cli|renderer|preload)|server)/' },
    },
    {
      name: 'client-below-app',
      comment: 'The headless client uses core only.',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: '^(src/(app|main|cli|renderer|preload)|server)/' },
    },
    {
      name: 'server-uses-core-only',
      comment: 'The aggregator uses core only: never the client, the app, the CLI or Electron.',
      severity: 'error',
      from: { path: '^server/' },
      to: { path: '^src/(client|app|main|cli|renderer|preload)/' },
    },
    {
      name: 'core-imports-nothing-above',
      comment: 'core is the bottom layer.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^(src/(client|app|main|cli|renderer|preload)|server)/' },
    },
    {
      name: 'core-math-no-io',
      comment: "core's math modules import no I/O (files, processes, threads, network); adapters live beside them.",
      severity: 'error',
      from: { path: CORE_MATH, pathNot: CORE_ADAPTERS },
      to: { path: IO_MODULES },
    },
    {
      name: 'core-math-no-adapters',
      comment: "core's math modules and indexes do not import or re-export the I/O adapters beside them (their types are fine).",
      severity: 'error',
      from: { path: CORE_MATH, pathNot: CORE_ADAPTERS },
      to: { path: CORE_ADAPTERS, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-circular',
      comment: 'Modules form no import cycles (type-only cycles are allowed).',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|out|dist|test-artifacts)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.json'],
    },
    builtInModules: { add: [] },
  },
};
