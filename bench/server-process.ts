// A benchmark server (bench/servers.ts) in its own process, started and
// awaited until it answers /health.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../core/paths.js';
import { freePort } from '../tools/local-redis.js';

export interface Server {
  url: string;
  child: ChildProcess;
}

export async function startServer(args: string[], env: Record<string, string> = {}): Promise<Server> {
  const port = await freePort();
  const [mode, redisUrl, ...rest] = args;
  // stdout goes where a container runtime would send it, not into this
  // process: reading the router's call logs here would slow the load generator.
  const child = spawn(process.execPath, [join(packageRoot, 'dist/bench/servers.js'), mode as string, redisUrl as string, String(port), ...rest], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, ...env },
  });
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`${mode} server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 600) throw new Error(`${mode} server did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `http://127.0.0.1:${port}`, child };
}

