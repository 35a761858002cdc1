// What a busy or hostile client can cost: status and pod reads served from a
// short cache (counted inside a redis-server of this test's own), per-client
// rate limits on admin routes, and slow or oversized requests answered at
// once, over real sockets against the real HTTP server.
import { connect, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { listen, type RunningServer } from '../../../api/http-server.js';
import { silentLogger } from '../../../core/logger.js';
import { RoutingStore } from '../../../lua/routing-store.js';
import { launchRedis, type TestRedisServer } from '../../support/redis-server.js';
import { exampleFleet, isolatedStore, loadFleet, routerApp, sharedTestRedis } from '../../support/routing.js';
import type { AppDeps } from '../../../api/app.js';

const shared = sharedTestRedis();
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close(0);
  server = undefined;
});

async function start(options: Pick<AppDeps, 'readCacheMs' | 'adminRateLimit'> = {}, store = isolatedStore(shared), timeouts = { requestMs: 2000, headersMs: 1000 }) {
  const router = routerApp(store, options);
  await loadFleet(store, exampleFleet());
  server = await listen(router.app, '127.0.0.1', 0, silentLogger(), timeouts);
  return { url: `http://127.0.0.1:${server.port}`, store };
}

describe('status and pod reads come from a short cache', () => {
  let redisServer: TestRedisServer;
  let redis: Redis;
  beforeAll(async () => {
    redisServer = await launchRedis({ appendonly: false });
    redis = new Redis(redisServer.url);
  });
  afterAll(async () => {
    await redis.quit();
    await redisServer.destroy();
  });

  /** Script runs Redis counted (pool-status is the only script a status read runs). */
  const scriptRuns = async () => {
    const stats = await redis.info('commandstats');
    return [...stats.matchAll(/cmdstat_(?:eval|evalsha|fcall):calls=(\d+),.*?failed_calls=(\d+)/g)].reduce((n, m) => n + Number(m[1]) - Number(m[2]), 0);
  };
  /** A pod read is one MULTI/EXEC (the pod's hash and its calls). */
  const transactions = async () => Number(/cmdstat_exec:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);

  test('500 status requests, 50 at a time, cost one pool-status run per interval', async () => {
    const { url } = await start({ readCacheMs: 60_000 }, new RoutingStore(redis, 'cache-test'));
    await redis.config('RESETSTAT');
    for (let wave = 0; wave < 10; wave++) {
      const answers = await Promise.all(Array.from({ length: 50 }, () => fetch(`${url}/api/v1/status`).then((r) => r.json() as Promise<{ status: string; active_calls: number }>)));
      expect(answers.every((a) => a.status === 'up' && a.active_calls === 0)).toBe(true);
    }
    expect(await scriptRuns()).toBe(1);

    const before = await transactions();
    const pods = await Promise.all(Array.from({ length: 100 }, () => fetch(`${url}/api/v1/pod/voice-agent-1`).then((r) => r.status)));
    expect(new Set(pods)).toEqual(new Set([200]));
    expect((await transactions()) - before).toBe(1);
  });

  test('the cache expires: a later interval reads again, and sees the change', async () => {
    const { url } = await start({ readCacheMs: 200 }, new RoutingStore(redis, 'cache-expiry'));
    const status = async () => ((await (await fetch(`${url}/api/v1/status`)).json()) as { active_calls: number }).active_calls;
    expect(await status()).toBe(0);
    await fetch(`${url}/api/v1/allocate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"call_sid":"cached-call"}' });
    for (let i = 0; (await status()) !== 1; i++) {
      if (i > 200) throw new Error('status never showed the new call');
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  test('a drain made through this replica is visible at once in its pod answer', async () => {
    const { url } = await start({ readCacheMs: 60_000 }, new RoutingStore(redis, 'cache-drain'));
    const pod = async () => (await (await fetch(`${url}/api/v1/pod/voice-agent-2`)).json()) as { draining: boolean };
    expect((await pod()).draining).toBe(false);
    await fetch(`${url}/api/v1/drain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"pod_name":"voice-agent-2"}' });
    expect((await pod()).draining).toBe(true);
  });
});

