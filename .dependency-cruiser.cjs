/** Layer rules: the domain is pure, and the read side never reaches into the write side. */
module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment: 'domain/ imports only itself and pure libraries (zod, immutable): no I/O, no outer layers, no DI.',
      severity: 'error',
      from: { path: '^domain/', pathNot: '\\.spec\\.ts$' },
      to: { pathNot: ['^domain/', '^node_modules/(zod|immutable)/'] },
    },
    {
      name: 'read-side-does-not-import-commands',
      severity: 'error',
      from: { path: '^(read-api|projections)/' },
      to: { path: '^commands/' },
    },
    {
      name: 'only-infra-composes',
      comment: 'commands, projections and read-api do not import the composition root, config or adapters.',
      severity: 'error',
      from: { path: '^(domain|commands|projections|read-api)/', pathNot: '\\.spec\\.ts$' },
      to: { path: '^infra/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)node_modules/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
