// rediss:// with a private CA and a client certificate, against a real
// redis-server serving TLS only. The CA and the certificates are made here
// with the openssl CLI.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../core/logger.js';
import { connectRedis, createRedisClient, redisTlsOptions } from '../../../lua/redis-client.js';
import { packageRoot } from '../../../core/paths.js';
import { freePort } from '../../support/redis-server.js';
import { startRouterProcess } from '../../support/router-process.js';

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

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smart-router-redis-tls-'));
  for (const ca of ['ca', 'other-ca']) openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', file(`${ca}.key`), '-out', file(`${ca}.crt`), '-days', '1', '-subj', `/CN=${ca}`);
  issue('ca', 'server', 'redis.test', 'subjectAltName=DNS:redis.test,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  issue('ca', 'client', 'smart-router', 'extendedKeyUsage=clientAuth\n');
  issue('other-ca', 'stranger', 'stranger', 'extendedKeyUsage=clientAuth\n');
  port = await freePort();
  server = spawn('redis-server', ['--port', '0', '--tls-port', String(port), '--tls-cert-file', file('server.crt'), '--tls-key-file', file('server.key'), '--tls-ca-cert-file', file('ca.crt'), '--tls-auth-clients', 'yes', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
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
  const router = await startRouterProcess(['standalone', '--config', join(packageRoot, 'examples', 'pools.yaml')], {
    REDIS_URL: `rediss://localhost:${port}`,
    REDIS_TLS_CA_FILE: file('ca.crt'),
    REDIS_TLS_CERT_FILE: file('client.crt'),
    REDIS_TLS_KEY_FILE: file('client.key'),
    TELEPHONY_VERIFY_SIGNATURES: 'false',
  });
  try {
    const post = (path: string, body: unknown) => fetch(`${router.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const allocated = await post('/api/v1/allocate', { call_sid: 'CAtls' });
    expect(allocated.status).toBe(200);
    expect((await post('/api/v1/release', { call_sid: 'CAtls' })).status).toBe(200);
  } finally {
    await router.stop();
  }
}, 60_000);

test('an unreadable TLS file stops the start naming its variable', () => {
  expect(() => redisTlsOptions({ caFile: file('missing.crt') })).toThrow(/^REDIS_TLS_CA_FILE: cannot read .*missing\.crt/);
});
