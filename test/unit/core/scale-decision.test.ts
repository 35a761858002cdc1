import { decideScale, growAtBusySlots, podsForSlots, wantedSlots, type Recommendation, type ScaleInput } from '../../../core/scale-decision.js';
import type { PoolAutoscaling } from '../../../core/pool-types.js';

const policy = (over: Partial<PoolAutoscaling> = {}): PoolAutoscaling => ({
  workloadRef: { kind: 'Deployment', name: 'voice-agent' },
  bufferSlots: 5,
  minReplicas: 2,
  maxReplicas: 50,
  scaleDownDelaySeconds: 60,
  ...over,
});
const input = (over: Partial<ScaleInput> = {}): ScaleInput => ({ policy: policy(), busySlots: 0, capacity: 1, currentReplicas: 5, nowMs: 1_000_000, history: [], ...over });

describe('wantedSlots: the Agones buffer over call slots', () => {
  test.each([
    [0, 5],
    [1, 6],
    [10, 15],
  ])('bufferSlots 5 with %i busy wants %i slots', (busy, slots) => {
    expect(wantedSlots(policy({ bufferSlots: 5 }), busy)).toBe(slots);
  });

  test.each([
    // ceil(busy * 100 / (100 - pct)), and always one free slot
    [20, 0, 1],
    [20, 1, 2],
    [20, 8, 10],
    [20, 9, 12],
    [50, 10, 20],
    [99, 1, 100],
    [1, 10, 11],
  ])('bufferPercent %i with %i busy wants %i slots', (percent, busy, slots) => {
    expect(wantedSlots({ ...policy(), bufferSlots: undefined, bufferPercent: percent }, busy)).toBe(slots);
  });

  test('pods round slots up to whole pods of the pool capacity', () => {
    expect(podsForSlots(0, 3)).toBe(0);
    expect(podsForSlots(1, 3)).toBe(1);
    expect(podsForSlots(3, 3)).toBe(1);
    expect(podsForSlots(4, 3)).toBe(2);
    expect(podsForSlots(7, 1)).toBe(7);
  });
});

