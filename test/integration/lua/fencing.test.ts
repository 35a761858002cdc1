// Fencing: once a replica takes the Lease and begins its term, every operator
// write of an earlier leader is refused by the script itself, so a leader
// frozen between its lease check and its write cannot land a stale write.
import type { Redis } from 'ioredis';
import { FencedWriteError, RoutingStore } from '../../../lua/routing-store.js';
import { isolatedStore, pool, sharedTestRedis } from '../../support/routing.js';

const redis: Redis = sharedTestRedis();
let oldLeader: RoutingStore;
let newLeader: RoutingStore;

const member = (name: string) => ({ pod: name, ready: true, draining: false, incarnation: 'uid:0' });

async function dump(s: RoutingStore): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of (await redis.keys(`${s.keys.base}*`)).sort()) {
    const type = await redis.type(key);
    out[key] = type === 'hash' ? await redis.hgetall(key) : type === 'set' ? (await redis.smembers(key)).sort() : type === 'zset' ? await redis.call('ZRANGE', key, '0', '-1', 'WITHSCORES') : await redis.get(key);
  }
  return out;
}

beforeEach(async () => {
  oldLeader = isolatedStore(redis);
  // Another replica of the same installation: same prefix, its own term.
  newLeader = new RoutingStore(redis, oldLeader.keys.base.slice(1, -2));
  expect(await oldLeader.beginTerm(0)).toBe(1);
  await oldLeader.syncPool(pool('p', { capacity: 2 }), [member('a'), member('b')]);
  const version = (await oldLeader.poolsSnapshot()).version;
  expect(await oldLeader.allocate('x', ['p'], version)).toMatchObject({ kind: 'allocated' });
  await redis.zadd(oldLeader.keys.deadlines, 0, 'x'); // due for reaping
  expect(await newLeader.beginTerm(1)).toBe(2);
});

test.each([
  ['sync-pool', (s: RoutingStore) => s.syncPool(pool('p', { capacity: 5 }), [member('a')])],
  ['delete-pool', (s: RoutingStore) => s.deletePool('p')],
  ['remove-pod', (s: RoutingStore) => s.removePod('a')],
  ['set-pod-ready', (s: RoutingStore) => s.setReady('a', false)],
  ['drain-pod (undrain)', (s: RoutingStore) => s.setDraining('a', false)],
  ['reap-expired', (s: RoutingStore) => s.reapExpired()],
  ['recount-pool', (s: RoutingStore) => s.recountPool('p')],
])('%s of a former leader is refused and changes nothing', async (_name, write) => {
  const before = await dump(oldLeader);
  await expect(write(oldLeader)).rejects.toThrow(FencedWriteError);
  await expect(write(oldLeader)).rejects.toThrow('FENCED write of leader term 1 refused: term 2 has taken over');
  expect(await dump(oldLeader)).toEqual(before);
  // The leader now in office writes.
  await expect(write(newLeader)).resolves.toBeDefined();
});

test('a drain is never refused: it only stops new calls, and any replica may write it', async () => {
  expect(await oldLeader.setDraining('a', true)).toEqual({ pool: 'p', calls: expect.any(Number), wasDraining: false });
  expect((await oldLeader.podState('a'))?.draining).toBe(true);
});

test('a term lost with a flush is restored by the leader in office, and still outranks the one before', async () => {
  await redis.del(oldLeader.keys.leaderTerm);
  // While the key is missing nothing can be compared; the next write of the leader in office records its term again.
  await newLeader.setReady('b', true);
  expect(await redis.get(newLeader.keys.leaderTerm)).toBe('2');
  await expect(oldLeader.setReady('b', true)).rejects.toThrow(FencedWriteError);
  // A replica taking over after a flush outranks every earlier leader through the Lease's transitions.
  await redis.del(oldLeader.keys.leaderTerm);
  const third = new RoutingStore(redis, oldLeader.keys.base.slice(1, -2));
  expect(await third.beginTerm(2)).toBe(3);
  await expect(newLeader.setReady('b', true)).rejects.toThrow(FencedWriteError);
});

test('standalone mode has no leader: its writes carry term 0 and pass while no term is recorded', async () => {
  const standalone = isolatedStore(redis);
  await standalone.syncPool(pool('p', {}), [member('a')]);
  expect(await standalone.setReady('a', false)).toBe(true);
  expect(await redis.exists(standalone.keys.leaderTerm)).toBe(0);
});
