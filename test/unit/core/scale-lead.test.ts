import { busyRisePerSecond, keepBusySamples, leadSlots, podStartEstimateMs, settleGrowths, START_SAMPLES, type BusySample } from '../../../core/scale-lead.js';

describe('busyRisePerSecond: how fast the buffer drains', () => {
  const series = (pairs: [number, number][]): BusySample[] => pairs.map(([atMs, busy]) => ({ atMs, busy }));

  test('the rise over the window, divided by the whole window', () => {
    // 10 s window, busy 2 -> 12: one call a second.
    expect(busyRisePerSecond(series([[0, 2], [5_000, 7], [10_000, 12]]), 10_000)).toBe(1);
  });

  test('a short history reads low, not high: one burst does not double the fleet', () => {
    // Two samples 250 ms apart, 3 calls: 0.3/s over a 10 s window, not 12/s.
    expect(busyRisePerSecond(series([[0, 0], [250, 3]]), 10_000)).toBeCloseTo(0.3);
  });

  test('falling or flat load has no rise; no window or one sample has none either', () => {
    expect(busyRisePerSecond(series([[0, 10], [10_000, 4]]), 10_000)).toBe(0);
    expect(busyRisePerSecond(series([[0, 4], [10_000, 4]]), 10_000)).toBe(0);
    expect(busyRisePerSecond(series([[0, 0], [10_000, 10]]), 0)).toBe(0);
    expect(busyRisePerSecond(series([[0, 10]]), 10_000)).toBe(0);
  });

  test('samples kept: the window, and the one in force when it opened', () => {
    const kept = keepBusySamples(series([[0, 1], [4_000, 2], [8_000, 3]]), { atMs: 15_000, busy: 9 }, 10_000);
    expect(kept).toEqual(series([[4_000, 2], [8_000, 3], [15_000, 9]]));
  });
});

describe('leadSlots and the pod start estimate', () => {
  test('calls arriving during the start, rounded up', () => {
    expect(leadSlots(1.5, 3)).toBe(5);
    expect(leadSlots(2, 2)).toBe(4);
    expect(leadSlots(0, 10)).toBe(0);
    expect(leadSlots(3, 0)).toBe(0);
    expect(leadSlots(-1, 5)).toBe(0);
  });

  test('a growth gives a sample once its pods serve; one the workload can no longer reach is dropped', () => {
    const pending = [
      { sinceMs: 1_000, servingTarget: 6 },
      { sinceMs: 2_000, servingTarget: 8 },
      { sinceMs: 3_000, servingTarget: 10 },
    ];
    // 8 serving at 5 s: the first two reached (4 s and 3 s); the third waits (the workload has 10).
    expect(settleGrowths(pending, 8, 10, 5_000)).toEqual({ pending: [{ sinceMs: 3_000, servingTarget: 10 }], samplesMs: [4_000, 3_000] });
    // The workload was lowered to 9: a target of 10 is never reached, so it gives no sample.
    expect(settleGrowths(pending, 5, 9, 5_000)).toEqual({ pending: pending.slice(0, 2), samplesMs: [] });
  });

  test('the estimate is the longest of the newest samples, none before a first growth', () => {
    expect(podStartEstimateMs([])).toBe(0);
    expect(podStartEstimateMs([1_000, 3_000, 2_000])).toBe(3_000);
    const old = [9_000, ...Array.from({ length: START_SAMPLES }, () => 1_000)];
    expect(podStartEstimateMs(old)).toBe(1_000);
  });
});