describe('decideScale', () => {
  test('fewer free slots than the buffer: grows at once, whatever the window', () => {
    const d = decideScale(input({ busySlots: 3, currentReplicas: 5, history: [{ atMs: 999_000, replicas: 5 }] }));
    expect(d).toMatchObject({ wanted: 8, target: 8, reason: 'BufferBreached' });
    expect(d.message).toBe('3 busy slot(s), 2 free of 5; keeping 5 free slot(s) needs 8 pod(s): growing from 5');
  });

  test('shared pods: slots are divided by the capacity, rounded up', () => {
    expect(decideScale(input({ busySlots: 7, capacity: 3, currentReplicas: 2 }))).toMatchObject({ wanted: 4, target: 4, reason: 'BufferBreached' });
    expect(decideScale(input({ busySlots: 6, capacity: 3, currentReplicas: 4 }))).toMatchObject({ wanted: 4, target: 4, reason: 'AsWanted' });
  });

  test('exactly the buffer: nothing to do', () => {
    expect(decideScale(input({ busySlots: 2, currentReplicas: 7 }))).toMatchObject({ wanted: 7, target: 7, reason: 'AsWanted' });
  });

  test('never below minReplicas nor above maxReplicas', () => {
    expect(decideScale(input({ busySlots: 0, currentReplicas: 1, policy: policy({ bufferSlots: 1, minReplicas: 3 }) }))).toMatchObject({ wanted: 3, target: 3, reason: 'BelowMinReplicas' });
    const capped = decideScale(input({ busySlots: 48, currentReplicas: 40 }));
    expect(capped).toMatchObject({ wanted: 50, target: 50, reason: 'BufferBreached' });
    expect(capped.message).toMatch(/capped at maxReplicas 50/);
    expect(decideScale(input({ busySlots: 48, currentReplicas: 50 }))).toMatchObject({ wanted: 50, target: 50, reason: 'AtMaxReplicas' });
    expect(decideScale(input({ busySlots: 0, currentReplicas: 0, policy: policy({ minReplicas: 0 }) }))).toMatchObject({ wanted: 5, target: 5, reason: 'BufferBreached' });
  });

  test('above maxReplicas (max lowered): shrinks to max without waiting', () => {
    expect(decideScale(input({ busySlots: 0, currentReplicas: 80 }))).toMatchObject({ wanted: 5, target: 50, reason: 'AboveMaxReplicas' });
  });

  test('more free slots than the buffer: shrinks only after the wanted size stayed lower for the whole delay', () => {
    const at = (s: number) => 1_000_000 + s * 1000;
    let history: Recommendation[] = [];
    const step = (s: number, busy: number, current: number) => {
      const d = decideScale(input({ busySlots: busy, currentReplicas: current, nowMs: at(s), history }));
      history = d.history;
      return d;
    };
    expect(step(0, 5, 10)).toMatchObject({ wanted: 10, target: 10, reason: 'AsWanted' });
    // The load goes at t=10: 5 wanted from then on.
    expect(step(10, 0, 10)).toMatchObject({ wanted: 5, target: 10, reason: 'ScaleDownDelayed' });
    expect(step(40, 0, 10)).toMatchObject({ wanted: 5, target: 10, reason: 'ScaleDownDelayed' });
    expect(step(69, 0, 10)).toMatchObject({ target: 10, reason: 'ScaleDownDelayed' });
    // t=70: every recommendation in the last 60 s wanted 5.
    const down = step(70, 0, 10);
    expect(down).toMatchObject({ wanted: 5, target: 5, reason: 'BufferExceeded' });
    expect(down.message).toBe('0 busy slot(s), 10 free of 10; keeping 5 free slot(s) needs 5 pod(s), and no more than 5 for 60s: shrinking from 10');
  });

  test('a burst inside the window holds the size up: shrinks to the highest wanted in the window', () => {
    const at = (s: number) => 1_000_000 + s * 1000;
    const history: Recommendation[] = [
      { atMs: at(0), replicas: 12 },
      { atMs: at(30), replicas: 9 },
      { atMs: at(50), replicas: 6 },
    ];
    // t=65: 12 was wanted until t=30, within the last 60 s: no shrinking yet.
    expect(decideScale(input({ busySlots: 0, currentReplicas: 12, nowMs: at(65), history }))).toMatchObject({ wanted: 5, target: 12, reason: 'ScaleDownDelayed' });
    // t=95: 9 was wanted until t=50, within the window.
    expect(decideScale(input({ busySlots: 0, currentReplicas: 12, nowMs: at(95), history }))).toMatchObject({ wanted: 5, target: 9, reason: 'BufferExceeded' });
    // t=115: only 6 (from t=50) and now 5 remain.
    expect(decideScale(input({ busySlots: 0, currentReplicas: 9, nowMs: at(115), history }))).toMatchObject({ target: 6, reason: 'BufferExceeded' });
  });

  test('the first decision of a term waits a full window before shrinking', () => {
    const first = decideScale(input({ busySlots: 0, currentReplicas: 10 }));
    expect(first).toMatchObject({ wanted: 5, target: 10, reason: 'ScaleDownDelayed' });
    expect(first.history).toEqual([
      { atMs: 1_000_000, replicas: 10 },
      { atMs: 1_000_000, replicas: 5 },
    ]);
    expect(decideScale(input({ busySlots: 0, currentReplicas: 10, nowMs: 1_059_999, history: first.history })).target).toBe(10);
    expect(decideScale(input({ busySlots: 0, currentReplicas: 10, nowMs: 1_060_000, history: first.history })).target).toBe(5);
  });

  test('no delay: shrinks at once, and the history keeps only this decision', () => {
    const d = decideScale(input({ busySlots: 1, currentReplicas: 10, policy: policy({ scaleDownDelaySeconds: 0 }) }));
    expect(d).toMatchObject({ wanted: 6, target: 6, reason: 'BufferExceeded' });
    expect(d.history).toEqual([{ atMs: 1_000_000, replicas: 6 }]);
  });

  test('the history never outgrows the window', () => {
    let history: Recommendation[] = [];
    for (let s = 0; s < 600; s += 2) history = decideScale(input({ busySlots: s % 7, currentReplicas: 8, nowMs: s * 1000, history })).history;
    expect(history.length).toBeLessThanOrEqual(32);
    expect(Math.min(...history.map((r) => r.atMs))).toBeGreaterThanOrEqual(598_000 - 60_000);
  });

  test('a percent buffer with busy pods keeps at least one free slot', () => {
    const p = policy({ bufferSlots: undefined, bufferPercent: 10, minReplicas: 0 });
    expect(decideScale(input({ policy: p, busySlots: 4, currentReplicas: 4 }))).toMatchObject({ wanted: 5, reason: 'BufferBreached' });
    expect(decideScale(input({ policy: p, busySlots: 18, currentReplicas: 20, history: [{ atMs: 0, replicas: 20 }] }))).toMatchObject({ wanted: 20, target: 20, reason: 'AsWanted' });
  });

  test.each([
    [0, 0, 5],
    [0, 1, 5],
    [10, 50, 15],
    [60, 40, 50],
  ])('busy %i on %i pods: never leaves fewer free slots than the buffer unless capped (%i wanted)', (busy, current, wanted) => {
    const d = decideScale(input({ busySlots: busy, currentReplicas: current, history: [{ atMs: 0, replicas: current }] }));
    expect(d.wanted).toBe(wanted);
    expect(d.target * 1 - busy >= 5 || d.target === 50).toBe(true);
  });
});

