// The Lua scripts through the typed facade, against a real redis-server.
import { CallReaper } from '../../../lua/call-reaper.js';
import { RoutingStore } from '../../../lua/routing-store.js';
import { silentLogger } from '../../../core/logger.js';
import type { Pool } from '../../../core/pool-types.js';
import { isolatedStore, pool, sharedTestRedis } from '../../support/routing.js';

const redis = sharedTestRedis();
let store: RoutingStore;

beforeEach(() => {
  store = isolatedStore(redis);
});

const member = (name: string, extra: Partial<{ ready: boolean; draining: boolean; incarnation: string }> = {}) => ({
  pod: name,
  ready: true,
  draining: false,
  incarnation: '',
  ...extra,
});

async function version(): Promise<string> {
  return (await store.poolsSnapshot()).version;
}

async function allocate(sid: string, route: string[], merchant = '') {
  return store.allocate(sid, route, await version(), merchant);
}

async function keysOf(s: RoutingStore): Promise<string[]> {
  return (await redis.keys(`${s.keys.base}*`)).sort();
}

async function dump(s: RoutingStore): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of await keysOf(s)) {
    const type = await redis.type(key);
    if (type === 'hash') out[key] = await redis.hgetall(key);
    else if (type === 'set') out[key] = (await redis.smembers(key)).sort();
    else if (type === 'zset') out[key] = await redis.zrange(key, '0', '-1', 'WITHSCORES');
    else out[key] = await redis.get(key);
  }
  return out;
}

describe('deadlines and abandoned attempts', () => {
  const redisNowMs = async () => {
    const [s, us] = (await redis.time()) as unknown as [string, string];
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  };

  test('an allocate Redis runs after its deadline (Redis time) takes nothing, not even for a known call', async () => {
    await store.syncPool(pool('p', { capacity: 1 }), [member('a')]);
    const before = await dump(store);
    const late = await store.allocate('x', ['p'], await version(), '', { deadlineRedisMs: (await redisNowMs()) - 1, token: 't1' });
    expect(late).toEqual({ kind: 'late' });
    expect(await dump(store)).toEqual(before);
    const inTime = await store.allocate('x', ['p'], await version(), '', { deadlineRedisMs: (await redisNowMs()) + 60_000, token: 't2' });
    expect(inTime).toMatchObject({ kind: 'allocated', pod: 'a' });
  });

  test('abandon undoes exactly the attempt that took the slot, and leaves no tombstone', async () => {
    await store.syncPool(pool('p', { capacity: 1 }), [member('a')]);
    const before = await dump(store);
    const deadline = (await redisNowMs()) + 60_000;
    expect(await store.allocate('x', ['p'], await version(), '', { deadlineRedisMs: deadline, token: 'mine' })).toMatchObject({ kind: 'allocated' });
    expect(await store.abandon('x', 'someone-else')).toBe(false);
    expect(await store.call('x')).not.toBeNull();
    expect(await store.abandon('x', 'mine')).toBe(true);
    expect(await dump(store)).toEqual(before);
    expect(await store.endedCall('x')).toBeNull();
    // The call is not over: its retry is served.
    expect(await store.allocate('x', ['p'], await version(), '', { deadlineRedisMs: deadline, token: 'retry' })).toMatchObject({ kind: 'allocated' });
    expect(await store.abandon('y', 'never-sent')).toBe(false);
  });

  test('once another attempt was handed the call, no undo frees it, however late it comes', async () => {
    await store.syncPool(pool('p', { capacity: 1 }), [member('a')]);
    const deadline = (await redisNowMs()) + 60_000;
    expect(await store.allocate('x', ['p'], await version(), '', { deadlineRedisMs: deadline, token: 'first' })).toMatchObject({ kind: 'allocated' });
    // A retry (the first answer was lost) finds the call: its client now holds it.
    expect(await store.allocate('x', ['p'], await version(), '', { deadlineRedisMs: deadline, token: 'retry' })).toMatchObject({ kind: 'existing' });
    expect(await store.abandon('x', 'retry')).toBe(false);
    expect(await store.abandon('x', 'first')).toBe(false);
    expect(await store.call('x')).toMatchObject({ pod: 'a' });
  });
});

