import { decideEviction, type EvictionFacts } from '../../../../operator/eviction-guard/eviction-decision.js';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const facts = (over: Partial<EvictionFacts> = {}): EvictionFacts => ({
  pod: 'voice-agent-0',
  routing: { pool: 'standard', calls: 2, callsExpireMs: NOW + 3600_000 },
  annotations: {},
  drainStartedMs: null,
  nowMs: NOW,
  ...over,
});

describe('an eviction of a pod', () => {
  test('in no pool and without calls is allowed at once and drains nothing', () => {
    expect(decideEviction(facts({ routing: null }))).toMatchObject({ allowed: true, reason: 'not-routed', drain: false, calls: 0 });
  });

  test('idle in a pool is allowed at once, and drained first so no call lands before it goes', () => {
    expect(decideEviction(facts({ routing: { pool: 'standard', calls: 0, callsExpireMs: null } }))).toMatchObject({ allowed: true, reason: 'idle', drain: true, calls: 0 });
  });

  test('with calls is denied, naming the pod, its calls and its deadline', () => {
    const d = decideEviction(facts());
    expect(d).toMatchObject({ allowed: false, reason: 'calls-active', drain: true, calls: 2, deadlineMs: NOW + 3600_000 });
    expect(d.message).toBe('pod voice-agent-0 has 2 active calls; smart-router drains it (no new calls) and allows the eviction when they end (deadline 2026-11-30T13:00:00Z)');
  });

  test('with one call says "call", not "calls"', () => {
    expect(decideEviction(facts({ routing: { pool: 'standard', calls: 1, callsExpireMs: NOW + 1000 } })).message).toMatch(/has 1 active call;/);
  });

  test('that left its pool but still holds calls is still held back', () => {
    expect(decideEviction(facts({ routing: { pool: '', calls: 1, callsExpireMs: NOW + 1000 } }))).toMatchObject({ allowed: false, drain: true });
  });

  test("without a drain deadline waits until the calls' maxCallDurationSeconds, then is allowed with the calls left", () => {
    const expire = NOW + 60_000;
    expect(decideEviction(facts({ routing: { pool: 'standard', calls: 2, callsExpireMs: expire }, nowMs: expire - 1 })).allowed).toBe(false);
    const d = decideEviction(facts({ routing: { pool: 'standard', calls: 2, callsExpireMs: expire }, nowMs: expire }));
    expect(d).toMatchObject({ allowed: true, reason: 'deadline', calls: 2 });
    expect(d.message).toMatch(/passed their maxCallDurationSeconds at 2026-11-30T12:01:00Z/);
  });

  test("with the pool's maxDrainSeconds counts from the first attempt", () => {
    const started = NOW - 100_000;
    expect(decideEviction(facts({ poolMaxDrainSeconds: 120, drainStartedMs: started, nowMs: started + 119_999 }))).toMatchObject({ allowed: false, deadlineMs: started + 120_000 });
    const d = decideEviction(facts({ poolMaxDrainSeconds: 120, drainStartedMs: started, nowMs: started + 120_000 }));
    expect(d).toMatchObject({ allowed: true, reason: 'deadline', calls: 2 });
    expect(d.message).toBe('pod voice-agent-0 evicted with 2 active calls: its drain deadline 2026-11-30T12:00:20Z passed (maxDrainSeconds 120)');
  });

  test('the first attempt counts its drain from now', () => {
    expect(decideEviction(facts({ poolMaxDrainSeconds: 30 }))).toMatchObject({ allowed: false, deadlineMs: NOW + 30_000 });
  });

  test('a maxDrainSeconds of 0 allows the eviction on the first attempt, with the calls', () => {
    expect(decideEviction(facts({ poolMaxDrainSeconds: 0 }))).toMatchObject({ allowed: true, reason: 'deadline', drain: true });
  });

  test("the pod's annotation overrides the pool's maxDrainSeconds, both ways", () => {
    expect(decideEviction(facts({ poolMaxDrainSeconds: 10, annotations: { 'smartrouter.io/max-drain-seconds': '600' }, drainStartedMs: NOW - 20_000 }))).toMatchObject({ allowed: false, deadlineMs: NOW + 580_000 });
    const d = decideEviction(facts({ poolMaxDrainSeconds: 600, annotations: { 'smartrouter.io/max-drain-seconds': '10' }, drainStartedMs: NOW - 20_000 }));
    expect(d).toMatchObject({ allowed: true, reason: 'deadline' });
    expect(d.message).toMatch(/maxDrainSeconds 10, from smartrouter.io\/max-drain-seconds/);
  });

  test("a drain deadline never outlasts the calls' own expiry", () => {
    expect(decideEviction(facts({ poolMaxDrainSeconds: 7200 })).deadlineMs).toBe(NOW + 3600_000);
  });

  test('an unreadable max-drain-seconds annotation is ignored and said so in the denial', () => {
    for (const bad of ['abc', '-5', '1.5', '', '99999999']) {
      const d = decideEviction(facts({ poolMaxDrainSeconds: 60, annotations: { 'smartrouter.io/max-drain-seconds': bad } }));
      expect(d).toMatchObject({ allowed: false, deadlineMs: NOW + 60_000 });
      expect(d.problems).toEqual([`smartrouter.io/max-drain-seconds=${JSON.stringify(bad)} is not a whole number of seconds; ignored`]);
      expect(d.message).toContain('is not a whole number of seconds; ignored');
    }
  });

  test('forced by annotation is allowed with its calls', () => {
    const d = decideEviction(facts({ annotations: { 'smartrouter.io/force-eviction': 'true' } }));
    expect(d).toMatchObject({ allowed: true, reason: 'forced', calls: 2, drain: true });
    expect(d.message).toBe('pod voice-agent-0 evicted with 2 active calls: smartrouter.io/force-eviction=true');
  });

  test('force "false" or an unknown value does not force; the unknown value is reported', () => {
    expect(decideEviction(facts({ annotations: { 'smartrouter.io/force-eviction': 'false' } }))).toMatchObject({ allowed: false, problems: [] });
    expect(decideEviction(facts({ annotations: { 'smartrouter.io/force-eviction': 'yes' } }))).toMatchObject({
      allowed: false,
      problems: ['smartrouter.io/force-eviction="yes" is neither "true" nor "false"; ignored'],
    });
  });

  test('force on an idle pod reads as idle: nothing was cut', () => {
    expect(decideEviction(facts({ routing: { pool: 'standard', calls: 0, callsExpireMs: null }, annotations: { 'smartrouter.io/force-eviction': 'true' } }))).toMatchObject({ reason: 'idle' });
  });

  test('with calls and nothing bounding them (no expiry known, no deadline) waits and says so', () => {
    const d = decideEviction(facts({ routing: { pool: 'standard', calls: 1, callsExpireMs: null } }));
    expect(d).toMatchObject({ allowed: false, deadlineMs: null });
    expect(d.message).toMatch(/\(no deadline\)$/);
  });

  test('a stale drain start from the past that already passed the deadline allows at once', () => {
    expect(decideEviction(facts({ poolMaxDrainSeconds: 60, drainStartedMs: NOW - 3600_000 }))).toMatchObject({ allowed: true, reason: 'deadline' });
  });
});