describe('admin routes are rate limited per client', () => {
  test('past the burst: 429 JSON with Retry-After; call routes and other clients are not affected', async () => {
    const { url } = await start({ adminRateLimit: { perSecond: 0.001, burst: 5 } });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await fetch(`${url}/api/v1/status`)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    const limited = await fetch(`${url}/api/v1/pod/voice-agent-1`);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await limited.json()).toEqual({ error: 'too many requests', retry_after_seconds: Number(limited.headers.get('retry-after')) });
    // Allocate is the telephony service's hot path: never limited here.
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${url}/api/v1/allocate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ call_sid: `rl-${i}` }) });
      expect(res.status).not.toBe(429);
    }
    // Another client (as the trusted local proxy reports it) has its own bucket.
    expect((await fetch(`${url}/api/v1/status`, { headers: { 'x-forwarded-for': '203.0.113.9' } })).status).toBe(200);
  });
});

/** A client over a raw socket that writes what it is told, when it is told. */
function rawClient(port: number): { socket: Socket; answer: Promise<string>; closed: Promise<void> } {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  let resolveAnswer!: (s: string) => void;
  const answer = new Promise<string>((r) => (resolveAnswer = r));
  socket.on('data', (d: Buffer) => {
    text += d.toString();
    if (/\r\n\r\n/.test(text)) resolveAnswer(text);
  });
  socket.on('error', () => undefined); // a reset after the answer is expected
  const closed = new Promise<void>((r) => socket.on('close', () => r()));
  return { socket, answer, closed };
}

describe('slow and oversized requests', () => {
  test('a declared body over the limit is answered 413 before a byte of it is read, and the connection closed', async () => {
    await start();
    const client = rawClient(server!.port);
    client.socket.write('POST /api/v1/allocate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"call_sid":');
    const answer = await client.answer;
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toMatch(/connection: close/i);
    await client.closed;
  });

  test('a chunked body that passes the limit is answered 413 as it passes, while the client is still sending', async () => {
    await start();
    const client = rawClient(server!.port);
    client.socket.write('POST /api/v1/allocate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = 'x'.repeat(4096);
    const trickle = setInterval(() => client.socket.writable && client.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`), 20);
    try {
      const answer = await client.answer;
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer).toContain('{"error":"request body is larger than 16 KiB"}');
    } finally {
      clearInterval(trickle);
      client.socket.destroy();
    }
  });

  test('the provider webhooks refuse an oversized declared body at once too', async () => {
    await start();
    const client = rawClient(server!.port);
    client.socket.write('POST /api/v1/twilio/allocate HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nCallSid=');
    expect(await client.answer).toMatch(/^HTTP\/1\.1 413 /);
    client.socket.destroy();
  });

  test('a client that sends its body a byte at a time is cut off at the request timeout with a 408', async () => {
    await start({}, undefined, { requestMs: 1500, headersMs: 1000 });
    const client = rawClient(server!.port);
    client.socket.write('POST /api/v1/allocate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n');
    const trickle = setInterval(() => client.socket.writable && client.socket.write(' '), 200);
    try {
      expect(await client.answer).toMatch(/^HTTP\/1\.1 408 /);
      await client.closed;
    } finally {
      clearInterval(trickle);
    }
  });

  test('a client that never finishes its headers is cut off at the headers timeout', async () => {
    await start({}, undefined, { requestMs: 1500, headersMs: 1000 });
    const client = rawClient(server!.port);
    client.socket.write('GET /api/v1/status HTTP/1.1\r\nHost: x\r\n');
    const trickle = setInterval(() => client.socket.writable && client.socket.write('X-A: b\r\n'), 200);
    try {
      expect(await client.answer).toMatch(/^HTTP\/1\.1 408 /);
      await client.closed;
    } finally {
      clearInterval(trickle);
    }
  });
});
