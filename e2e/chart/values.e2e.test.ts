// The chart's values against the router's own settings, by rendering the
// chart with the real helm: every setting the router reads has a value (or a
// stated reason why the chart leaves it alone), every value reaches its
// variable, and the chart's defaults are the router's defaults. No cluster
// needed, only the helm binary the cluster tooling links.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadAll } from 'js-yaml';
import { loadConfig } from '../../core/config.js';
import { packageRoot } from '../../core/paths.js';
import { CLUSTER_DIR } from '../../tools/kubectl.js';

const run = promisify(execFile);
const HELM = join(CLUSTER_DIR, 'bin', 'helm');
const CHART = join(packageRoot, 'charts', 'smart-router');
const BASE = ['redis.url=redis://r:6379', 'auth.existingSecret=smart-router-tokens'];

interface EnvVar {
  name: string;
  value?: string;
}

/** The router container's environment as the chart renders it, and the Secrets it takes whole. */
async function routerEnv(sets: string[]): Promise<{ vars: EnvVar[]; envFrom: unknown[] }> {
  const args = ['template', 'r', CHART, '--namespace', 'voice', '--kube-version', '1.36.3', ...[...BASE, ...sets].flatMap((s) => ['--set', s])];
  const docs = loadAll((await run(HELM, args, { maxBuffer: 16 * 1024 * 1024 })).stdout) as { kind?: string; metadata?: { name: string }; spec?: any }[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  const container = docs.find((d) => d?.kind === 'Deployment' && d.metadata?.name === 'r-smart-router')!.spec.template.spec.containers[0];
  return { vars: container.env, envFrom: container.envFrom ?? [] };
}

const literalValues = (vars: EnvVar[]) => Object.fromEntries(vars.filter((v) => v.value !== undefined).map((v) => [v.name, v.value as string]));

/** Variables the router reads that the chart does not set, and why. */
const NOT_FROM_VALUES: Record<string, string> = {
  HOST: 'the container listens on every address',
  HOSTNAME: 'set by Kubernetes; POD_NAME names the replica',
  KUBECONFIG: 'in the cluster the ServiceAccount is used',
  POOLS_FILE: 'standalone mode only',
  WEBHOOK_URL_HOST: 'url registration is for a router outside the cluster',
  OTEL_TRACES_EXPORTER: 'tracing.otlpEndpoint turns the OTLP exporter on',
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'tracing.otlpEndpoint sets the general endpoint',
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'tracing.protocol sets the general protocol',
  OTEL_SDK_DISABLED: 'tracing is off while tracing.otlpEndpoint is empty',
  TWILIO_AUTH_TOKEN: 'telephony.existingSecret, taken whole (envFrom)',
  PLIVO_AUTH_TOKEN: 'telephony.existingSecret, taken whole (envFrom)',
  EXOTEL_API_KEY: 'telephony.existingSecret, taken whole (envFrom)',
  EXOTEL_API_TOKEN: 'telephony.existingSecret, taken whole (envFrom)',
};

test('every variable the router reads is set by the chart, or left out for a stated reason', async () => {
  const source = readFileSync(join(packageRoot, 'core', 'config.ts'), 'utf8');
  const read = new Set([...source.matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g)].map((m) => m[1] as string));
  expect(read.size).toBeGreaterThan(40);
  // Every optional part on, in both certificate modes of the eviction guard.
  const everything = [
    'apiToken.existingSecret=tok', 'streamToken.existingSecret=st', 'config.wsUrlTemplate=wss://h/ws/pod/{pod}/{call_sid}?t={token}',
    'redis.url=rediss://r:6380', 'redis.tls.existingSecret=rtls', 'redis.tls.servername=r', 'config.keyPrefix=sr', 'config.installationId=i',
    'telephony.existingSecret=tel', 'telephony.publicUrl=https://router.example.com', 'telephony.failureMessage=busy', 'tracing.otlpEndpoint=http://c:4318',
  ];
  const self = await routerEnv(everything);
  const certManager = await routerEnv([...everything, 'evictionGuard.certificates.source=cert-manager']);
  expect(self.envFrom).toEqual([{ secretRef: { name: 'tel' } }]);
  const set = new Set([...self.vars, ...certManager.vars].map((v) => v.name));
  const missing = [...read].filter((name) => !set.has(name) && !(name in NOT_FROM_VALUES));
  expect(missing).toEqual([]);
  // The reasons stay true: nothing listed as left out is in fact set.
  expect(Object.keys(NOT_FROM_VALUES).filter((name) => set.has(name))).toEqual([]);
});

