// make bench: the eviction guard's latency as the API server sees it (HTTPS,
// keep-alive), at 1,000 pods in Redis, next to a bare HTTPS endpoint that
// parses the review and answers "allowed" without looking anything up,
// measured in the same run. Prints figures; asserts nothing.
import { spawn } from 'node:child_process';
import { createServer } from 'node:https';
import { Agent, request } from 'node:https';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { silentLogger } from '../core/logger.js';
import { RoutingStore } from '../lua/routing-store.js';
import { issueCa, issueServing } from '../operator/eviction-guard/certificates.js';
import { admissionResponse, parseEvictionReview } from '../operator/eviction-guard/admission-review.js';
import { EvictionGuard, type CachedPod } from '../operator/eviction-guard/eviction-guard.js';
import { EVICTION_WEBHOOK_PATH, WebhookServer } from '../operator/eviction-guard/webhook-server.js';
import { OperatorMetrics } from '../operator/operator-metrics.js';
import { freePort, launchRedis } from '../tools/local-redis.js';
import { benchMembers } from './fleet.js';

const PODS = 1000;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_WEBHOOK_CONCURRENCY ?? 1);
const PREFIX = 'bench-evict';

/** The server side, in a process of its own so that the load generator does not share its event loop. */
async function serve(mode: string, redisUrl: string, port: number): Promise<void> {
  const ca = await issueCa('bench ca', new Date(), 3600_000);
  const cert = await issueServing(ca, ['localhost'], ['127.0.0.1'], new Date(), 3600_000);
  if (mode === 'baseline') {
    createServer(cert, (req, res) => {
      let text = '';
      req.on('data', (c) => (text += c));
      req.on('end', () => {
        const review = parseEvictionReview(JSON.parse(text));
        const body = JSON.stringify(admissionResponse(review?.uid ?? '', { allowed: true }));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
    }).listen(port, '127.0.0.1', () => console.log('ready'));
    return;
  }
  const store = new RoutingStore(new Redis(redisUrl), PREFIX);
  // Steady state of a drain: every pod was asked before, so it carries its drain start.
  const cached: CachedPod = { annotations: { 'smartrouter.io/drain': 'true', 'smartrouter.io/drain-started-at': new Date().toISOString() } };
  const inner = new EvictionGuard({
    store,
    namespace: 'bench',
    pod: () => cached,
    marker: { markDraining: async (_pod, at) => at },
    events: { record: async () => undefined },
    metrics: new OperatorMetrics(new Registry()),
    logger: silentLogger(),
  });
  // Time inside the guard (Redis read, decision), without TLS, HTTP or the client: reset after warm-up, printed on SIGTERM.
  let inside: number[] = [];
  const guard = Object.assign(Object.create(inner) as EvictionGuard, {
    review: async (req: Parameters<EvictionGuard['review']>[0]) => {
      const start = process.hrtime.bigint();
      const answer = await inner.review(req);
      inside.push(Number(process.hrtime.bigint() - start) / 1e6);
      return answer;
    },
  });
  process.on('SIGUSR2', () => (inside = []));
  process.on('SIGTERM', () => {
    console.log(`inside ${JSON.stringify({ p50: pct(inside, 50), p99: pct(inside, 99) })}`);
    process.exit(0);
  });
  await WebhookServer.listen('127.0.0.1', port, cert, guard, silentLogger());
  console.log('ready');
}

function review(i: number): string {
  // Spread over the fleet (7919 is prime): busy and idle pods alike.
  const pod = `agent-${(i * 7919) % PODS}`;
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: `u-${i}`, resource: { group: '', version: 'v1', resource: 'pods' }, subResource: 'eviction', operation: 'CREATE', name: pod, namespace: 'bench', dryRun: false },
  });
}

async function load(port: number, ms: number): Promise<{ latencies: number[]; denied: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, rejectUnauthorized: false });
  const latencies: number[] = [];
  let denied = 0;
  let i = 0;
  const until = Date.now() + ms;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const body = review(i++);
      const start = process.hrtime.bigint();
      const req = request({ host: '127.0.0.1', port, path: EVICTION_WEBHOOK_PATH, method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
          if ((JSON.parse(text) as { response: { allowed: boolean } }).response.allowed === false) denied++;
          resolve();
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < until) await one();
    }),
  );
  agent.destroy();
  return { latencies, denied };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] as number;

async function measure(mode: 'baseline' | 'guard', redisUrl: string): Promise<{ p50: number; p99: number; rate: number; denied: number; total: number; inside?: { p50: number; p99: number } }> {
  const port = await freePort();
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve', mode, redisUrl, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)));
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await load(port, 1000); // warm-up: JIT, TLS sessions, script cache
    if (mode === 'guard') child.kill('SIGUSR2');
    const { latencies, denied } = await load(port, SECONDS * 1000);
    const result = { p50: pct(latencies, 50), p99: pct(latencies, 99), rate: latencies.length / SECONDS, denied, total: latencies.length };
    if (mode === 'baseline') return result;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    const line = /inside (\{.*\})/.exec(out);
    return { ...result, inside: line ? (JSON.parse(line[1] as string) as { p50: number; p99: number }) : undefined };
  } finally {
    child.kill();
  }
}

async function main(): Promise<void> {
  const redisServer = await launchRedis({ appendonly: false });
  try {
    const redis = new Redis(redisServer.url);
    const store = new RoutingStore(redis, PREFIX);
    const pool = { name: 'bench', spec: { tier: 'bench', exclusive: true, capacity: 1, replicas: PODS, priority: 0, scheduling: 'LeastLoaded' as const, maxCallDurationSeconds: 3600, drain: { maxDrainSeconds: 3600 } } };
    await store.syncPool(pool, benchMembers(PODS));
    // Half the pods hold a call: their evictions are denied, the others allowed.
    const version = await store.poolsVersion();
    for (let i = 0; i < PODS / 2; i++) await store.allocate(`call-${i}`, ['bench'], version);
    await redis.quit();

    const baseline = await measure('baseline', redisServer.url);
    const guard = await measure('guard', redisServer.url);
    const f = (n: number) => n.toFixed(3);
    console.log(`\neviction webhook, ${PODS} pods (half with calls), ${CONCURRENCY} concurrent reviews over keep-alive HTTPS, ${SECONDS} s each`);
    console.log(`  bare HTTPS endpoint (baseline): p50 ${f(baseline.p50)} ms  p99 ${f(baseline.p99)} ms  ${baseline.rate.toFixed(0)} reviews/s`);
    console.log(`  eviction guard (one Redis read, decision): p50 ${f(guard.p50)} ms  p99 ${f(guard.p99)} ms  ${guard.rate.toFixed(0)} reviews/s  (${guard.denied} of ${guard.total} denied)`);
    if (guard.inside) console.log(`  inside the guard (no TLS, HTTP or client): p50 ${f(guard.inside.p50)} ms  p99 ${f(guard.inside.p99)} ms`);
    console.log(`  guard / baseline: p50 ${(guard.p50 / baseline.p50).toFixed(2)}x  p99 ${(guard.p99 / baseline.p99).toFixed(2)}x   target: p99 well under 10 ms`);
  } finally {
    await redisServer.destroy();
  }
}

if (process.argv[2] === 'serve') {
  void serve(process.argv[3] as string, process.argv[4] as string, Number(process.argv[5]));
} else {
  main().catch((err: Error) => {
    console.error(err.stack ?? err.message);
    process.exit(1);
  });
}