describe('allocation', () => {
  test('an exclusive pod never holds two calls; a shared pod never exceeds its capacity', async () => {
    await store.syncPool(pool('ex', { capacity: 1 }), [member('a'), member('b')]);
    await store.syncPool(pool('sh', { capacity: 3 }), [member('c')]);
    const got: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await allocate(`call-${i}`, ['ex', 'sh']);
      got.push(r.kind === 'allocated' ? `${r.pool}/${r.pod}` : r.kind);
    }
    expect(got).toEqual(['ex/a', 'ex/b', 'sh/c', 'sh/c', 'sh/c', 'none']);
  });

  test('LeastLoaded spreads calls; Packed fills the fullest pod that has room', async () => {
    await store.syncPool(pool('spread', { capacity: 3 }), [member('a'), member('b')]);
    await store.syncPool(pool('packed', { capacity: 3, scheduling: 'Packed' }), [member('c'), member('d')]);
    const spread = [];
    const packed = [];
    for (let i = 0; i < 4; i++) spread.push(((await allocate(`s-${i}`, ['spread'])) as { pod: string }).pod);
    for (let i = 0; i < 4; i++) packed.push(((await allocate(`p-${i}`, ['packed'])) as { pod: string }).pod);
    expect(spread).toEqual(['a', 'b', 'a', 'b']);
    const [first] = packed;
    expect(packed).toEqual([first, first, first, first === 'c' ? 'd' : 'c']);
  });

  test('the route is tried in order: the first pool with a free slot wins', async () => {
    await store.syncPool(pool('first', {}), [member('a')]);
    await store.syncPool(pool('second', {}), [member('b')]);
    expect(await allocate('x', ['missing', 'first', 'second'])).toEqual({ kind: 'allocated', pod: 'a', pool: 'first' });
    expect(await allocate('y', ['first', 'second'])).toEqual({ kind: 'allocated', pod: 'b', pool: 'second' });
  });

  test('a route resolved from old pools is refused as stale, with the current version', async () => {
    await store.syncPool(pool('p', {}), [member('a')]);
    const old = await version();
    await store.syncPool(pool('p', { replicas: 2 }), [member('a')]);
    const outcome = await store.allocate('x', ['p'], old);
    expect(outcome).toEqual({ kind: 'stale', version: await version() });
    expect(await store.call('x')).toBeNull();
  });

  test('the same call_sid gets the same pod, even with a stale route or a full pool', async () => {
    await store.syncPool(pool('p', {}), [member('a')]);
    await allocate('x', ['p']);
    expect(await store.allocate('x', [], 'not-a-version')).toEqual({ kind: 'existing', pod: 'a', pool: 'p' });
  });

  test('a call records its pod, pool, merchant and start time', async () => {
    await store.syncPool(pool('p', {}), [member('a')]);
    const before = Date.now();
    await allocate('x', ['p'], 'm-1');
    const record = await store.call('x');
    expect(record).toMatchObject({ callSid: 'x', pod: 'a', pool: 'p', merchantId: 'm-1' });
    expect(record!.startedAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
  });
});

