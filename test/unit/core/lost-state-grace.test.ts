import { LostStateGrace } from '../../../core/lost-state-grace.js';

describe('pods busy before a loss of routing state are held out for the grace period', () => {
  test('the pods that held calls at the last read are held, until the grace period ends', () => {
    const grace = new LostStateGrace(60_000);
    grace.remember(new Map([['a', 2], ['b', 0], ['c', 1]]));
    expect(grace.stateLost(1_000)).toEqual(['a', 'c']);
    expect([...grace.heldPods(30_000)].sort()).toEqual(['a', 'c']);
    expect(grace.holdEndsAtMs(30_000)).toBe(61_000);
    expect(grace.heldPods(61_000).size).toBe(0);
    expect(grace.holdEndsAtMs(61_000)).toBeUndefined();
  });

  test('reads after the loss (Redis shows no calls) do not release the hold', () => {
    const grace = new LostStateGrace(60_000);
    grace.remember(new Map([['a', 1]]));
    grace.stateLost(0);
    grace.remember(new Map([['a', 0], ['b', 1]]));
    expect([...grace.heldPods(10_000)]).toEqual(['a']);
  });

  test('a second loss during a hold keeps the held pods and adds those busy since', () => {
    const grace = new LostStateGrace(60_000);
    grace.remember(new Map([['a', 1]]));
    grace.stateLost(0);
    grace.remember(new Map([['b', 1]]));
    expect(grace.stateLost(10_000)).toEqual(['a', 'b']);
    expect(grace.holdEndsAtMs(10_000)).toBe(70_000);
  });

  test('no busy pod, no hold; a grace of 0 holds nothing', () => {
    expect(new LostStateGrace(60_000).stateLost(0)).toEqual([]);
    const none = new LostStateGrace(0);
    none.remember(new Map([['a', 1]]));
    none.stateLost(0);
    expect(none.heldPods(0).size).toBe(0);
  });
});
