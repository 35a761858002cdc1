// The built router as its own process: it warns on every start without
// credentials, and a token directory that cannot be read stops it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../../core/paths.js';
import { startRouterProcess } from '../../support/router-process.js';
import { testRedisUrl } from '../../support/routing.js';

const POOLS = join(packageRoot, 'examples', 'pools.yaml');
const env = () => ({ REDIS_URL: testRedisUrl(), KEY_PREFIX: `auth-${process.pid}`, TELEPHONY_VERIFY_SIGNATURES: 'false' });

test('a start without credentials logs a warning that says the API is open', async () => {
  const router = await startRouterProcess(['standalone', '--config', POOLS], env());
  try {
    const warning = router
      .output()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { level: string; message: string })
      .find((entry) => entry.message.startsWith('no API credentials configured'));
    expect(warning?.level).toBe('warn');
    expect((await fetch(`${router.url}/api/v1/status`)).status).toBe(200);
  } finally {
    await router.stop();
  }
}, 60_000);

test('with a token directory the process enforces it, and says nothing about an open API', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smart-router-tokens-'));
  writeFileSync(join(dir, 'admin'), 'process-admin-token-0123\n');
  const router = await startRouterProcess(['standalone', '--config', POOLS], { ...env(), AUTH_TOKENS_DIR: dir });
  try {
    expect(router.output()).not.toContain('no API credentials configured');
    expect((await fetch(`${router.url}/api/v1/status`)).status).toBe(401);
    expect((await fetch(`${router.url}/api/v1/status`, { headers: { authorization: 'Bearer process-admin-token-0123' } })).status).toBe(200);
    // No routing file: routing routes refuse everyone rather than fall back to open.
    expect((await fetch(`${router.url}/api/v1/allocate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"call_sid":"x"}' })).status).toBe(401);
  } finally {
    await router.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

test('a token directory that does not exist stops the process, naming the variable', () => {
  const result = spawnSync(process.execPath, [join(packageRoot, 'dist', 'cli', 'main.js'), 'standalone', '--config', POOLS], {
    env: { ...process.env, ...env(), AUTH_TOKENS_DIR: '/nonexistent/tokens' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(result.status).toBe(2);
  expect(result.stderr).toContain('AUTH_TOKENS_DIR /nonexistent/tokens is not a readable directory');
});
