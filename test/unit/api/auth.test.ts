import { bearerToken, scopesFor } from '../../../api/auth.js';
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

describe('scopesFor', () => {
  test('allocate and release are routing; every other path, known or not, is admin', () => {
    expect(scopesFor('POST', '/allocate')).toEqual(['routing']);
    expect(scopesFor('POST', '/release')).toEqual(['routing']);
    for (const path of ['/drain', '/undrain', '/status', '/pod/voice-agent-1', '/allocate/x', '/Allocate', '/anything-new']) expect(scopesFor('POST', path)).toEqual(['admin']);
  });

  test('POST wait-idle takes an agent or an admin token; any other method or spelling of it takes admin', () => {
    expect(scopesFor('POST', '/pod/voice-agent-1/wait-idle')).toEqual(['agent', 'admin']);
    for (const [method, path] of [
      ['GET', '/pod/voice-agent-1/wait-idle'],
      ['POST', '/pod/voice-agent-1/wait-idle/'],
      ['POST', '/pod/voice-agent-1/WAIT-IDLE'],
      ['POST', '/POD/voice-agent-1/wait-idle'],
      ['POST', '/pod/wait-idle'],
      ['POST', '/pod/a/b/wait-idle'],
      ['POST', '/pod/voice-agent-1/wait-idle/x'],
    ] as const) {
      expect({ method, path, scopes: scopesFor(method, path) }).toEqual({ method, path, scopes: ['admin'] });
    }
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
