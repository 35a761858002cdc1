import { ReadCache } from '../../../api/read-cache.js';
import { TokenBuckets } from '../../../api/rate-limit.js';

describe('ReadCache', () => {
  let now = 0;
  const clock = () => now;

  test('one load per key per interval, however many ask, concurrently or not', async () => {
    now = 0;
    const cache = new ReadCache<number>(1000, 100, clock);
    let loads = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const load = async () => {
      loads++;
      await gate;
      return loads;
    };
    const concurrent = Array.from({ length: 50 }, () => cache.get('status', load));
    release();
    expect(await Promise.all(concurrent)).toEqual(Array(50).fill(1));
    now = 999;
    expect(await cache.get('status', load)).toBe(1);
    now = 1000;
    expect(await cache.get('status', load)).toBe(2);
    expect(loads).toBe(2);
  });

  test('a failed load is not kept: the next request loads again', async () => {
    now = 0;
    const cache = new ReadCache<string>(1000, 100, clock);
    await expect(cache.get('k', () => Promise.reject(new Error('redis down')))).rejects.toThrow('redis down');
    expect(await cache.get('k', async () => 'back')).toBe('back');
  });

  test('ttl 0 loads every time; forget drops one key', async () => {
    const off = new ReadCache<number>(0, 100, clock);
    let n = 0;
    await off.get('k', async () => ++n);
    await off.get('k', async () => ++n);
    expect(n).toBe(2);
    const on = new ReadCache<number>(1000, 100, clock);
    await on.get('k', async () => ++n);
    on.forget('k');
    expect(await on.get('k', async () => ++n)).toBe(4);
  });

  test('the number of keys is bounded: the oldest go first', async () => {
    now = 0;
    const cache = new ReadCache<string>(60_000, 3, clock);
    for (const k of ['a', 'b', 'c', 'd']) await cache.get(k, async () => `${k}1`);
    expect(await cache.get('d', async () => 'd2')).toBe('d1');
    expect(await cache.get('a', async () => 'a2')).toBe('a2'); // evicted, loaded again
  });
});

describe('TokenBuckets', () => {
  test('a burst, then one request per refill, with the wait until the next token', () => {
    const buckets = new TokenBuckets({ perSecond: 2, burst: 3 });
    expect([0, 0, 0].map(() => buckets.take('client', 0))).toEqual([0, 0, 0]);
    expect(buckets.take('client', 0)).toBeCloseTo(0.5);
    expect(buckets.take('client', 250)).toBeCloseTo(0.25);
    expect(buckets.take('client', 500)).toBe(0);
    expect(buckets.take('other', 500)).toBe(0); // every client has its own bucket
  });

  test('memory stays bounded: full buckets are forgotten first, then the oldest', () => {
    const buckets = new TokenBuckets({ perSecond: 1, burst: 1 }, 100);
    for (let i = 0; i < 1000; i++) buckets.take(`c${i}`, i * 10);
    expect(buckets.size).toBeLessThanOrEqual(100);
  });
});
