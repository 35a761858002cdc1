import { jest } from '@jest/globals';
import { PeriodicTask } from '../../../core/periodic-task.js';

const settle = () => new Promise((r) => setImmediate(r));

describe('PeriodicTask', () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] }));
  afterEach(() => jest.useRealTimers());

  test('a pass never overlaps the previous one, and the next is counted from its end', async () => {
    let active = 0;
    let maxActive = 0;
    let passes = 0;
    let finish: (() => void) | undefined;
    const task = new PeriodicTask(
      () => {
        passes++;
        active++;
        maxActive = Math.max(maxActive, active);
        return new Promise<void>((r) => (finish = () => { active--; r(); }));
      },
      100,
      () => undefined,
    );
    task.start();
    jest.advanceTimersByTime(100);
    expect(passes).toBe(1);
    jest.advanceTimersByTime(1000); // the first pass is still running
    expect(passes).toBe(1);
    finish!();
    await settle();
    jest.advanceTimersByTime(99);
    expect(passes).toBe(1);
    jest.advanceTimersByTime(1);
    expect(passes).toBe(2);
    expect(maxActive).toBe(1);
    finish!();
    await settle();
    await task.stop();
  });

  test('a failed pass is reported and the next one still runs', async () => {
    const failures: string[] = [];
    let passes = 0;
    const task = new PeriodicTask(
      async () => {
        passes++;
        if (passes === 1) throw new Error('redis away');
      },
      50,
      (err) => failures.push(err.message),
    );
    task.start();
    jest.advanceTimersByTime(50);
    await settle();
    jest.advanceTimersByTime(50);
    await settle();
    expect(failures).toEqual(['redis away']);
    expect(passes).toBe(2);
    await task.stop();
  });

  test('stop waits for the pass in flight and no pass starts after it', async () => {
    let passes = 0;
    let finish: (() => void) | undefined;
    const task = new PeriodicTask(() => { passes++; return new Promise<void>((r) => (finish = r)); }, 10, () => undefined);
    task.start();
    jest.advanceTimersByTime(10);
    let stopped = false;
    const stopping = task.stop().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    finish!();
    await stopping;
    jest.advanceTimersByTime(1000);
    expect(passes).toBe(1);
  });
});
