// Scoped credentials through the real app over a real redis-server: every
// /api/v1 route refuses a missing, wrong, near-miss or wrong-scope token
// without leaking anything and without touching Redis; tokens rotate in
// their files without a restart.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Credentials } from '../../../api/credentials.js';
import { openapi } from '../../../api/validation.js';
import { silentLogger } from '../../../core/logger.js';
import type { RoutingStore } from '../../../lua/routing-store.js';
import { serve, type TestServer } from '../../support/http.js';
import { exampleFleet, isolatedStore, loadFleet, routerApp, sharedTestRedis } from '../../support/routing.js';

const redis = sharedTestRedis();
const ROUTING = 'routing-Token_0123456789abcdef';
const ADMIN = 'admin-Token_0123456789abcdef';
const AGENT = 'agent-Token_0123456789abcdef';
const TOKENS = [ROUTING, ADMIN, AGENT];

let dir: string;
let credentials: Credentials;
let store: RoutingStore;
let http: TestServer;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smart-router-tokens-'));
  writeFileSync(join(dir, 'routing'), `# telephony service\n${ROUTING}\n`);
  writeFileSync(join(dir, 'admin'), `${ADMIN}\n`);
  writeFileSync(join(dir, 'agent'), `# voice agents' preStop hook\n${AGENT}\n`);
  credentials = Credentials.open({ tokensDir: dir, reloadMs: 100 }, silentLogger());
  store = isolatedStore(redis);
  await loadFleet(store, exampleFleet());
  http = await serve(routerApp(store, { credentials }).app);
});
afterEach(async () => {
  credentials.close();
  await http.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Every key of this installation with its serialized value: equal snapshots mean nothing changed. */
async function snapshot(): Promise<Map<string, string>> {
  const keys = (await redis.keys(`${store.keys.base}*`)).sort();
  const out = new Map<string, string>();
  for (const key of keys) out.set(key, ((await redis.dumpBuffer(key)) ?? Buffer.alloc(0)).toString('base64'));
  return out;
}

/** Routes that are open by design (probes, metrics, the API description) and the provider webhooks (their own signatures). */
const OPEN = ['GET /health', 'GET /ready', 'GET /metrics', 'GET /api/v1/openapi.json', 'GET /api/v1/health', 'GET /api/v1/ready'];

/** Every /api/v1 route of the OpenAPI document with a request that would succeed, and the scope it needs. */
const BODIES: Record<string, unknown> = {
  'POST /api/v1/allocate': { call_sid: 'intruder-call' },
  'POST /api/v1/release': { call_sid: 'live-call' },
  'POST /api/v1/drain': { pod_name: 'voice-agent-1' },
  'POST /api/v1/undrain': { pod_name: 'voice-agent-1' },
};
/** Query strings, and the status an allowed request gets when not 200: wait-idle answers at once (408) for the pod holding live-call. */
const QUERY: Record<string, string> = { 'POST /api/v1/pod/voice-agent-1/wait-idle': '?timeout=0' };
const ALLOWED_STATUS: Record<string, number> = { 'POST /api/v1/pod/voice-agent-1/wait-idle': 408 };
/** The tokens each route takes and the scopes its refusal names; every other route takes admin only. */
const ALLOWED: Record<string, { tokens: string[]; scopes: string }> = {
  'POST /api/v1/allocate': { tokens: [ROUTING], scopes: 'routing' },
  'POST /api/v1/release': { tokens: [ROUTING], scopes: 'routing' },
  'POST /api/v1/pod/voice-agent-1/wait-idle': { tokens: [AGENT, ADMIN], scopes: 'agent or admin' },
};
const ROUTES = Object.entries(openapi.paths as Record<string, Record<string, unknown>>)
  .flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path.replace('{name}', 'voice-agent-1')}`))
  .filter((route) => !OPEN.includes(route));

function call(route: string, headers: Record<string, string>) {
  const [method, path] = route.split(' ') as [string, string];
  const target = path + (QUERY[route] ?? '');
  return method === 'GET' ? http.get(target, headers) : http.post(target, BODIES[route] ?? {}, headers);
}

test('the API document lists the routes this test walks', () => {
  expect(ROUTES).toEqual(['POST /api/v1/allocate', 'POST /api/v1/release', 'POST /api/v1/drain', 'POST /api/v1/undrain', 'GET /api/v1/pod/voice-agent-1', 'POST /api/v1/pod/voice-agent-1/wait-idle', 'GET /api/v1/status']);
});

describe.each(ROUTES)('%s', (route) => {
  const { tokens, scopes } = ALLOWED[route] ?? { tokens: [ADMIN], scopes: 'admin' };
  const good = tokens[0] as string;
  const others = TOKENS.filter((token) => !tokens.includes(token));

  test('refuses missing, wrong and near-miss tokens with 401, and every other scope with 403; no leak, Redis untouched', async () => {
    await http.post('/api/v1/allocate', { call_sid: 'live-call' }, bearer(ROUTING));
    const before = await snapshot();
    const unauthorized = [
      {},
      bearer('wrong'),
      bearer(`${good.slice(0, -1)}X`), // one character off
      bearer(good.slice(0, -1)), // a prefix
      bearer(`${good}x`), // one character more
      bearer(good.toUpperCase()), // another case
      bearer(good.toLowerCase()),
      { authorization: `Bearer  ${good}` }, // whitespace around or inside
      { authorization: `Bearer ${good.slice(0, 5)} ${good.slice(5)}` },
      { authorization: `Bearer\t${good}` },
      { authorization: good }, // no scheme
      { authorization: `Basic ${Buffer.from(`x:${good}`).toString('base64')}` },
      { authorization: `Bearer ${good},${good}` },
    ];
    for (const headers of unauthorized) {
      const res = await call(route, headers);
      expect({ headers, status: res.status, body: res.body }).toEqual({ headers, status: 401, body: { error: 'missing or invalid bearer token' } });
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="smart-router"');
    }
    expect(others.length).toBeGreaterThan(0);
    for (const other of others) {
      const wrongScope = await call(route, bearer(other));
      expect({ other, status: wrongScope.status, body: wrongScope.body }).toEqual({ other, status: 403, body: { error: `this token lacks the ${scopes} scope` } });
      expect(wrongScope.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
      expect(wrongScope.text).not.toMatch(/voice-agent|live-call|pool:/);
    }
    expect(await snapshot()).toEqual(before);

    for (const token of tokens) {
      const allowed = await call(route, bearer(token));
      expect({ token, status: allowed.status }).toEqual({ token, status: ALLOWED_STATUS[route] ?? 200 });
    }
  });
});

test('an agent token drains and waits for a pod, and can do nothing else: not even drain the same pod the admin way', async () => {
  const holder = ((await http.post('/api/v1/allocate', { call_sid: 'live-call' }, bearer(ROUTING))).body as { pod_name: string }).pod_name;
  expect((await http.post('/api/v1/drain', { pod_name: holder }, bearer(AGENT))).status).toBe(403);
  expect((await http.get(`/api/v1/pod/${holder}`, bearer(AGENT))).status).toBe(403);
  expect((await store.podState(holder))?.draining).toBe(false);

  const waited = await http.post(`/api/v1/pod/${holder}/wait-idle?timeout=0`, {}, bearer(AGENT));
  expect(waited.status).toBe(408);
  expect(waited.body).toMatchObject({ pod_name: holder, idle: false, draining: true, active_calls: 1 });
  expect((await store.podState(holder))?.draining).toBe(true);
  // Released, the pod answers idle at once.
  await http.post('/api/v1/release', { call_sid: 'live-call' }, bearer(ROUTING));
  expect((await http.post(`/api/v1/pod/${holder}/wait-idle?timeout=0`, {}, bearer(AGENT))).body).toMatchObject({ pod_name: holder, idle: true, active_calls: 0 });
});

test('an unknown /api/v1 route is refused as admin before it is found: 401 rather than a 404 that confirms it', async () => {
  expect((await http.get('/api/v1/calls')).status).toBe(401);
  expect((await http.get('/api/v1/calls', bearer(ROUTING))).status).toBe(403);
  expect((await http.get('/api/v1/calls', bearer(AGENT))).status).toBe(403);
  expect((await http.get('/api/v1/calls', bearer(ADMIN))).status).toBe(404);
});

test('a call route under another spelling Express also matches (trailing slash, capitals) needs what its spelling needs: admin', async () => {
  for (const path of ['/api/v1/allocate/', '/api/v1/ALLOCATE', '/API/v1/release/']) {
    expect((await http.post(path, { call_sid: 'spelled-call' })).status).toBe(401);
    expect((await http.post(path, { call_sid: 'spelled-call' }, bearer(ROUTING))).status).toBe(403);
  }
  expect((await http.post('/api/v1/allocate/', { call_sid: 'spelled-call' }, bearer(ADMIN))).status).toBe(200);
  expect((await http.post('/API/v1/release/', { call_sid: 'spelled-call' }, bearer(ADMIN))).status).toBe(200);
});

test('open routes answer without a token', async () => {
  expect((await http.get('/health')).text).toBe('healthy');
  expect((await http.get('/api/v1/health')).text).toBe('healthy');
  expect((await http.get('/ready')).text).toBe('ready');
  expect((await http.get('/api/v1/ready')).text).toBe('ready');
  expect((await http.get('/metrics')).status).toBe(200);
  expect((await http.get('/api/v1/openapi.json')).body.openapi).toBe('3.1.0');
});

test('an unauthenticated body is never read: a refused upload gets its answer before it is sent in full', async () => {
  const { request } = await import('node:http');
  const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(`${http.url}/api/v1/drain`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '10000' } }, (r) => {
      let body = '';
      r.on('data', (d: Buffer) => (body += d.toString()));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.write('{"pod_name": "voice-agent-1"'); // the rest never comes
  });
  expect(res).toEqual({ status: 401, body: JSON.stringify({ error: 'missing or invalid bearer token' }) });
});

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met within 10 s');
}

test('a token added to its file is accepted without a restart, and stops working when removed', async () => {
  const next = 'admin-next-0123456789abcdef';
  const status = (token: string) => http.get('/api/v1/status', bearer(token)).then((r) => r.status);
  expect(await status(next)).toBe(401);

  writeFileSync(join(dir, 'admin'), `${ADMIN}\n${next}\n`); // both valid during the rotation
  await waitFor(async () => (await status(next)) === 200);
  expect(await status(ADMIN)).toBe(200);

  writeFileSync(join(dir, 'admin'), `${next}\n`); // the old one retired
  await waitFor(async () => (await status(ADMIN)) === 401);
  expect(await status(next)).toBe(200);

  rmSync(join(dir, 'admin')); // no admin file: admin routes refuse everyone, never fall back to open
  await waitFor(async () => (await status(next)) === 401);
  expect((await http.post('/api/v1/allocate', { call_sid: 'still-routing' }, bearer(ROUTING))).status).toBe(200);
});

test('a Kubernetes-style Secret update (a new directory swapped in by symlink) is picked up', async () => {
  const { mkdirSync, symlinkSync, renameSync } = await import('node:fs');
  const root = mkdtempSync(join(tmpdir(), 'smart-router-secret-'));
  const version = (n: number, token: string) => {
    mkdirSync(join(root, `..v${n}`));
    writeFileSync(join(root, `..v${n}`, 'admin'), `${token}\n`);
    symlinkSync(`..v${n}`, join(root, `..tmp`));
    renameSync(join(root, '..tmp'), join(root, '..data'));
  };
  version(1, 'first-admin-token-000000');
  symlinkSync('..data/admin', join(root, 'admin'));
  const mounted = Credentials.open({ tokensDir: root, reloadMs: 100 }, silentLogger());
  try {
    expect([...mounted.scopesOf('first-admin-token-000000')]).toEqual(['admin']);
    version(2, 'second-admin-token-00000');
    await waitFor(async () => mounted.scopesOf('second-admin-token-00000').has('admin'));
    expect(mounted.scopesOf('first-admin-token-000000').size).toBe(0);
  } finally {
    mounted.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a directory that does not exist stops the start with a message naming the variable', () => {
  expect(() => Credentials.open({ tokensDir: join(dir, 'missing'), reloadMs: 100 }, silentLogger())).toThrow(/^AUTH_TOKENS_DIR .*missing is not a readable directory$/);
});

test('API_TOKEN alone holds every scope, and the files add to it', () => {
  const legacy = Credentials.open({ legacyToken: 'legacy-token', tokensDir: dir, reloadMs: 100 }, silentLogger());
  try {
    expect([...legacy.scopesOf('legacy-token')].sort()).toEqual(['admin', 'agent', 'routing']);
    expect([...legacy.scopesOf(ROUTING)]).toEqual(['routing']);
    expect(legacy.scopesOf('legacy-tokeN').size).toBe(0);
  } finally {
    legacy.close();
  }
});
