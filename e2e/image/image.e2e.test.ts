// The image `make image` builds, run as the chart runs it: non-root, read-only
// root filesystem, every capability dropped, no privilege escalation.
// Standalone against a local Redis, and operator mode against the local
// control plane with a mounted kubeconfig; allocating and releasing through
// the running container in both.
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../core/paths.js';
import { freePort } from '../../tools/local-redis.js';
import { testRedisUrl } from '../../test/support/routing.js';
import { deployExampleFleet, exampleFleetAssigned, kubectl, operatorEnv, waitFor, waitForLabels, type OperatorEnv } from '../operator/support.js';

const run = promisify(execFile);
const IMAGE = process.env.SMART_ROUTER_IMAGE ?? 'localhost/smart-router:dev';
const podmanEnv = { ...process.env, CONTAINERS_CONF: join(packageRoot, 'hack', 'containers.conf') };
const podman = async (args: string[]) => (await run('podman', ['--runtime', 'runc', ...args], { env: podmanEnv, maxBuffer: 16 * 1024 * 1024 })).stdout.trim();

/** The chart's securityContext, as podman flags. */
const HARDENED = ['--user', '65532:65532', '--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--network', 'host'];

interface Container { name: string; url: string; startupMs: number; logs(): Promise<string>; stop(): Promise<void> }

async function runContainer(name: string, port: number, env: Record<string, string>, mounts: string[], args: string[]): Promise<Container> {
  await podman(['rm', '-f', name]).catch(() => undefined);
  const started = Date.now();
  const child = spawn('podman', ['--runtime', 'runc', 'run', '--rm', '--name', name, ...HARDENED, ...mounts.flatMap((m) => ['-v', m]), ...Object.entries({ ...env, PORT: String(port), HOST: '127.0.0.1' }).flatMap(([k, v]) => ['-e', `${k}=${v}`]), IMAGE, ...args], { env: podmanEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${name} ready`, async () => {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${output}`);
    return (await fetch(`${url}/ready`).catch(() => undefined))?.status === 200;
  }, 120_000, 100);
  const startupMs = Date.now() - started;
  return {
    name,
    url,
    startupMs,
    logs: async () => output,
    stop: async () => {
      await podman(['stop', '-t', '10', name]).catch(() => undefined);
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    },
  };
}

async function post(url: string, body: unknown): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

beforeAll(async () => {
  const images = await podman(['images', '--format', '{{.Repository}}:{{.Tag}}']).catch((e: Error) => {
    throw new Error(`podman is not usable (run "make image"): ${e.message}`);
  });
  if (!images.split('\n').includes(IMAGE)) throw new Error(`${IMAGE} is missing: "make image" builds it (make test does)`);
}, 60_000);

test('the image runs as uid 65532 and reports its version', async () => {
  const version = await podman(['run', '--rm', ...HARDENED, IMAGE, '--version']);
  expect(version).toMatch(/^\d+\.\d+\.\d+$/);
  const inspect = JSON.parse(await podman(['image', 'inspect', IMAGE])) as Array<{ Config: { User: string }; Size: number }>;
  expect(inspect[0]?.Config.User).toBe('65532:65532');
  process.stdout.write(`image ${IMAGE}: ${(inspect[0]!.Size / 1e6).toFixed(1)} MB\n`);
}, 120_000);

test('standalone in the container: allocate and release through it, against a local Redis', async () => {
  const port = await freePort();
  const router = await runContainer(`sr-e2e-standalone-${process.pid}`, port, { REDIS_URL: testRedisUrl(), KEY_PREFIX: `image-${process.pid}`, LOG_LEVEL: 'info' }, [`${join(packageRoot, 'examples', 'pools.yaml')}:/config/pools.yaml:ro`], ['standalone', '--config', '/config/pools.yaml']);
  try {
    process.stdout.write(`standalone container ready in ${router.startupMs} ms (podman run to /ready 200)\n`);
    const allocated = await post(`${router.url}/api/v1/allocate`, { call_sid: 'image-call-1' });
    expect(allocated).toMatchObject({ status: 200, body: { success: true, source_pool: 'pool:standard', was_existing: false } });
    const released = await post(`${router.url}/api/v1/release`, { call_sid: 'image-call-1' });
    expect(released).toMatchObject({ status: 200, body: { success: true, pod_name: allocated.body.pod_name } });
    expect((await fetch(`${router.url}/metrics`)).status).toBe(200);
  } finally {
    await router.stop();
  }
  expect(await router.logs()).not.toMatch(/EROFS|EACCES|permission denied/i);
}, 180_000);

describe('operator mode in the container', () => {
  let env: OperatorEnv;
  beforeAll(async () => {
    env = await operatorEnv('e2e-image');
    await deployExampleFleet(env.namespace);
  }, 120_000);
  afterAll(async () => {
    await env?.teardown();
  }, 60_000);

  test('with a mounted kubeconfig it labels pods, then allocates and releases through the container', async () => {
    // Self-contained (certificates inline), readable by uid 65532: as a Secret would mount it.
    const kubeconfig = join(mkdtempSync(join(tmpdir(), 'image-kubeconfig-')), 'config');
    writeFileSync(kubeconfig, await kubectl(['config', 'view', '--raw', '--flatten', '--minify']));
    chmodSync(kubeconfig, 0o644);
    const port = await freePort();
    const router = await runContainer(
      `sr-e2e-operator-${process.pid}`,
      port,
      { REDIS_URL: testRedisUrl(), KEY_PREFIX: env.prefix, LEASE_DURATION_SECONDS: '4', RENEW_DEADLINE_SECONDS: '3', RETRY_PERIOD_SECONDS: '1', RESYNC_SECONDS: '2' },
      [`${kubeconfig}:/kube/config:ro`],
      ['operator', '--kubeconfig', '/kube/config', '--namespace', env.namespace],
    );
    try {
      process.stdout.write(`operator container ready in ${router.startupMs} ms (podman run to /ready 200)\n`);
      await waitForLabels(env.namespace, 'pools assigned by the container', exampleFleetAssigned, 120_000);
      const allocated = await waitFor('an allocation through the container', async () => {
        const r = await post(`${router.url}/api/v1/allocate`, { call_sid: 'image-op-call' });
        return r.status === 200 ? r : undefined;
      });
      expect(allocated.body).toMatchObject({ success: true, source_pool: 'pool:standard' });
      expect(await post(`${router.url}/api/v1/release`, { call_sid: 'image-op-call' })).toMatchObject({ status: 200, body: { success: true } });
      expect((await (await fetch(`${router.url}/api/v1/status`)).json()) as { is_leader: boolean }).toMatchObject({ is_leader: true });
    } finally {
      await router.stop();
    }
  }, 240_000);
});