test.each([
  ['config.fullResyncSeconds=600', 'FULL_RESYNC_SECONDS', '600'],
  ['config.statusCountsIntervalSeconds=30', 'STATUS_COUNTS_INTERVAL_SECONDS', '30'],
  ['config.statusCountWritesPerMinute=120', 'STATUS_COUNT_WRITES_PER_MINUTE', '120'],
  ['config.autoscaleIntervalMs=2500', 'AUTOSCALE_INTERVAL_MS', '2500'],
  ['config.http.requestTimeoutSeconds=45', 'HTTP_REQUEST_TIMEOUT_SECONDS', '45'],
  ['config.http.headersTimeoutSeconds=15', 'HTTP_HEADERS_TIMEOUT_SECONDS', '15'],
  ['config.statusCacheMs=0', 'STATUS_CACHE_MS', '0'],
  ['config.adminRateLimit.perSecond=0', 'ADMIN_RATE_LIMIT_PER_SECOND', '0'],
  ['config.adminRateLimit.burst=5', 'ADMIN_RATE_LIMIT_BURST', '5'],
  ['config.shedding.maxInflightAllocations=1000', 'SHED_MAX_INFLIGHT_ALLOCATIONS', '1000'],
  ['config.shedding.eventLoopLagMs=0', 'SHED_EVENT_LOOP_LAG_MS', '0'],
  ['config.callTombstoneSeconds=60', 'CALL_TOMBSTONE_SECONDS', '60'],
  ['config.lostStateGraceSeconds=0', 'LOST_STATE_GRACE_SECONDS', '0'],
  ['config.redisCommandTimeoutMs=250', 'REDIS_COMMAND_TIMEOUT_MS', '250'],
  ['config.stateCheckIntervalMs=1000', 'STATE_CHECK_INTERVAL_MS', '1000'],
  ['telephony.plivoNonceTtlSeconds=120', 'PLIVO_NONCE_TTL_SECONDS', '120'],
])('%s reaches %s', async (set, name, value) => {
  const env = literalValues((await routerEnv([set])).vars);
  expect(env[name]).toBe(value);
  // And the router takes it: the rendered environment is a valid configuration.
  expect(() => loadConfig(['operator'], env)).not.toThrow();
});

test("the chart's defaults are the router's defaults, written as integers the router reads", async () => {
  const env = literalValues((await routerEnv([])).vars);
  // A number from values.yaml is a float to helm: a million and more came out as 9.4608e+07 and stopped the router.
  expect([env.WEBHOOK_CA_LIFETIME_SECONDS, env.WEBHOOK_CERT_LIFETIME_SECONDS]).toEqual(['94608000', '7776000']);
  const chart = loadConfig(['operator'], env);
  const router = loadConfig(['operator'], {});
  const settings = (c: typeof router) => ({
    redisCommandTimeoutMs: c.redisCommandTimeoutMs,
    callTombstoneSeconds: c.callTombstoneSeconds,
    shedding: c.shedding,
    http: c.http,
    reapIntervalMs: c.reapIntervalMs,
    stateCheckIntervalMs: c.stateCheckIntervalMs,
    lostStateGraceSeconds: c.lostStateGraceSeconds,
    shutdownTimeoutMs: c.shutdownTimeoutMs,
    lease: [c.operator.leaseDurationSeconds, c.operator.renewDeadlineSeconds, c.operator.retryPeriodSeconds],
    fullResyncSeconds: c.operator.fullResyncSeconds,
    statusCounts: [c.operator.statusCountsIntervalSeconds, c.operator.statusCountWritesPerMinute],
    autoscaleIntervalMs: c.operator.autoscaleIntervalMs,
    authReloadMs: c.auth.reloadMs,
    plivoNonceTtlSeconds: c.telephony.plivoNonceTtlSeconds,
    verifySignatures: c.telephony.verifySignatures,
  });
  expect(settings(chart)).toEqual(settings(router));
  // Where the chart differs on purpose: its nginx is the one proxy hop, and it reconciles every 10 s rather than 5.
  expect([chart.trustProxy, router.trustProxy]).toEqual([1, ['loopback']]);
  expect([chart.operator.resyncSeconds, router.operator.resyncSeconds]).toEqual([10, 5]);
});

test('a request timeout shorter than the header timeout is refused at install, naming both values', async () => {
  const err = await routerEnv(['config.http.requestTimeoutSeconds=10', 'config.http.headersTimeoutSeconds=20']).then(
    () => '',
    (e: { stderr: string }) => e.stderr,
  );
  expect(err).toContain('config.http.headersTimeoutSeconds must not exceed config.http.requestTimeoutSeconds');
});

test('a Sentinel-managed Redis or a Redis Cluster replaces the URL, with credentials from the Secret and TLS as set', async () => {
  const sentinel = await routerEnv(['redis.url=', 'redis.sentinel.hosts={s-0.s:26379,s-1.s:26379}', 'redis.sentinel.masterName=routing', 'redis.existingSecret=rs', 'redis.tls.enabled=true', 'redis.tls.existingSecret=rt']);
  const names = sentinel.vars.map((v) => v.name);
  expect(names).not.toContain('REDIS_URL');
  expect(sentinel.vars.find((v) => v.name === 'REDIS_PASSWORD')).toMatchObject({ valueFrom: { secretKeyRef: { name: 'rs', key: 'password', optional: true } } });
  const env = literalValues(sentinel.vars);
  expect(env).toMatchObject({ REDIS_SENTINELS: 's-0.s:26379,s-1.s:26379', REDIS_SENTINEL_MASTER: 'routing', REDIS_TLS: 'true' });
  expect(loadConfig(['operator'], { ...env, REDIS_PASSWORD: 'p' }).redis).toMatchObject({ kind: 'sentinel', masterName: 'routing', tls: true, sentinelTls: true, auth: { password: 'p' } });
  const cluster = literalValues((await routerEnv(['redis.url=', 'redis.cluster.nodes={c-0:6379}'])).vars);
  expect(loadConfig(['operator'], cluster).redis).toEqual({ kind: 'cluster', nodes: [{ host: 'c-0', port: 6379 }], auth: {}, tls: false });
  const refused = await routerEnv(['redis.sentinel.hosts={s:26379}', 'redis.sentinel.masterName=m']).then(
    () => '',
    (e: { stderr: string }) => e.stderr,
  );
  expect(refused).toContain('redis.url and redis.sentinel.hosts exclude each other');
});
