import { createHmac } from 'node:crypto';
import { plivoV3Signature, plivoV3SigningString, twilioSignature, verifyPlivoV3Signature, verifyTwilioSignature } from '../../../../api/telephony/signatures.js';

describe('Twilio request signatures', () => {
  // The worked example from Twilio's request-validation documentation.
  const token = '12345';
  const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
  const params = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675309', Digits: '1234', From: '+14158675309', To: '+18005551212' };

  test("reproduce Twilio's documented signature", () => {
    expect(twilioSignature(token, url, params)).toBe('RSOYDt4T1cUTdK1PDd93/VVr8B8=');
    expect(verifyTwilioSignature(token, url, params, 'RSOYDt4T1cUTdK1PDd93/VVr8B8=')).toBe(true);
  });

  test('fail when any input changes, or the signature is missing', () => {
    expect(verifyTwilioSignature('54321', url, params, 'RSOYDt4T1cUTdK1PDd93/VVr8B8=')).toBe(false);
    expect(verifyTwilioSignature(token, `${url}&x=1`, params, 'RSOYDt4T1cUTdK1PDd93/VVr8B8=')).toBe(false);
    expect(verifyTwilioSignature(token, url, { ...params, Digits: '9999' }, 'RSOYDt4T1cUTdK1PDd93/VVr8B8=')).toBe(false);
    expect(verifyTwilioSignature(token, url, params, undefined)).toBe(false);
    expect(verifyTwilioSignature(token, url, params, '')).toBe(false);
  });
});

describe('Plivo V3 signatures', () => {
  const token = 'MAXXXXXXXXXXXXXXXXXX-token';
  const url = 'https://router.example.com/api/v1/plivo/allocate?merchant_id=m1&a=2';
  const params = { To: '14155550100', CallUUID: 'c6b2a4e0-1111', From: '14155550123' };

  test('sign the URL, the sorted query, a dot, the sorted POST parameters, a dot and the nonce', () => {
    // Written out by hand from Plivo's documented algorithm.
    const expected = 'https://router.example.com/api/v1/plivo/allocate?a=2&merchant_id=m1.CallUUID=c6b2a4e0-1111From=14155550123To=14155550100';
    expect(plivoV3SigningString(url, params)).toBe(expected);
    const signature = createHmac('sha256', token).update(`${expected}.nonce-123`).digest('base64');
    expect(plivoV3Signature(token, url, 'nonce-123', params)).toBe(signature);
  });

  test('without a query the POST parameters follow a bare "?"; with neither, the URL stands alone', () => {
    expect(plivoV3SigningString('https://h/p', { B: '2', A: '1' })).toBe('https://h/p?A=1B=2');
    expect(plivoV3SigningString('https://h/p?x=1', {})).toBe('https://h/p?x=1');
    expect(plivoV3SigningString('https://h/p', {})).toBe('https://h/p');
  });

  test('accept any of several comma-separated signatures, and refuse a wrong or missing one', () => {
    const good = plivoV3Signature(token, url, 'n', params);
    expect(verifyPlivoV3Signature(token, url, 'n', params, `bogus=,${good}`)).toBe(true);
    expect(verifyPlivoV3Signature(token, url, 'other-nonce', params, good)).toBe(false);
    expect(verifyPlivoV3Signature(token, url, 'n', { ...params, To: '1' }, good)).toBe(false);
    expect(verifyPlivoV3Signature(token, url, undefined, params, good)).toBe(false);
    expect(verifyPlivoV3Signature(token, url, 'n', params, undefined)).toBe(false);
  });
});
