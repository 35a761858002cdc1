import {
  plivoV3Signature,
  plivoV3SigningString,
  twilioAlternateUrl,
  twilioSignature,
  verifyPlivoV3Signature,
  verifyTwilioSignature,
} from '../../../../api/telephony/signatures.js';
import { plivoSign, twilioSign, type Form } from '../../../support/provider-signing.js';

// Twilio's vectors come from the request-validation tests of Twilio's own
// PHP library (tests/unit/Security/RequestValidatorTest.php): auth token
// 12345, this URL, these parameters. The same URL and parameters with Caller
// and From +14158675310 give GvWf1cFY/Q7PnoempGyD5oXAezc=, the form most often
// quoted from Twilio's security page.
describe('Twilio request signatures', () => {
  const token = '12345';
  const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
  const params = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675309', Digits: '1234', From: '+14158675309', To: '+18005551212' };
  const SIGNATURE = 'RSOYDt4T1cUTdK1PDd93/VVr8B8=';

  test("reproduce the signatures of Twilio's own library", () => {
    expect(twilioSignature(token, url, params)).toBe(SIGNATURE);
    expect(twilioSignature(token, url, { ...params, Caller: '+14158675310', From: '+14158675310' })).toBe('GvWf1cFY/Q7PnoempGyD5oXAezc=');
    // A repeated parameter: its values sorted and deduplicated.
    expect(twilioSignature(token, url, { Sid: 'CA123', SidAccount: 'AC123', Digits: ['5678', '1234', '1234'] })).toBe('IK+Dwps556ElfBT0I3Rgjkr1wJU=');
    expect(verifyTwilioSignature(token, url, params, SIGNATURE)).toBe(true);
  });

  test("accept the URL with or without its port, as Twilio's libraries do", () => {
    // Signed without the port, received on :1234.
    expect(verifyTwilioSignature(token, url.replace('.com', '.com:1234'), params, SIGNATURE)).toBe(true);
    // Signed with :1234 over http, received so.
    expect(verifyTwilioSignature(token, url.replace('.com', '.com:1234').replace('https', 'http'), params, 'Zmvh+3yNM1Phv2jhDCwEM3q5ebU=')).toBe(true);
    // Signed with the standard port, received without it.
    expect(verifyTwilioSignature(token, url, params, 'kvajT1Ptam85bY51eRf/AJRuM3w=')).toBe(true);
    expect(verifyTwilioSignature(token, url.replace('https', 'http'), params, '0ZXoZLH/DfblKGATFgpif+LLRf4=')).toBe(true);
    expect(twilioAlternateUrl('https://h.example:8443/p?q=1')).toBe('https://h.example/p?q=1');
    expect(twilioAlternateUrl('http://h.example/p')).toBe('http://h.example:80/p');
    expect(twilioAlternateUrl('not a url')).toBeUndefined();
  });

  test('fail when any input changes, or the signature is missing', () => {
    expect(verifyTwilioSignature('54321', url, params, SIGNATURE)).toBe(false);
    expect(verifyTwilioSignature(token, `${url}&x=1`, params, SIGNATURE)).toBe(false);
    expect(verifyTwilioSignature(token, url.replace('https', 'http'), params, SIGNATURE)).toBe(false);
    expect(verifyTwilioSignature(token, url, { ...params, Digits: '9999' }, SIGNATURE)).toBe(false);
    expect(verifyTwilioSignature(token, url, { ...params, Extra: '' }, SIGNATURE)).toBe(false);
    expect(verifyTwilioSignature(token, url, params, SIGNATURE.slice(0, -1))).toBe(false);
    expect(verifyTwilioSignature(token, url, params, undefined)).toBe(false);
    expect(verifyTwilioSignature(token, url, params, '')).toBe(false);
  });

  test("the tests' signer signs as Twilio's library does", () => {
    expect(twilioSign(token, url, params)).toBe(SIGNATURE);
    expect(twilioSign(token, url, { Sid: 'CA123', SidAccount: 'AC123', Digits: ['5678', '1234', '1234'] })).toBe('IK+Dwps556ElfBT0I3Rgjkr1wJU=');
  });
});