describe('pod state', () => {
  test('status counts busy pods and the calls left on draining pods', async () => {
    await store.syncPool(pool('p', { capacity: 2 }), [member('a'), member('b'), member('c')]);
    for (const sid of ['x', 'y', 'z']) await allocate(sid, ['p']);
    await store.release('z');
    const loaded = (await Promise.all(['a', 'b', 'c'].map((p) => store.podState(p)))).filter((p) => p && p.calls.length > 0);
    const drained = loaded[0]!;
    await store.setDraining(drained.name, true);
    expect((await store.status()).pools.p).toMatchObject({ pods: 3, busy: loaded.length, draining: 1, draining_calls: drained.calls.length, active_calls: 2, serving_slots: 4 });
    expect(loaded.length).toBeGreaterThan(0);
  });

  test('a pod that is not Ready gets no new calls but keeps its calls', async () => {
    await store.syncPool(pool('p', { capacity: 2 }), [member('a')]);
    await allocate('x', ['p']);
    expect(await store.setReady('a', false)).toBe(true);
    expect((await allocate('y', ['p'])).kind).toBe('none');
    expect((await store.podState('a'))?.calls).toEqual(['x']);
    await store.setReady('a', true);
    expect(await allocate('y', ['p'])).toMatchObject({ kind: 'allocated', pod: 'a' });
  });

  test('draining and undraining a pod unknown to routing reports null', async () => {
    expect(await store.setDraining('ghost', true)).toBeNull();
    expect(await store.setReady('ghost', true)).toBe(false);
  });

  test('a removed pod loses its calls, and every count is corrected', async () => {
    await store.syncPool(pool('p', { capacity: 3 }), [member('a'), member('b')]);
    for (const sid of ['x', 'y', 'z']) await allocate(sid, ['p']);
    const onA = (await store.podState('a'))!.calls;
    const ended = await store.removePod('a');
    expect(ended.map((c) => c.callSid).sort()).toEqual(onA);
    expect(ended.every((c) => c.pod === 'a' && c.pool === 'p')).toBe(true);
    const status = await store.status();
    expect(status.active_calls).toBe(3 - onA.length);
    expect(status.pools.p).toMatchObject({ pods: 1, active_calls: 3 - onA.length });
    expect(await store.podState('a')).toBeNull();
    for (const sid of onA) expect(await store.release(sid)).toBeNull();
    expect(await store.removePod('a')).toEqual([]);
  });

  test('a pod whose incarnation changed (restart) loses its calls; the same incarnation keeps them', async () => {
    await store.syncPool(pool('p', { capacity: 2 }), [member('a', { incarnation: 'uid1:0' })]);
    await allocate('x', ['p']);
    expect(await store.syncPool(pool('p', { capacity: 2 }), [member('a', { incarnation: 'uid1:0', ready: false })])).toEqual([]);
    expect((await store.podState('a'))!.calls).toEqual(['x']);
    const ended = await store.syncPool(pool('p', { capacity: 2 }), [member('a', { incarnation: 'uid1:1' })]);
    expect(ended).toEqual([{ callSid: 'x', pod: 'a', pool: 'p' }]);
    expect(await store.call('x')).toBeNull();
    expect((await store.status()).active_calls).toBe(0);
  });

  test('an incarnation never moves backwards: fewer restarts than recorded (a lagging cache) keep the calls and the record', async () => {
    await store.syncPool(pool('p', { capacity: 2 }), [member('a', { incarnation: 'uid1:3' })]);
    await allocate('x', ['p']);
    expect(await store.syncPool(pool('p', { capacity: 2 }), [member('a', { incarnation: 'uid1:2' })])).toEqual([]);
    expect(await store.podState('a')).toMatchObject({ incarnation: 'uid1:3', calls: ['x'] });
    // The next real restart is still seen.
    expect(await store.syncPool(pool('p', { capacity: 2 }), [member('a', { incarnation: 'uid1:4' })])).toEqual([{ callSid: 'x', pod: 'a', pool: 'p' }]);
  });
});

