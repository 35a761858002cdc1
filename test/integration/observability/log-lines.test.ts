// The process's log lines are written in batches (one write per turn of the
// event loop): every line still comes out whole, in order, and none is lost
// when the process exits, however it exits.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../../core/paths.js';

const LOGGER = join(packageRoot, 'dist', 'core', 'logger.js');

/** Runs `body` in a fresh Node process with `logger` from the built module; its stdout lines, parsed. */
function run(body: string): { lines: Record<string, unknown>[]; status: number | null } {
  if (!existsSync(LOGGER)) throw new Error(`${LOGGER} is missing: run "npm run build" first`);
  const script = `import { createLogger } from ${JSON.stringify(LOGGER)};\nconst logger = createLogger('info', { mode: 'test' });\n${body}`;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return { lines: out.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>), status: out.status };
}

test('lines written across turns of the event loop come out whole and in order', () => {
  const { lines } = run(`
    for (let i = 0; i < 500; i++) {
      logger.child({ component: 'allocator' }).info('call allocated', { call_sid: 'CA' + i, n: i });
      if (i % 7 === 0) await new Promise((r) => setImmediate(r));
    }`);
  expect(lines.map((l) => l.n)).toEqual(Array.from({ length: 500 }, (_, i) => i));
  expect(lines[0]).toMatchObject({ call_sid: 'CA0', component: 'allocator', level: 'info', message: 'call allocated', mode: 'test', service: 'smart-router' });
});

test('a process.exit right after logging loses no line', () => {
  const { lines, status } = run(`for (let i = 0; i < 100; i++) logger.info('shutting down', { n: i }); process.exit(3);`);
  expect(status).toBe(3);
  expect(lines).toHaveLength(100);
});

test('an uncaught exception right after logging loses no line', () => {
  const { lines, status } = run(`logger.error('about to fail', { call_sid: 'CA1' }); throw new Error('boom');`);
  expect(status).toBe(1);
  expect(lines).toEqual([expect.objectContaining({ message: 'about to fail', level: 'error', call_sid: 'CA1' })]);
});
