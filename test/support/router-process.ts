import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../core/paths.js';
import { freePort } from '../../tools/local-redis.js';

export interface RouterProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const MAIN = join(packageRoot, 'dist', 'cli', 'main.js');

/**
 * Tests read their own writes through /api/v1/status right after making
 * them, so the status cache is off unless a test turns it on.
 */
const TEST_DEFAULTS = { HOST: '127.0.0.1', LOG_LEVEL: 'warn', STATUS_CACHE_MS: '0' };

/** Spawns the built router on a free port, collecting everything it prints. */
async function spawnRouter(args: string[], env: Record<string, string>): Promise<{ child: ChildProcess; port: number; output(): string }> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" (make test does) before these tests`);
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN, ...args, '--port', String(port)], {
    env: { ...process.env, ...TEST_DEFAULTS, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return { child, port, output: () => output };
}

/** Starts the built router (`dist/cli/main.js`) as its own process and waits until it is ready. */
export async function startRouterProcess(args: string[], env: Record<string, string>): Promise<RouterProcess> {
  const { child, port, output } = await spawnRouter(args, env);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`router exited with ${child.exitCode}:\n${output()}`);
    try {
      if ((await fetch(`${url}/ready`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (i > 300) {
      child.kill('SIGKILL');
      throw new Error(`router not ready after 30 s:\n${output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    output,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      }),
  };
}

/** Runs the built router until it exits by itself (a refused start); returns its exit code and output. */
export async function runRouterToExit(args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<{ code: number | null; output: string }> {
  const { child, output } = await spawnRouter(args, env);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, output: output() };
}
