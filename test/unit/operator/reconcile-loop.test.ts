import { silentLogger } from '../../../core/logger.js';
import { canAcquire } from '../../../operator/leader-election.js';
import { backoffDelay, ReconcileLoop } from '../../../operator/reconcile-loop.js';

const tick = () => new Promise((r) => setTimeout(r, 5));
const until = async (ok: () => boolean) => {
  for (let i = 0; i < 400 && !ok(); i++) await tick();
  if (!ok()) throw new Error('condition never held');
};

describe('ReconcileLoop', () => {
  test('a burst of events while a run is in flight costs one more run, not one each', async () => {
    let release: () => void = () => undefined;
    let runs = 0;
    const loop = new ReconcileLoop(
      () => {
        runs++;
        return new Promise<void>((r) => (release = r));
      },
      { baseDelayMs: 1, maxDelayMs: 10, resyncMs: 60_000 },
      silentLogger(),
    );
    loop.start();
    await until(() => runs === 1);
    for (let i = 0; i < 50; i++) loop.enqueue();
    release();
    await until(() => runs === 2);
    release();
    await tick();
    await tick();
    expect(runs).toBe(2);
    await loop.stop();
  });

  test('a failing run is retried until it succeeds', async () => {
    let runs = 0;
    const loop = new ReconcileLoop(
      async () => {
        runs++;
        if (runs < 3) throw new Error('API server unavailable');
      },
      { baseDelayMs: 1, maxDelayMs: 4, resyncMs: 60_000 },
      silentLogger(),
    );
    loop.start();
    await until(() => runs === 3);
    await tick();
    expect(runs).toBe(3);
    await loop.stop();
  });

  test('after stop, events start nothing', async () => {
    let runs = 0;
    const loop = new ReconcileLoop(async () => void runs++, { baseDelayMs: 1, maxDelayMs: 4, resyncMs: 60_000 }, silentLogger());
    loop.start();
    await until(() => runs === 1);
    await loop.stop();
    loop.enqueue();
    await tick();
    expect(runs).toBe(1);
  });

  test('backoff doubles from the base and stops at the cap', () => {
    expect([1, 2, 3, 4, 10].map((n) => backoffDelay(n, 200, 1000))).toEqual([200, 400, 800, 1000, 1000]);
  });
});

describe('canAcquire (leader election)', () => {
  const record = { holder: 'other', leaseDurationSeconds: 15, transitions: 0 };
  test('a free, released or own lease can be taken at once', () => {
    expect(canAcquire(undefined, 'me', 0, 0)).toBe(true);
    expect(canAcquire({ ...record, holder: '' }, 'me', 0, 0)).toBe(true);
    expect(canAcquire({ ...record, holder: 'me' }, 'me', 0, 0)).toBe(true);
  });
  test("another's lease only once unchanged for a lease duration on our own clock", () => {
    expect(canAcquire(record, 'me', 1_000, 15_000)).toBe(false);
    expect(canAcquire(record, 'me', 1_000, 16_000)).toBe(false);
    expect(canAcquire(record, 'me', 1_000, 16_001)).toBe(true);
  });
});

describe('forEachLimited', () => {
  test('never runs more than the limit at once, runs every item, and reports the first failure after all settle', async () => {
    const { forEachLimited } = await import('../../../operator/fleet-reconciler.js');
    let inFlight = 0;
    let peak = 0;
    const seen: number[] = [];
    await forEachLimited(Array.from({ length: 40 }, (_, i) => i), 4, async (i) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await tick();
      seen.push(i);
      inFlight--;
    });
    expect(peak).toBe(4);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    const done: number[] = [];
    await expect(
      forEachLimited([1, 2, 3], 2, async (i) => {
        if (i === 1) throw new Error('conflict');
        done.push(i);
      }),
    ).rejects.toThrow('conflict');
    expect(done.sort()).toEqual([2, 3]);
  });
});
