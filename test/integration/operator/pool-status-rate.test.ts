// The status write rate against a real Redis, with an in-memory fleet in place
// of the informer caches and a clock the test moves: minutes of steady call
// traffic in 50 pools run in no time, and the status writes are counted.
import type { RoutingStore } from '../../../lua/routing-store.js';
import { FakeFleet, fakeFleetReconciler } from '../../support/fake-fleet.js';
import { isolatedStore, sharedTestRedis } from '../../support/routing.js';

const redis = sharedTestRedis();
let store: RoutingStore;
let fleet: FakeFleet;
beforeEach(() => {
  store = isolatedStore(redis);
  fleet = new FakeFleet();
});

const POOLS = 50;
const poolNames = Array.from({ length: POOLS }, (_, i) => `pool-${i}`);

/**
 * `minutes` of traffic: every second, `callsPerPoolSecond` calls start in each
 * pool and those of the second before end (the counts of every pool change
 * every second), then a resync runs; returns the status writes made meanwhile.
 */
async function steadyTraffic(opts: { minutes: number; callsPerPoolSecond: number; statusCountsIntervalMs: number; statusCountWritesPerMinute: number }) {
  for (const name of poolNames) fleet.addPool(name, { replicas: 2, capacity: 50 });
  for (let i = 0; i < POOLS * 2; i++) fleet.addPod(`agent-${i}`);
  let clock = 1_000_000;
  const { run } = fakeFleetReconciler(fleet, store, { statusCountsIntervalMs: opts.statusCountsIntervalMs, statusCountWritesPerMinute: opts.statusCountWritesPerMinute, now: () => clock });
  await run();
  const before = fleet.statusWrites.length;
  let previous: string[] = [];
  let callChanges = 0;
  const version = await store.poolsVersion();
  for (let second = 0; second < opts.minutes * 60; second++) {
    // Alternate seconds end one call more than they start, so the counts never settle.
    const count = opts.callsPerPoolSecond + (second % 2);
    const started = poolNames.flatMap((pool) => Array.from({ length: count }, (_, c) => ({ pool, sid: `${pool}-${second}-${c}` })));
    const results = await Promise.all(started.map(({ pool, sid }) => store.allocate(sid, [pool], version)));
    expect(results.every((r) => r.kind === 'allocated')).toBe(true);
    await Promise.all(previous.map((sid) => store.release(sid)));
    callChanges += started.length + previous.length;
    previous = started.map((c) => c.sid);
    clock += 1000;
    await run();
  }
  const writes = fleet.statusWrites.slice(before);
  return { writes, callChanges };
}

describe('pool status under steady call traffic', () => {
  test('status writes stay within the budget per minute, whatever the call rate, and every pool gets its turn', async () => {
    const { writes, callChanges } = await steadyTraffic({ minutes: 2, callsPerPoolSecond: 2, statusCountsIntervalMs: 1000, statusCountWritesPerMinute: 60 });

    // At most 60 in any minute: 120 over two; the calls changed the counts about 30,000 times.
    expect(callChanges).toBeGreaterThan(29_000);
    expect(writes.length).toBeLessThanOrEqual(120);
    // Oldest status first: each of the 50 pools had its counts written, not the same few again and again.
    expect(new Set(writes.map((w) => w.pool)).size).toBe(POOLS);
    // Only the call counts moved: nothing else waited behind the budget.
    expect(writes.every((w) => (w.status as { pods: number }).pods === 2)).toBe(true);
  }, 120_000);

  test('a change of pods in a pool is written at once even when the budget is spent', async () => {
    const { writes } = await steadyTraffic({ minutes: 1, callsPerPoolSecond: 1, statusCountsIntervalMs: 1000, statusCountWritesPerMinute: 5 });
    expect(writes.length).toBeLessThanOrEqual(5);
    const before = fleet.statusWrites.length;
    fleet.deletePod('agent-0');
    const { run } = fakeFleetReconciler(fleet, store, { statusCountsIntervalMs: 1000, statusCountWritesPerMinute: 5, now: () => 2_000_000 });
    await run();
    const afterDeletion = fleet.statusWrites.slice(before);
    expect(afterDeletion.length).toBeGreaterThan(0);
    expect(afterDeletion.some((w) => (w.status as { pods: number }).pods !== 2)).toBe(true);
  }, 120_000);
});
