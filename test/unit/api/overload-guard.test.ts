import type { EventLoopWatch } from '../../../api/event-loop-watch.js';
import { OverloadGuard } from '../../../api/overload-guard.js';

const watchLagging = (lag: { ms: number }) => ({ lagMs: () => lag.ms }) as unknown as EventLoopWatch;

describe('OverloadGuard', () => {
  test('admits up to the in-flight limit, then sheds until one leaves', () => {
    const guard = new OverloadGuard(watchLagging({ ms: 0 }), { maxInflightAllocations: 2, eventLoopLagMs: 100 });
    expect(guard.enter()).toBeNull();
    expect(guard.enter()).toBeNull();
    expect(guard.enter()).toBe('inflight');
    expect(guard.inflightAllocations).toBe(2);
    guard.leave();
    expect(guard.enter()).toBeNull();
  });

  test('sheds while the event loop lags past the limit, and admits again when it catches up', () => {
    const lag = { ms: 150 };
    const guard = new OverloadGuard(watchLagging(lag), { maxInflightAllocations: 0, eventLoopLagMs: 100 });
    expect(guard.enter()).toBe('event_loop_lag');
    expect(guard.inflightAllocations).toBe(0);
    lag.ms = 20;
    expect(guard.enter()).toBeNull();
  });

  test('a limit of 0 is off', () => {
    const guard = new OverloadGuard(watchLagging({ ms: 10_000 }), { maxInflightAllocations: 0, eventLoopLagMs: 0 });
    for (let i = 0; i < 1000; i++) expect(guard.enter()).toBeNull();
  });
});