describe('pool membership', () => {
  test('a pool written in batches ends exactly as one written at once, sheds the pods it no longer lists, and moves pods between pools', async () => {
    const other = new RoutingStore(redis, `${store.keys.base.slice(1, -2)}-once`);
    const members = Array.from({ length: 7 }, (_, i) => member(`pod-${i}`, { ready: i !== 3, draining: i === 5, incarnation: `u${i}:0` }));
    for (const [s, batch] of [[store, 2], [other, 100]] as const) {
      await s.syncPool(pool('q', { capacity: 2 }), [member('pod-8'), member('pod-9')], batch);
      await s.syncPool(pool('p', { capacity: 2 }), [...members, member('stray'), member('pod-8')], batch);
      await s.syncPool(pool('p', { capacity: 3 }), members, batch);
    }
    const strip = (d: Record<string, unknown>, base: string) => Object.fromEntries(Object.entries(d).map(([k, v]) => [k.slice(base.length), v]));
    const epochless = (d: Record<string, unknown>) => ({ ...d, 'pools:version': String(d['pools:version']).split(':')[1] });
    expect(epochless(strip(await dump(store), store.keys.base))).toEqual(epochless(strip(await dump(other), other.keys.base)));
    expect(await store.poolMembers('p')).toEqual(members.map((m) => m.pod).sort());
    expect(await store.poolMembers('q')).toEqual(['pod-9']);
    expect(await store.podState('stray')).toBeNull();
  });

  test('syncing the same pool twice changes nothing the second time', async () => {
    const p = pool('p', { capacity: 2 });
    await store.syncPool(p, [member('a'), member('b', { draining: true })]);
    await allocate('x', ['p']);
    const before = await dump(store);
    await store.syncPool(p, [member('a'), member('b', { draining: true })]);
    expect(await dump(store)).toEqual(before);
  });

  test('every key of an installation carries its hash tag, and installations do not see each other', async () => {
    const other = new RoutingStore(redis, `${store.keys.base.slice(1, -2)}-other`);
    await store.syncPool(pool('p', {}), [member('a')]);
    await other.syncPool(pool('p', {}), [member('a')]);
    await allocate('x', ['p']);
    const keys = await keysOf(store);
    expect(keys).toEqual(
      expect.arrayContaining([store.keys.poolSpecs, store.keys.poolsVersion, store.keys.deadlines, store.keys.poolConfig('p'), store.keys.poolAvail('p'), store.keys.poolMembers('p'), store.keys.pod('a'), store.keys.podCalls('a'), store.keys.call('x')]),
    );
    for (const key of keys) expect(key.startsWith(store.keys.base)).toBe(true);
    expect((await other.status()).active_calls).toBe(0);
    expect(await other.allocate('x', ['p'], (await other.poolsSnapshot()).version)).toMatchObject({ kind: 'allocated' });
  });

  test('a pod that moves to another pool keeps its calls, which release to the pool they came from', async () => {
    await store.syncPool(pool('a', { capacity: 2 }), [member('pod')]);
    await allocate('x', ['a']);
    await store.syncPool(pool('b', { capacity: 2 }), [member('pod')]);
    await store.syncPool(pool('a', { capacity: 2 }), []);
    expect((await store.podState('pod'))?.pool).toBe('b');
    expect((await allocate('y', ['a'])).kind).toBe('none');
    expect(await allocate('y', ['b'])).toMatchObject({ kind: 'allocated', pod: 'pod' });
    expect(await store.release('x')).toEqual({ pod: 'pod', pool: 'a', wasDraining: false });
    const status = await store.status();
    expect(status.pools.b).toMatchObject({ pods: 1, active_calls: 1, free_slots: 1 });
    expect(status.pools.a).toMatchObject({ pods: 0, active_calls: 0 });
  });

  test('a pod that leaves every pool keeps its calls until they end, then is forgotten', async () => {
    await store.syncPool(pool('p', {}), [member('a')]);
    await allocate('x', ['p']);
    await store.syncPool(pool('p', {}), []);
    expect(await store.podState('a')).toMatchObject({ pool: null, calls: ['x'] });
    expect(await store.release('x')).toMatchObject({ pod: 'a', pool: 'p' });
    expect(await store.podState('a')).toBeNull();
  });

  test('a deleted pool takes no calls; its pods keep theirs, which still release', async () => {
    await store.syncPool(pool('p', {}), [member('a'), member('b')]);
    await allocate('x', ['p']);
    expect(await store.deletePool('p')).toBe(2);
    expect((await store.poolsSnapshot()).pools).toEqual([]);
    expect((await allocate('y', ['p'])).kind).toBe('none');
    expect(await store.release('x')).toMatchObject({ pool: 'p' });
    // Nothing is left but the version and the ended call's tombstone, which expires.
    expect(await keysOf(store)).toEqual([store.keys.endedCall('x'), store.keys.poolsVersion]);
    expect(await store.redis.ttl(store.keys.endedCall('x'))).toBeGreaterThan(0);
  });

  test('pools snapshot returns the specs routing resolves against', async () => {
    const gold: Pool = pool('gold', { merchants: ['m'], fallback: ['standard'] });
    await store.syncPool(gold, []);
    expect(await store.poolsSnapshot()).toEqual({ version: expect.stringMatching(/^[0-9a-f-]{36}:1$/), pools: [gold] });
  });
});

describe('zombie reaping (reference scenario 11)', () => {
  test('calls older than the pool\'s maxCallDurationSeconds are reaped; younger ones stay', async () => {
    await store.syncPool(pool('short', { capacity: 5, maxCallDurationSeconds: 1 }), [member('a')]);
    await store.syncPool(pool('long', { capacity: 5 }), [member('b')]);
    await allocate('zombie', ['short']);
    await allocate('alive', ['long']);
    expect(await store.reapExpired()).toEqual([]);
    const reaper = new CallReaper(store, 100, silentLogger());
    let reaped: string[] = [];
    for (let i = 0; i < 50 && reaped.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      reaped = (await reaper.reapOnce()).map((c) => c.callSid);
    }
    expect(reaped).toEqual(['zombie']);
    expect(await store.call('zombie')).toBeNull();
    expect(await store.call('alive')).not.toBeNull();
    expect((await store.status()).pools.short).toMatchObject({ active_calls: 0, free_slots: 5 });
  });

  test('the reaper works in bounded batches until nothing is due', async () => {
    await store.syncPool(pool('short', { capacity: 50, maxCallDurationSeconds: 1 }), [member('a')]);
    for (let i = 0; i < 25; i++) await allocate(`z-${i}`, ['short']);
    await new Promise((r) => setTimeout(r, 1100));
    const reaper = new CallReaper(store, 1000, silentLogger(), {}, 10);
    expect(await reaper.reapOnce()).toHaveLength(25);
    expect((await store.status()).active_calls).toBe(0);
  });
});