// Plivo publishes no V3 example. These vectors were made with Plivo's Python
// SDK (plivo 4.63.0, plivo.utils.signature_v3), whose algorithm is the same
// as its Node SDK's (validateV3Signature): the expected values do not come
// from the code under test.
describe('Plivo V3 signatures', () => {
  const token = 'MAXXXXXXXXXXXXXXXXXX-token';
  const vectors: { url: string; params: Form; nonce: string; signed: string; signature: string }[] = [
    {
      url: 'https://router.example.com/api/v1/plivo/allocate?merchant_id=m1&a=2',
      params: { To: '14155550100', CallUUID: 'c6b2a4e0-1111', From: '14155550123' },
      nonce: '05429567804466091622',
      signed: 'https://router.example.com/api/v1/plivo/allocate?a=2&merchant_id=m1.CallUUIDc6b2a4e0-1111From14155550123To14155550100',
      signature: 'uRk9HxDcu6UL1wna1qNmJb2R1B6gmxZMP8Eplk65cKw=',
    },
    {
      url: 'https://router.example.com/api/v1/plivo/status',
      params: { CallUUID: 'c6b2a4e0-1111', Event: 'Hangup', CallStatus: 'completed' },
      nonce: '12345',
      signed: 'https://router.example.com/api/v1/plivo/status?CallStatuscompletedCallUUIDc6b2a4e0-1111EventHangup',
      signature: 'rJ29W1a77sGFeDs4y9KKdpHGgd2kbejA4oKFAeDVD48=',
    },
    {
      url: 'https://router.example.com:8443/api/v1/plivo/allocate?tier=basic',
      params: {},
      nonce: 'n1',
      signed: 'https://router.example.com:8443/api/v1/plivo/allocate?tier=basic',
      signature: 'yVSeTCMYg8V/UTWvPKL24XRrcigTGxUXvcwDWbHItoU=',
    },
    {
      url: 'https://router.example.com/api/v1/plivo/allocate?reseller_id=r%201&merchant_id=m1&a=2&a=1',
      params: { To: '14155550100', CallUUID: 'c6b2a4e0-1111', From: '14155550123' },
      nonce: 'nonce-a',
      signed: 'https://router.example.com/api/v1/plivo/allocate?a=1&a=2&merchant_id=m1&reseller_id=r 1.CallUUIDc6b2a4e0-1111From14155550123To14155550100',
      signature: '6og4qkzSd26YDuH1Hw2zzAOglFAY8cJa/WDWrIYYmWw=',
    },
    {
      url: 'https://router.example.com/api/v1/plivo/status?x=',
      params: { Digits: ['5', '1'], CallUUID: 'u' },
      nonce: 'nonce-b',
      signed: 'https://router.example.com/api/v1/plivo/status?x=.CallUUIDuDigits1Digits5',
      signature: '9WmHHF6sPNYaVb5IyAp2W6wXz5BDjUJKlZkCgIYhq4c=',
    },
  ];

  test.each(vectors)('sign $url as Plivo does', ({ url, params, nonce, signed, signature }) => {
    expect(plivoV3SigningString(url, params)).toBe(signed);
    expect(plivoV3Signature(token, url, nonce, params)).toBe(signature);
    expect(verifyPlivoV3Signature(token, url, nonce, params, signature)).toBe(true);
    expect(plivoSign(token, url, nonce, params)).toBe(signature);
  });

  test('accept any of several comma-separated signatures, and refuse a wrong or missing one', () => {
    const { url, params, nonce, signature } = vectors[0]!;
    expect(verifyPlivoV3Signature(token, url, nonce, params, `bogus=,${signature}`)).toBe(true);
    expect(verifyPlivoV3Signature(token, url, nonce, params, `${signature}, other=`)).toBe(true);
    expect(verifyPlivoV3Signature('other-token', url, nonce, params, signature)).toBe(false);
    expect(verifyPlivoV3Signature(token, url, 'other-nonce', params, signature)).toBe(false);
    expect(verifyPlivoV3Signature(token, url.replace('m1', 'm2'), nonce, params, signature)).toBe(false);
    expect(verifyPlivoV3Signature(token, url, nonce, { ...params, To: '1' }, signature)).toBe(false);
    expect(verifyPlivoV3Signature(token, url, undefined, params, signature)).toBe(false);
    expect(verifyPlivoV3Signature(token, url, nonce, params, undefined)).toBe(false);
    expect(verifyPlivoV3Signature(token, url, nonce, params, '')).toBe(false);
  });
});
