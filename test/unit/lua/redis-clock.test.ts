import { sampleFrom } from '../../../lua/redis-clock.js';

describe('sampleFrom', () => {
  test('puts Redis time at the midpoint of the round trip, with half the round trip as uncertainty', () => {
    // Sent at 1000 ms, answered at 1010 ms (monotonic); Redis said 1,700,000,000.005 s.
    const s = sampleFrom(1000, 1010, ['1700000000', '5000']);
    expect(s.offsetMs).toBe(1_700_000_000_005 - 1005);
    expect(s.uncertaintyMs).toBe(5);
    expect(s.takenAt).toBe(1010);
  });

  test('a Redis clock behind ours gives a negative offset; the deadline maps backwards too', () => {
    const s = sampleFrom(5_000_000, 5_000_002, ['4000', '0']);
    expect(s.offsetMs).toBe(4_000_000 - 5_000_001);
  });
});
