import { selectorMatches } from '../../../core/label-selector.js';

const labels = { app: 'voice', lang: 'en', zone: 'a' };

describe('selectorMatches', () => {
  test('an absent or empty selector matches every pod', () => {
    expect(selectorMatches(undefined, labels)).toBe(true);
    expect(selectorMatches({}, {})).toBe(true);
  });
  test('matchLabels needs every pair', () => {
    expect(selectorMatches({ matchLabels: { app: 'voice', lang: 'en' } }, labels)).toBe(true);
    expect(selectorMatches({ matchLabels: { app: 'voice', lang: 'hi' } }, labels)).toBe(false);
  });
  test.each([
    [{ key: 'lang', operator: 'In' as const, values: ['en', 'hi'] }, true],
    [{ key: 'lang', operator: 'In' as const, values: ['hi'] }, false],
    [{ key: 'missing', operator: 'In' as const, values: ['x'] }, false],
    [{ key: 'lang', operator: 'NotIn' as const, values: ['hi'] }, true],
    [{ key: 'lang', operator: 'NotIn' as const, values: ['en'] }, false],
    [{ key: 'missing', operator: 'NotIn' as const, values: ['x'] }, true],
    [{ key: 'zone', operator: 'Exists' as const }, true],
    [{ key: 'missing', operator: 'Exists' as const }, false],
    [{ key: 'missing', operator: 'DoesNotExist' as const }, true],
    [{ key: 'zone', operator: 'DoesNotExist' as const }, false],
  ])('%j matches: %s', (requirement, expected) => {
    expect(selectorMatches({ matchExpressions: [requirement] }, labels)).toBe(expected);
  });
});