describe('the lead: calls arriving while new pods start', () => {
  test('a lead is kept free on top of the buffer, so the workload grows ahead of a rise', () => {
    // 10 busy + 5 buffer = 15 pods; 4 more calls are expected while pods start: 19.
    const d = decideScale(input({ busySlots: 10, currentReplicas: 15, leadSlots: 4 }));
    expect(d).toMatchObject({ wanted: 19, target: 19, reason: 'BufferBreached' });
    expect(d.message).toContain('and 4 for the calls arriving while pods start');
  });

  test('without a lead the same pool is as wanted', () => {
    expect(decideScale(input({ busySlots: 10, currentReplicas: 15, leadSlots: 0 }))).toMatchObject({ wanted: 15, reason: 'AsWanted' });
  });

  test('with bufferPercent the lead counts as calls: its share of free slots grows with it', () => {
    const p = { ...policy(), bufferSlots: undefined, bufferPercent: 20 };
    // (8 busy + 2 lead) / 0.8 = 12.5 -> 13 slots
    expect(decideScale(input({ policy: p, busySlots: 8, currentReplicas: 10, leadSlots: 2 })).wanted).toBe(13);
  });

  test('the lead stays within maxReplicas', () => {
    expect(decideScale(input({ policy: policy({ maxReplicas: 20 }), busySlots: 10, currentReplicas: 15, leadSlots: 30 }))).toMatchObject({ wanted: 20, target: 20 });
  });
});

describe('growAtBusySlots: where an allocation should wake the autoscaler', () => {
  test('the first busy count whose buffer needs another pod, and it agrees with decideScale', () => {
    // 10 pods, buffer 5: 6 busy leave 4 free.
    expect(growAtBusySlots(policy(), 1, 10)).toBe(6);
    expect(decideScale(input({ busySlots: 5, currentReplicas: 10 })).reason).not.toBe('BufferBreached');
    expect(decideScale(input({ busySlots: 6, currentReplicas: 10 })).reason).toBe('BufferBreached');
  });

  test('a lead brings it nearer; shared pods and bufferPercent count slots', () => {
    expect(growAtBusySlots(policy(), 1, 10, 2)).toBe(4);
    // 4 pods of 3 slots, 5 free wanted: 8 busy want 13 slots, 5 pods.
    expect(growAtBusySlots(policy(), 3, 4)).toBe(8);
    const p = { ...policy(), bufferSlots: undefined, bufferPercent: 20 };
    // 10 slots: 8 busy want 10, 9 busy want 12.
    expect(growAtBusySlots(p, 1, 10)).toBe(9);
    for (const busy of [8, 9]) expect(decideScale(input({ policy: p, busySlots: busy, currentReplicas: 10 })).reason === 'BufferBreached').toBe(busy === 9);
  });

  test('none at maxReplicas; at once below minReplicas', () => {
    expect(growAtBusySlots(policy({ maxReplicas: 10 }), 1, 10)).toBeUndefined();
    expect(growAtBusySlots(policy({ minReplicas: 3 }), 1, 2)).toBe(0);
  });
});
