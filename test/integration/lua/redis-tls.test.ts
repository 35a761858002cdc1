// rediss:// with a private CA and a client certificate, against a real
// redis-server serving TLS only, and certificates rotated in place while the
// router runs. The CAs and the certificates are made here with the openssl CLI.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import winston from 'winston';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../core/logger.js';
import { connectRedis, createRedisClient } from '../../../lua/redis-client.js';
import { RedisTlsReloader, redisTlsOptions } from '../../../lua/redis-tls-files.js';
import { packageRoot } from '../../../core/paths.js';
import { freePort } from '../../support/redis-server.js';
import { startRouterProcess } from '../../support/router-process.js';
import { waitFor } from '../../../tools/kubectl.js';

let dir: string;
let port: number;
let server: ChildProcess;
const file = (name: string) => join(dir, name);
const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });

/** A CA, a certificate it signed for `cn` (with SANs), and its key. */
function issue(ca: string, name: string, cn: string, ext: string): void {
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', `/CN=${cn}`);
  writeFileSync(file(`${name}.ext`), ext);
  openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file(`${ca}.crt`), '-CAkey', file(`${ca}.key`), '-CAcreateserial', '-out', file(`${name}.crt`), '-days', '1', '-extfile', file(`${name}.ext`));
}

/** redis-server serving TLS only on `tlsPort`, with the first CA's server certificate, asking clients for one of that CA's. */
function tlsRedisServer(tlsPort: number): ChildProcess {
  return spawn('redis-server', ['--port', '0', '--tls-port', String(tlsPort), '--tls-cert-file', file('server.crt'), '--tls-key-file', file('server.key'), '--tls-ca-cert-file', file('ca.crt'), '--tls-auth-clients', 'yes', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
}

/** The built router in standalone mode on the example pools, over rediss:// with these files; `post` calls its API. */
async function startTlsRouter(redisPort: number, tls: { ca: string; cert: string; key: string }, env: Record<string, string> = {}) {
  const router = await startRouterProcess(['standalone', '--config', join(packageRoot, 'examples', 'pools.yaml')], {
    REDIS_URL: `rediss://localhost:${redisPort}`,
    REDIS_TLS_CA_FILE: tls.ca,
    REDIS_TLS_CERT_FILE: tls.cert,
    REDIS_TLS_KEY_FILE: tls.key,
    TELEPHONY_VERIFY_SIGNATURES: 'false',
    ...env,
  });
  const post = (path: string, body: unknown) => fetch(`${router.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { router, post };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smart-router-redis-tls-'));
  for (const ca of ['ca', 'other-ca', 'next-ca']) openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', file(`${ca}.key`), '-out', file(`${ca}.crt`), '-days', '1', '-subj', `/CN=${ca}`);
  issue('ca', 'server', 'redis.test', 'subjectAltName=DNS:redis.test,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  issue('ca', 'client', 'smart-router', 'extendedKeyUsage=clientAuth\n');
  issue('other-ca', 'stranger', 'stranger', 'extendedKeyUsage=clientAuth\n');
  // What a rotation to a new CA brings: the server's and the client's new certificates.
  issue('next-ca', 'next-server', 'redis.test', 'subjectAltName=DNS:redis.test,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  issue('next-ca', 'next-client', 'smart-router', 'extendedKeyUsage=clientAuth\n');
  port = await freePort();
  server = tlsRedisServer(port);
  // Ready when a client with the right certificate gets a PONG.
  const probe = createRedisClient(`rediss://localhost:${port}`, 1000, silentLogger(), redisTlsOptions({ caFile: file('ca.crt'), certFile: file('client.crt'), keyFile: file('client.key') }));
  try {
    await connectRedis(probe, 20_000);
  } finally {
    probe.disconnect();
  }
}, 60_000);

afterAll(() => {
  server?.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function reaches(tls: Parameters<typeof redisTlsOptions>[0], host = 'localhost'): Promise<string> {
  const redis = createRedisClient(`rediss://${host}:${port}`, 1000, silentLogger(), redisTlsOptions(tls));
  try {
    await connectRedis(redis, 1500);
    return await redis.ping();
  } catch (err) {
    return `refused: ${(err as Error).message}`;
  } finally {
    redis.disconnect();
  }
}

test('the private CA and a client certificate connect; without the certificate, or trusting another CA, nothing does', async () => {
  expect(await reaches({ caFile: file('ca.crt'), certFile: file('client.crt'), keyFile: file('client.key') })).toBe('PONG');
  expect(await reaches({ caFile: file('ca.crt') })).toMatch(/^refused/); // Redis asks for a client certificate
  expect(await reaches({ caFile: file('ca.crt'), certFile: file('stranger.crt'), keyFile: file('stranger.key') })).toMatch(/^refused/);
  expect(await reaches({ caFile: file('other-ca.crt'), certFile: file('client.crt'), keyFile: file('client.key') })).toMatch(/^refused/);
  expect(await reaches({ certFile: file('client.crt'), keyFile: file('client.key') })).toMatch(/^refused/); // system CAs do not know ours
});

test('the server name is checked: a name the certificate lacks is refused unless REDIS_TLS_SERVERNAME names one it has', async () => {
  const tls = { caFile: file('ca.crt'), certFile: file('client.crt'), keyFile: file('client.key') };
  // 127.0.0.2 reaches the same server but is not in the certificate.
  expect(await reaches(tls, '127.0.0.2')).toMatch(/^refused/);
  expect(await reaches({ ...tls, servername: 'redis.test' }, '127.0.0.2')).toBe('PONG');
});

test('the router process runs end to end over TLS: ready, allocates, releases', async () => {
  const { router, post } = await startTlsRouter(port, { ca: file('ca.crt'), cert: file('client.crt'), key: file('client.key') });
  try {
    const allocated = await post('/api/v1/allocate', { call_sid: 'CAtls' });
    expect(allocated.status).toBe(200);
    expect((await post('/api/v1/release', { call_sid: 'CAtls' })).status).toBe(200);
  } finally {
    await router.stop();
  }
}, 60_000);

test("an unreadable TLS file, or a key that is not the certificate's, stops the start naming the variables", () => {
  expect(() => redisTlsOptions({ caFile: file('missing.crt') })).toThrow(/^REDIS_TLS_CA_FILE: cannot read .*missing\.crt/);
  expect(() => redisTlsOptions({ caFile: file('ca.crt'), certFile: file('client.crt'), keyFile: file('stranger.key') })).toThrow(/^REDIS_TLS_CA_FILE, REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE: .*key values mismatch/);
});

describe('certificates rotated in place', () => {
  let rotating: ChildProcess;
  let rotatingPort: number;
  const mounted = (name: string) => join(dir, 'mounted', name);
  const files = () => ({ caFile: mounted('ca.crt'), certFile: mounted('tls.crt'), keyFile: mounted('tls.key') });
  /** What the kubelet does when cert-manager renews the Secret: the mounted files change in place. */
  const mount = (ca: string, cert: string) => {
    copyFileSync(file(`${ca}.crt`), mounted('ca.crt'));
    copyFileSync(file(`${cert}.crt`), mounted('tls.crt'));
    copyFileSync(file(`${cert}.key`), mounted('tls.key'));
  };
  const clients: Redis[] = [];
  const client = (tls: ReturnType<typeof redisTlsOptions>) => {
    const redis = createRedisClient(`rediss://localhost:${rotatingPort}`, 1000, silentLogger(), tls);
    clients.push(redis);
    return redis;
  };
  const pings = (redis: Redis) => redis.ping().then(
    (pong) => pong,
    (err: Error) => `refused: ${err.message}`,
  );

  beforeEach(async () => {
    mkdirSync(join(dir, 'mounted'), { recursive: true });
    mount('ca', 'client');
    rotatingPort = await freePort();
    rotating = tlsRedisServer(rotatingPort);
    await connectRedis(client(redisTlsOptions(files())), 20_000);
  });
  afterEach(() => {
    for (const redis of clients.splice(0)) redis.disconnect();
    rotating?.kill('SIGKILL');
  });

  /** Rotates Redis to the next CA (new connections only, as CONFIG SET does) and drops every client's connection. */
  async function rotateServer(admin: Redis): Promise<void> {
    await admin.call('CONFIG', 'SET', 'tls-cert-file', file('next-server.crt'), 'tls-key-file', file('next-server.key'), 'tls-ca-cert-file', file('next-ca.crt'));
  }

  test('a client following its files reconnects after a rotation to a new CA; one that read them once cannot', async () => {
    const followed = redisTlsOptions(files())!;
    const following = client(followed);
    const readOnce = client(redisTlsOptions(files()));
    const admin = client(redisTlsOptions(files()));
    await Promise.all([following, readOnce, admin].map((r) => connectRedis(r, 20_000)));
    const reloader = new RedisTlsReloader(followed, files(), silentLogger());
    expect(await reloader.check()).toBe(false); // nothing changed yet

    await rotateServer(admin);
    mount('next-ca', 'next-client');
    expect(await reloader.check()).toBe(true);
    expect(await reloader.check()).toBe(false);
    // Open connections are not touched: certificates are checked at the handshake only.
    expect([await pings(following), await pings(readOnce)]).toEqual(['PONG', 'PONG']);

    await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    await waitFor('the following client back on the new certificates', async () => (await pings(following)) === 'PONG', 20_000, 100);
    // The other one keeps retrying with the old CA and the old certificate, which Redis no longer accepts.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await pings(readOnce)).toMatch(/^refused/);
    expect(readOnce.status).not.toBe('ready');
  }, 60_000);

  test('files caught mid-update (the new certificate beside the old key) are not taken; the next check takes the pair', async () => {
    const followed = redisTlsOptions(files())!;
    const following = client(followed);
    await connectRedis(following, 20_000);
    const lines: { level: string; message: string }[] = [];
    const sink = new Writable({
      write: (chunk, _encoding, done) => {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const logger = winston.createLogger({ format: winston.format.json(), transports: [new winston.transports.Stream({ stream: sink })] });
    const reloader = new RedisTlsReloader(followed, files(), logger);

    copyFileSync(file('next-client.crt'), mounted('tls.crt'));
    expect(await reloader.check()).toBe(false);
    expect(await reloader.check()).toBe(false);
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1); // once per problem, not once per check
    expect(warnings[0]!.message).toMatch(/^redis TLS files not reloaded, they do not make a TLS context \(.*\): keeping the previous ones$/);
    // Still the old pair: a reconnect now works against the unrotated server.
    await following.call('CLIENT', 'KILL', 'TYPE', 'normal');
    await waitFor('reconnected on the previous files', async () => (await pings(following)) === 'PONG', 20_000, 100);

    copyFileSync(file('next-client.key'), mounted('tls.key'));
    copyFileSync(file('next-ca.crt'), mounted('ca.crt'));
    expect(await reloader.check()).toBe(true);
    expect(lines.at(-1)).toMatchObject({ level: 'info', message: 'redis TLS files changed: new connections use them' });
  }, 60_000);

  test('the router process picks up rotated files by itself and keeps serving after its connection drops', async () => {
    const { router, post } = await startTlsRouter(rotatingPort, { ca: mounted('ca.crt'), cert: mounted('tls.crt'), key: mounted('tls.key') }, { LOG_LEVEL: 'info' });
    try {
      const admin = client(redisTlsOptions(files()));
      await connectRedis(admin, 20_000);
      await rotateServer(admin);
      mount('next-ca', 'next-client');
      await waitFor('the router saw the new files', async () => router.output().includes('redis TLS files changed: new connections use them'), 30_000);
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      await waitFor('the router allocating again', async () => (await post('/api/v1/allocate', { call_sid: 'CArotated' })).status === 200, 30_000, 200);
      expect((await post('/api/v1/release', { call_sid: 'CArotated' })).status).toBe(200);
    } finally {
      await router.stop();
    }
  }, 90_000);
});
