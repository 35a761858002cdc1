import { resolveRoute } from '../../../core/route.js';
import { pool } from '../../support/routing.js';

const fleet = [
  pool('gold', { tier: 'gold', priority: 100, merchants: ['m-gold'], fallback: ['standard'] }),
  pool('standard', { tier: 'standard', priority: 50, fallback: ['basic'] }),
  pool('standard-eu', { tier: 'standard', priority: 10, fallback: ['basic', 'standard'] }),
  pool('basic', { tier: 'basic' }),
  pool('vip', { tier: 'standard', merchants: ['m-vip'], fallback: ['gold'] }),
];

describe('resolveRoute', () => {
  test("the tier's pools by priority, each followed by its fallback chain, no repeats", () => {
    expect(resolveRoute(fleet, { tier: 'standard' })).toEqual(['standard', 'basic', 'standard-eu']);
  });

  test("a merchant's dedicated pools come first, then the tier's pools", () => {
    expect(resolveRoute(fleet, { tier: 'standard', merchantId: 'm-gold' })).toEqual(['gold', 'standard', 'basic', 'standard-eu']);
  });

  test('a pool dedicated to other merchants is never entered, not even as a fallback', () => {
    expect(resolveRoute(fleet, { tier: 'gold' })).toEqual([]);
    expect(resolveRoute(fleet, { tier: 'standard', merchantId: 'm-vip' })).toEqual(['vip', 'standard', 'basic', 'standard-eu']);
  });

  test('fallback cycles end, and unknown fallback names are skipped', () => {
    const cyclic = [pool('a', { tier: 't', fallback: ['b', 'nope'] }), pool('b', { tier: 'x', fallback: ['a'] })];
    expect(resolveRoute(cyclic, { tier: 't' })).toEqual(['a', 'b']);
  });

  test('fallback is transitive and depth first', () => {
    const chain = [pool('a', { tier: 't', fallback: ['b', 'd'] }), pool('b', { tier: 'x', fallback: ['c'] }), pool('c', { tier: 'x' }), pool('d', { tier: 'x' })];
    expect(resolveRoute(chain, { tier: 't' })).toEqual(['a', 'b', 'c', 'd']);
  });

  test('an unknown tier or merchant alone routes nowhere', () => {
    expect(resolveRoute(fleet, { tier: 'platinum' })).toEqual([]);
    expect(resolveRoute(fleet, { tier: 'platinum', merchantId: 'nobody' })).toEqual([]);
  });
});
