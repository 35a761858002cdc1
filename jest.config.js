// Three projects, from fastest to slowest: pure logic, against a real
// redis-server, against a real Kubernetes API server (the local control plane).
const tsJest = [
  'ts-jest',
  { useESM: true, tsconfig: 'tsconfig.json', diagnostics: { ignoreCodes: [151002] } },
];
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': tsJest },
  testEnvironment: 'node',
  // The local cluster's etcd keeps its own *.snap files under .cluster/: they are not Jest snapshots.
  modulePathIgnorePatterns: ['<rootDir>/.cluster/'],
};

export default {
  // Real servers answer in milliseconds, but a loaded 2-core CI machine may not.
  testTimeout: 60_000,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/redis-global-setup.js',
      globalTeardown: '<rootDir>/test/support/redis-global-teardown.js',
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/e2e/**/*.e2e.test.ts'],
      globalSetup: '<rootDir>/test/support/redis-global-setup.js',
      globalTeardown: '<rootDir>/test/support/redis-global-teardown.js',
    },
  ],
};
