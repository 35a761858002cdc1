import { bearerToken, scopeFor } from '../../../api/auth.js';
import { parseTokenFile } from '../../../api/credentials.js';

describe('bearerToken', () => {
  test.each([
    ['Bearer abc-123._~+/==', 'abc-123._~+/=='],
    ['bearer abc', 'abc'],
    ['BEARER abc', 'abc'],
  ])('%j -> %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  test.each([undefined, '', 'abc', 'Bearer', 'Bearer ', 'Bearer  abc', 'Bearer abc ', 'Bearer a bc', 'Bearer\tabc', 'Basic abc', 'Bearer abc=x', 'Bearer ab"c', 'Token abc'])(
    '%j is no bearer token',
    (header) => {
      expect(bearerToken(header)).toBeUndefined();
    },
  );
});

describe('scopeFor', () => {
  test('allocate and release are routing; every other path, known or not, is admin', () => {
    expect(scopeFor('/allocate')).toBe('routing');
    expect(scopeFor('/release')).toBe('routing');
    for (const path of ['/drain', '/undrain', '/status', '/pod/voice-agent-1', '/allocate/x', '/Allocate', '/anything-new']) expect(scopeFor(path)).toBe('admin');
  });
});

describe('parseTokenFile', () => {
  test('one token a line; blanks, comments and surrounding whitespace ignored; bad lines reported by number', () => {
    expect(parseTokenFile('# rotated 2026-11\n  new-token-1  \n\nold-token-0\r\nhas space\n"quoted"\n')).toEqual({
      tokens: ['new-token-1', 'old-token-0'],
      invalidLines: [5, 6],
    });
    expect(parseTokenFile('')).toEqual({ tokens: [], invalidLines: [] });
  });
});
