// make profile: where the router's CPU goes per allocate+release pair.
// Runs the real CLI (standalone, info logs, production defaults) under
// `node --cpu-prof` with the benchmark's closed-loop load, then writes, for
// the measured window only:
//   <out>.txt        server CPU per pair (from /proc) and the top self-time
//                    functions and packages in µs per pair
//   <out>.collapsed  collapsed stacks (µs), for any flame-graph tool
//   <out>.svg        a flame graph
// Environment: PROFILE_OUT (default docs/perf/router), PROFILE_SECONDS (10),
// PROFILE_CONNECTIONS (16), PROFILE_PODS (1000), PROFILE_INTERVAL_US (250),
// PROFILE_TARGET (router, or floor: the bare Express baseline of bench/servers.ts).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { launchRedis } from '../tools/local-redis.js';
import { callTree, categoryOf, collapsed, scaleTree, flameGraphSvg, selfTimes, type CpuProfile } from './cpu-profile.js';
import { closedLoop, httpClient } from './load.js';
import { cpuSecondsOf, loadAverage, startServer, startStandalone, stopServer, writeExclusivePoolsFile } from './server-process.js';
import { runBench } from './bench-main.js';

const OUT = process.env.PROFILE_OUT ?? 'docs/perf/router';
const SECONDS = Number(process.env.PROFILE_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.PROFILE_CONNECTIONS ?? 16);
const PODS = Number(process.env.PROFILE_PODS ?? 1000);
const INTERVAL_US = Number(process.env.PROFILE_INTERVAL_US ?? 250);
const FLOOR = process.env.PROFILE_TARGET === 'floor';

const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const paths = FLOOR ? { allocate: '/allocate', release: '/release' } : { allocate: '/api/v1/allocate', release: '/api/v1/release' };

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'smart-router-profile-'));
  const redis = await launchRedis({ appendonly: false });
  try {
    const poolsFile = join(work, 'pools.yaml');
    writeExclusivePoolsFile(poolsFile, PODS);
    const nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${work}`, `--cpu-prof-interval=${INTERVAL_US}`];
    const server = FLOOR ? await startServer(['baseline', redis.url], {}, { nodeArgs }) : await startStandalone(redis.url, poolsFile, { nodeArgs });
    const client = httpClient(server.url, CONNECTIONS);
    await closedLoop(client, paths, CONNECTIONS, 2000); // warm-up: JIT, connections, script cache
    const load = loadAverage();
    const pid = server.child.pid as number;
    const cpuBefore = cpuSecondsOf(pid);
    const fromUs = nowUs();
    const run = await closedLoop(client, paths, CONNECTIONS, SECONDS * 1000);
    const toUs = nowUs();
    const cpu = cpuSecondsOf(pid) - cpuBefore;
    client.close();
    await stopServer(server);

    const file = readdirSync(work).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no .cpuprofile written in ${work}`);
    const profile = JSON.parse(readFileSync(join(work, file), 'utf8')) as CpuProfile;
    const pairs = Math.round(run.pairsPerSecond * ((toUs - fromUs) / 1e6));
    // Samples, not wall time (see callTree), scaled to the CPU the process used, from /proc.
    const tree = callTree(profile, fromUs, toUs, 'samples');
    const cpuUsPerPair = (cpu / pairs) * 1e6;
    const samples = tree.totalUs;
    scaleTree(tree, (cpu * 1e6) / samples);
    const per = (us: number) => (us / pairs).toFixed(1).padStart(7);
    const lines = [
      `${FLOOR ? 'floor (bare Express + one EVALSHA)' : 'router'} CPU profile: ${SECONDS} s closed loop, ${CONNECTIONS} connections, exclusive pool of ${PODS} pods, LOG_LEVEL=info, node ${process.version}, load average ${load}`,
      `${pairs} pairs (${run.pairsPerSecond.toFixed(0)}/s, ${run.errors} failed); server CPU (all threads, /proc) ${cpuUsPerPair.toFixed(1)} µs per pair, spread over the ${samples} busy samples of the main thread (${INTERVAL_US} µs interval) in proportion`,
      '',
      'self time by category, µs per pair:',
      ...selfTimes(tree, categoryOf).map((s) => `${per(s.us)}  ${s.key}`),
      '',
      'self time by package or module, µs per pair:',
      ...selfTimes(tree, (f) => f.where)
        .slice(0, 25)
        .map((s) => `${per(s.us)}  ${s.key}`),
      '',
      'self time by function, µs per pair (top 40):',
      ...selfTimes(tree, (f) => `${f.name} [${f.where}]`)
        .slice(0, 40)
        .map((s) => `${per(s.us)}  ${s.key}`),
    ];
    mkdirSync(dirname(OUT), { recursive: true });
    writeFileSync(`${OUT}.txt`, lines.join('\n') + '\n');
    writeFileSync(`${OUT}.collapsed`, collapsed(tree));
    writeFileSync(`${OUT}.svg`, flameGraphSvg(tree, { title: `${FLOOR ? 'floor: bare Express 5 + express.json() + one EVALSHA' : 'smart-router'}, allocate+release at LOG_LEVEL=info: ${cpuUsPerPair.toFixed(0)} µs CPU per pair (load average ${load})`, perUnit: pairs, unitLabel: 'µs per pair', minWidthPx: 1 }));
    console.log(lines.join('\n'));
    console.log(`\nwrote ${OUT}.txt, ${OUT}.collapsed, ${OUT}.svg`);
  } finally {
    await redis.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}

runBench(main);
