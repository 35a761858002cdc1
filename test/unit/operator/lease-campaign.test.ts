// Leader election's decisions on a fake clock: milliseconds are passed in,
// nothing waits and no API server is involved.
import { LeaseCampaign, type LeaseRecord } from '../../../operator/lease-campaign.js';

const timing = { leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2 };
const held = (holder: string, renewTime = 't0', transitions = 0): LeaseRecord => ({ holder, leaseDurationSeconds: 15, renewTime, transitions });

describe('LeaseCampaign', () => {
  test('no lease: create it; a released lease: take it at once', () => {
    const c = new LeaseCampaign('me', timing);
    expect(c.decide(undefined, 0)).toBe('create');
    expect(c.decide(held(''), 0)).toBe('acquire');
  });

  test("another replica's lease is taken only after it stayed unchanged for a lease duration on our own clock", () => {
    const c = new LeaseCampaign('me', timing);
    // We first see the record at 100 s on our clock; its renewTime is in another clock's terms and is not compared.
    expect(c.decide(held('other', '1999-01-01T00:00:00Z'), 100_000)).toBe('wait');
    expect(c.decide(held('other', '1999-01-01T00:00:00Z'), 115_000)).toBe('wait');
    expect(c.decide(held('other', '1999-01-01T00:00:00Z'), 115_001)).toBe('acquire');
  });

  test('a holder that keeps renewing is never taken over', () => {
    const c = new LeaseCampaign('me', timing);
    for (let t = 0; t <= 120_000; t += 2_000) expect(c.decide(held('other', `renew-${t}`), t)).toBe('wait');
  });

  test('acquiring counts a transition; renewing keeps the acquire time and the count', () => {
    const c = new LeaseCampaign('me', timing);
    const taken = c.desired({ ...held('other', 'x', 4), acquireTime: 'old' }, 'acquire', 1_000);
    expect(taken).toMatchObject({ holder: 'me', leaseDurationSeconds: 15, transitions: 5, acquireTime: new Date(1_000).toISOString(), renewTime: new Date(1_000).toISOString() });
    const renewed = c.desired(taken, 'renew', 3_000);
    expect(renewed).toMatchObject({ holder: 'me', transitions: 5, acquireTime: taken.acquireTime, renewTime: new Date(3_000).toISOString() });
    expect(c.desired(undefined, 'create', 0).transitions).toBe(0);
  });

  test('a leader stops leading once its last renewal is older than the renew deadline, counted from when the request left', () => {
    const c = new LeaseCampaign('me', timing);
    expect(c.overdue(0)).toBe(false); // not leading: nothing to give up
    expect(c.succeeded(c.desired(undefined, 'create', 1_000), 1_000)).toBe(true); // a new term
    expect(c.leading).toBe(true);
    expect(c.succeeded(c.desired(undefined, 'renew', 3_000), 3_000)).toBe(false); // same term
    expect(c.deadlineMs()).toBe(13_000);
    expect(c.overdue(12_999)).toBe(false);
    expect(c.overdue(13_000)).toBe(true);
    expect(c.stepDown()).toBe(true);
    expect(c.stepDown()).toBe(false);
    expect(c.leading).toBe(false);
  });

  test('the renew deadline ends leadership before any other replica may take the lease', () => {
    const me = new LeaseCampaign('me', timing);
    const other = new LeaseCampaign('other', timing);
    const written = me.desired(undefined, 'create', 0);
    me.succeeded(written, 0);
    // The other replica sees our last write at 0 and nothing after it (our renewals fail from here on).
    expect(other.decide(written, 0)).toBe('wait');
    const firstTakeover = [...Array(40).keys()].map((i) => i * 1_000).find((t) => other.decide(written, t) === 'acquire');
    const stepDown = [...Array(40).keys()].map((i) => i * 1_000).find((t) => me.overdue(t));
    expect(stepDown).toBeDefined();
    expect(firstTakeover).toBeDefined();
    expect(stepDown!).toBeLessThan(firstTakeover!);
  });

  test('our own lease, as read back after a restart under the same identity, is renewed', () => {
    const c = new LeaseCampaign('me', timing);
    expect(c.decide(held('me'), 0)).toBe('renew');
  });

  test('releasing writes no holder and a one-second duration, keeping the transition count', () => {
    const c = new LeaseCampaign('me', timing);
    expect(c.released(held('me', 'x', 7), 5_000)).toEqual({ holder: '', leaseDurationSeconds: 1, acquireTime: new Date(5_000).toISOString(), renewTime: new Date(5_000).toISOString(), transitions: 7 });
  });
});
