// A benchmark server in its own process, started and awaited until it
// answers /health: one of bench/servers.ts, or the real CLI (dist/cli/main.js)
// in standalone mode over a pools file, exactly as production starts it.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../core/paths.js';
import { freePort } from '../tools/local-redis.js';

export interface Server {
  url: string;
  child: ChildProcess;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Flags for node itself, e.g. --cpu-prof. */
  nodeArgs?: string[];
}

export async function startServer(args: string[], env: Record<string, string> = {}, options: StartOptions = {}): Promise<Server> {
  const port = await freePort();
  const [mode, redisUrl, ...rest] = args;
  return spawnAndWait(mode as string, [join(packageRoot, 'dist/bench/servers.js'), mode as string, redisUrl as string, String(port), ...rest], port, { ...options, env: { ...env, ...options.env } });
}

/**
 * The router as `smart-router standalone` runs it: the CLI, its config from
 * the environment (production defaults: info logs, shedding on, no tracing,
 * no credentials), over `poolsFile`.
 */
export async function startStandalone(redisUrl: string, poolsFile: string, options: StartOptions = {}): Promise<Server> {
  const port = await freePort();
  const env = { LOG_LEVEL: 'info', ...options.env };
  const redis = redisUrl ? ['--redis-url', redisUrl] : []; // '': Redis is named in options.env (REDIS_SENTINELS ...)
  return spawnAndWait('standalone', [join(packageRoot, 'dist/cli/main.js'), 'standalone', '--config', poolsFile, '--port', String(port), ...redis], port, { ...options, env });
}

async function spawnAndWait(label: string, argv: string[], port: number, options: StartOptions): Promise<Server> {
  const env = { ...process.env, ...options.env };
  delete env.API_TOKEN;
  delete env.AUTH_TOKENS_DIR;
  // stdout goes where a container runtime would send it, not into this
  // process: reading the router's call logs here would slow the load generator.
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...argv], { stdio: ['ignore', 'ignore', 'inherit'], env });
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`${label} server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 1200) throw new Error(`${label} server did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `http://127.0.0.1:${port}`, child };
}

/** Stops a server with SIGTERM and waits for it to exit (a --cpu-prof profile is written on exit). */
export function stopServer(server: Server): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    server.child.once('exit', () => resolve());
    server.child.kill('SIGTERM');
  });
}

/** A pools file for standalone mode: one exclusive pool "standard" of `pods` pods. */
export function writeExclusivePoolsFile(file: string, pods: number): void {
  const out = ['apiVersion: smartrouter.io/v1alpha1', 'kind: VoiceAgentPool', 'metadata: { name: standard }', 'spec:', '  tier: standard', '  exclusive: true', '  capacity: 1', `  replicas: ${pods}`, '  priority: 0', '  selector: { matchLabels: { app: voice-agent } }'];
  for (let i = 0; i < pods; i++) out.push('---', 'apiVersion: v1', 'kind: Pod', `metadata: { name: voice-agent-${i}, labels: { app: voice-agent } }`);
  writeFileSync(file, out.join('\n') + '\n');
}

let clockTicks: number | undefined;

/** CPU seconds (user + system, every thread) a process has used so far, from /proc. */
export function cpuSecondsOf(pid: number): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

/** The machine's 1-minute load average, for the record beside every timed figure. */
export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}
