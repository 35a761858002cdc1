import { silentLogger, type Logger } from '../../../core/logger.js';
import { forEachLimited } from '../../../operator/limited-concurrency.js';
import { backoffDelay, ReconcileLoop, RunAbandoned, type RunOutcome } from '../../../operator/reconcile-loop.js';

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

  test('with restShare, an event after a run waits a share of that run\'s time; without it, none', async () => {
    const slowRun = (restShare: number) => {
      const runs: number[] = [];
      const loop = new ReconcileLoop(
        async () => {
          runs.push(runs.length);
          if (runs.length === 1) await new Promise((r) => setTimeout(r, 20));
        },
        { baseDelayMs: 1, maxDelayMs: 4, resyncMs: 60_000, restShare },
        silentLogger(),
      );
      return { loop, runs };
    };
    /** Starts the loop, waits out its first run and a little more, then tells it of an event. */
    const eventAfterFirstRun = async (restShare: number) => {
      const run = slowRun(restShare);
      run.loop.start();
      await until(() => run.runs.length === 1);
      for (let i = 0; i < 5; i++) await tick();
      run.loop.enqueue();
      return run;
    };
    // A 20 ms run rests 1,000 times as long: the event waits for well past this test.
    const resting = await eventAfterFirstRun(1000);
    for (let i = 0; i < 10; i++) await tick();
    expect(resting.runs).toHaveLength(1);
    await resting.loop.stop();

    const eager = await eventAfterFirstRun(0);
    await until(() => eager.runs.length === 2);
    await eager.loop.stop();
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

  test('a run that asks to be requeued runs again after the delay without any event', async () => {
    let runs = 0;
    const loop = new ReconcileLoop(
      async () => {
        runs++;
        return runs === 1 ? { requeueAfterMs: 20 } : {};
      },
      { baseDelayMs: 1, maxDelayMs: 4, resyncMs: 60_000 },
      silentLogger(),
    );
    loop.start();
    await until(() => runs === 2);
    await tick();
    await tick();
    expect(runs).toBe(2);
    await loop.stop();
  });

  test('outcomes are reported: ok, error, and abandoned for a run stopped on purpose', async () => {
    const outcomes: RunOutcome[] = [];
    let runs = 0;
    const loop = new ReconcileLoop(
      async () => {
        runs++;
        if (runs === 1) throw new RunAbandoned('caches not synced');
        if (runs === 2) throw new Error('API server unavailable');
      },
      { baseDelayMs: 1, maxDelayMs: 4, resyncMs: 60_000 },
      silentLogger(),
      (outcome) => outcomes.push(outcome),
    );
    loop.start();
    await until(() => outcomes.length === 3);
    expect(outcomes).toEqual(['abandoned', 'error', 'ok']);
    await loop.stop();
  });

  test('a new event cuts a pending backoff short: the run starts at once, as a work queue Add does', async () => {
    let runs = 0;
    const loop = new ReconcileLoop(
      async () => {
        runs++;
        if (runs === 1) throw new Error('conflict');
      },
      { baseDelayMs: 60_000, maxDelayMs: 60_000, resyncMs: 600_000 },
      silentLogger(),
    );
    loop.start();
    await until(() => runs === 1);
    await tick();
    expect(runs).toBe(1);
    loop.enqueue();
    await until(() => runs === 2);
    await loop.stop();
  });

  test('a run that keeps failing still backs off when no event comes, and the backoff keeps growing', async () => {
    const retries: number[] = [];
    const logger = { ...silentLogger(), warn: (_msg: string, meta: { retry_in_ms: number }) => retries.push(meta.retry_in_ms), info: () => undefined } as unknown as Logger;
    let runs = 0;
    const loop = new ReconcileLoop(
      async () => {
        runs++;
        throw new Error('Redis unavailable');
      },
      { baseDelayMs: 20, maxDelayMs: 10_000, resyncMs: 600_000 },
      logger,
    );
    loop.start();
    await until(() => runs === 1);
    loop.enqueue(); // cuts the first wait short
    await until(() => runs === 4);
    await loop.stop();
    // The event did not reset the count: the waits after it keep doubling.
    expect(retries.slice(0, 4)).toEqual([20, 40, 80, 160]);
  });

  test('a periodic resync runs the work without events', async () => {
    let runs = 0;
    const loop = new ReconcileLoop(async () => void runs++, { baseDelayMs: 1, maxDelayMs: 4, resyncMs: 10 }, silentLogger());
    loop.start();
    await until(() => runs >= 3);
    await loop.stop();
  });

  test('backoff doubles from the base and stops at the cap', () => {
    expect([1, 2, 3, 4, 10].map((n) => backoffDelay(n, 200, 1000))).toEqual([200, 400, 800, 1000, 1000]);
  });
});

describe('forEachLimited', () => {
  test('never runs more than the limit at once, runs every item, and reports the first failure after all settle', async () => {
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
