import { StatusWriteBudget } from '../../../operator/status-write-budget.js';

describe('StatusWriteBudget', () => {
  test('gives at most its writes in any minute, and says when the next one is free', () => {
    const budget = new StatusWriteBudget(3);
    expect([budget.take(0), budget.take(10), budget.take(20), budget.take(30)]).toEqual([true, true, true, false]);
    expect(budget.nextInMs(30)).toBe(59_970);
    expect(budget.take(59_999)).toBe(false);
    // The first write leaves the window: one more, not three.
    expect(budget.take(60_000)).toBe(true);
    expect(budget.take(60_001)).toBe(false);
    expect(budget.nextInMs(60_001)).toBe(9);
  });

  test('a burst after a quiet minute gets the whole budget again', () => {
    const budget = new StatusWriteBudget(2);
    budget.take(0);
    budget.take(1);
    expect(budget.nextInMs(120_000)).toBe(0);
    expect([budget.take(120_000), budget.take(120_000), budget.take(120_000)]).toEqual([true, true, false]);
  });

  test('clear gives the whole budget back (a new term of leadership)', () => {
    const budget = new StatusWriteBudget(1);
    budget.take(0);
    budget.clear();
    expect(budget.take(1)).toBe(true);
  });

  test('a budget of less than one write refuses to exist', () => {
    expect(() => new StatusWriteBudget(0)).toThrow(/positive integer/);
    expect(() => new StatusWriteBudget(1.5)).toThrow(/positive integer/);
  });
});
