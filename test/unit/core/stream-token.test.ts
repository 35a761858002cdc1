import { signStreamToken, verifyStreamToken } from '../../../core/stream-token.js';
import { buildWsUrl, checkWsUrlTemplate } from '../../../core/ws-url.js';

const SECRET = 'agents-shared-secret-0123456789abcdef';
const CLAIMS = { pod: 'voice-agent-1', callSid: 'CA123', expiresAt: 1_800_000_000 };
const NOW = { nowSeconds: 1_799_999_000 };

describe('stream tokens', () => {
  test('the token follows the documented recipe (vector made with the openssl CLI)', () => {
    // printf 'v1\nvoice-agent-1\nCA123\n1800000000' | openssl dgst -sha256 -hmac "$SECRET" -binary | base64 | tr '+/' '-_' | tr -d '='
    expect(signStreamToken(SECRET, CLAIMS)).toBe('v1.1800000000.PEMNik4xxUFYdxp3s1CDftaYjdw21MsgcN_X1o4Wgzs');
  });

  test('a valid token for this pod and call passes, until it expires', () => {
    const token = signStreamToken(SECRET, CLAIMS);
    expect(verifyStreamToken(SECRET, token, CLAIMS, NOW)).toEqual({ ok: true, expiresAt: CLAIMS.expiresAt });
    expect(verifyStreamToken(SECRET, token, CLAIMS, { nowSeconds: CLAIMS.expiresAt })).toMatchObject({ ok: true });
    expect(verifyStreamToken(SECRET, token, CLAIMS, { nowSeconds: CLAIMS.expiresAt + 1 })).toEqual({ ok: false, reason: 'expired' });
    expect(verifyStreamToken(SECRET, token, CLAIMS, { nowSeconds: CLAIMS.expiresAt + 1, leewaySeconds: 5 })).toMatchObject({ ok: true });
  });

  test('a token for another pod or call, a moved expiry, another secret or a changed signature is refused', () => {
    const token = signStreamToken(SECRET, CLAIMS);
    expect(verifyStreamToken(SECRET, token, { ...CLAIMS, pod: 'voice-agent-2' }, NOW)).toEqual({ ok: false, reason: 'bad signature' });
    expect(verifyStreamToken(SECRET, token, { ...CLAIMS, callSid: 'CA124' }, NOW)).toEqual({ ok: false, reason: 'bad signature' });
    const later = token.replace('1800000000', '1900000000');
    expect(verifyStreamToken(SECRET, later, CLAIMS, NOW)).toEqual({ ok: false, reason: 'bad signature' });
    expect(verifyStreamToken('another-secret-0123456789abcdef0123', token, CLAIMS, NOW)).toEqual({ ok: false, reason: 'bad signature' });
    const last = token.at(-1) === 'A' ? 'B' : 'A';
    expect(verifyStreamToken(SECRET, token.slice(0, -1) + last, CLAIMS, NOW)).toEqual({ ok: false, reason: 'bad signature' });
  });

  test.each(['', 'v1', 'v2.1800000000.PEMNik4xxUFYdxp3s1CDftaYjdw21MsgcN_X1o4Wgzs', 'v1.-5.PEMNik4xxUFYdxp3s1CDftaYjdw21MsgcN_X1o4Wgzs', 'v1.1800000000.short', 'v1.1800000000.PEMNik4xxUFYdxp3s1CDftaYjdw21MsgcN_X1o4Wgzs=', ' v1.1800000000.PEMNik4xxUFYdxp3s1CDftaYjdw21MsgcN_X1o4Wgzs'])(
    '%j is malformed',
    (token) => {
      expect(verifyStreamToken(SECRET, token, CLAIMS, NOW)).toEqual({ ok: false, reason: 'malformed' });
    },
  );

  test('during a rotation the agent accepts tokens of the old and the new secret; no secret accepts nothing', () => {
    const old = signStreamToken('old-secret-0123456789abcdef0123456', CLAIMS);
    expect(verifyStreamToken([SECRET, 'old-secret-0123456789abcdef0123456'], old, CLAIMS, NOW)).toMatchObject({ ok: true });
    expect(verifyStreamToken([], old, CLAIMS, NOW)).toEqual({ ok: false, reason: 'no secret' });
    expect(() => signStreamToken('', CLAIMS)).toThrow('a stream token needs a secret');
  });

  test('{token} is a known placeholder and needs no encoding', () => {
    expect(checkWsUrlTemplate('wss://voice.example.com/ws/pod/{pod}/{call_sid}?token={token}')).toBeUndefined();
    const token = signStreamToken(SECRET, CLAIMS);
    expect(buildWsUrl('wss://h/ws/pod/{pod}/{call_sid}?token={token}', { pod: 'voice-agent-1', call_sid: 'CA123', token })).toBe(`wss://h/ws/pod/voice-agent-1/CA123?token=${token}`);
  });
});
