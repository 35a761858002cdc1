import { bundleFingerprints, caBundle, planRotation, type CertificateSet, type RotationPolicy } from '../../../../operator/eviction-guard/certificate-rotation.js';
import { certificateInfo, issueCa, issueServing, signedBy, splitPem } from '../../../../operator/eviction-guard/certificates.js';

const T0 = new Date('2026-11-30T12:00:00Z');
const HOUR = 3600_000;
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const policy: RotationPolicy = { caLifetimeMs: 30 * HOUR, servingLifetimeMs: 9 * HOUR, caOverlapMs: 60_000, dnsNames: ['guard.calls.svc', 'localhost'], ips: ['127.0.0.1'] };
const fps = (set: CertificateSet) => bundleFingerprints(caBundle(set));

async function fresh(now = T0, caLife = 30 * HOUR, servingLife = 9 * HOUR): Promise<CertificateSet> {
  const ca = await issueCa('test ca', now, caLife);
  return { ca, trusted: [ca.cert], serving: await issueServing(ca, policy.dnsNames, policy.ips, now, servingLife) };
}

describe('issuing certificates', () => {
  test('the CA signs a serving certificate for the names and IPs asked, which never outlives the CA', async () => {
    const ca = await issueCa('test ca', T0, HOUR);
    const serving = await issueServing(ca, ['a.b.svc'], ['127.0.0.1'], T0, 10 * HOUR);
    const info = certificateInfo(serving.cert);
    expect(signedBy(serving.cert, ca.cert)).toBe(true);
    expect(info.isCa).toBe(false);
    expect(certificateInfo(ca.cert).isCa).toBe(true);
    expect(info.subjectAltName).toBe('DNS:a.b.svc, IP Address:127.0.0.1');
    expect(info.notAfter.getTime()).toBeLessThanOrEqual(certificateInfo(ca.cert).notAfter.getTime());
    const other = await issueCa('other', T0, HOUR);
    expect(signedBy(serving.cert, other.cert)).toBe(false);
  });

  test('a PEM bundle splits into its certificates', async () => {
    const [a, b] = [await issueCa('a', T0, HOUR), await issueCa('b', T0, HOUR)];
    expect(splitPem(a.cert + b.cert).map((p) => certificateInfo(p).subject)).toEqual(['CN=a', 'CN=b']);
    expect(splitPem('junk')).toEqual([]);
  });
});

describe('planning a rotation', () => {
  test('nothing yet, or something unreadable: create', async () => {
    expect(planRotation(null, T0, policy, null).kind).toBe('create');
    const set = await fresh();
    expect(planRotation({ ...set, serving: { cert: 'garbage', key: 'x' } }, T0, policy, null).kind).toBe('create');
  });

  test('fresh certificates need nothing', async () => {
    const set = await fresh();
    expect(planRotation(set, at(60), policy, fps(set))).toEqual({ kind: 'none' });
  });

  test('the serving certificate is reissued two thirds through its life, not before', async () => {
    const set = await fresh();
    expect(planRotation(set, new Date(T0.getTime() + 5.9 * HOUR), policy, fps(set)).kind).toBe('none');
    expect(planRotation(set, new Date(T0.getTime() + 6.1 * HOUR), policy, fps(set)).kind).toBe('reissue-serving');
  });

  test('a serving certificate missing a name the webhook is reached by is reissued', async () => {
    const set = await fresh();
    expect(planRotation(set, T0, { ...policy, dnsNames: ['other.calls.svc'] }, fps(set))).toMatchObject({ kind: 'reissue-serving', why: expect.stringMatching(/lacks a name/) });
  });

  test('a CA rotation adds the next CA, waits until it is published for the overlap, then promotes it; the old CA stays trusted until it expires', async () => {
    let set = await fresh();
    const late = new Date(T0.getTime() + 20.5 * HOUR);
    expect(planRotation(set, late, policy, fps(set)).kind).toBe('add-next-ca');
    const nextCa = await issueCa('next ca', late, 30 * HOUR);
    set = { ...set, nextCa, trusted: [...set.trusted, nextCa.cert] };
    const published = fps(set);
    const oldOnly = bundleFingerprints(set.ca.cert);
    // Not yet in the configuration's caBundle: the API server would not trust a certificate it signs.
    expect(planRotation(set, new Date(late.getTime() + HOUR), policy, oldOnly).kind).not.toBe('promote-next-ca');
    // Published, but not for the overlap yet (notBefore is backdated a minute, so the wait is overlap + 1 minute).
    expect(planRotation(set, new Date(late.getTime() + 30_000), policy, published).kind).not.toBe('promote-next-ca');
    expect(planRotation(set, new Date(late.getTime() + 61_000), policy, published).kind).toBe('promote-next-ca');
    const promotedServing = await issueServing(nextCa, policy.dnsNames, policy.ips, late, 9 * HOUR);
    const promoted: CertificateSet = { ca: nextCa, serving: promotedServing, trusted: set.trusted };
    expect(planRotation(promoted, new Date(late.getTime() + 2 * HOUR), policy, published).kind).toBe('none');
    // The old CA leaves the bundle once expired (30 h after T0); the serving certificate was renewed meanwhile.
    const renewed = { ...promoted, serving: await issueServing(nextCa, policy.dnsNames, policy.ips, new Date(T0.getTime() + 28 * HOUR), 9 * HOUR) };
    const plan = planRotation(renewed, new Date(T0.getTime() + 30.1 * HOUR), policy, published);
    expect(plan).toMatchObject({ kind: 'prune-trusted', keep: [nextCa.cert] });
  });

  test('a serving certificate not signed by the CA is reissued', async () => {
    const set = await fresh();
    const other = await fresh();
    expect(planRotation({ ...set, serving: other.serving }, T0, policy, fps(set)).kind).toBe('reissue-serving');
  });

  test('an expired CA, or a CA missing from its bundle, starts over', async () => {
    const set = await fresh(T0, 3 * HOUR, HOUR);
    expect(planRotation(set, at(3 * 3600 + 1), { ...policy, caLifetimeMs: 3 * HOUR, servingLifetimeMs: HOUR }, fps(set)).kind).toBe('create');
    expect(planRotation({ ...set, trusted: [] }, T0, policy, fps(set)).kind).toBe('create');
  });
});
