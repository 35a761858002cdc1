import { certificateInfo, signedBy, splitPem, type KeyPair } from './certificates.js';

/**
 * The webhook's certificates as the shared Secret holds them. The API server
 * trusts `trusted` (the webhook configuration's caBundle); `serving` is what
 * every replica presents, signed by `ca`.
 */
export interface CertificateSet {
  ca: KeyPair;
  /** The CA that takes over once the API server trusts it; present only during a CA rotation. */
  nextCa?: KeyPair;
  /** PEM CA certificates the caBundle holds: the CA, the next one, and old ones until they expire. */
  trusted: string[];
  serving: KeyPair;
}

export interface RotationPolicy {
  /** Lifetimes new certificates get; each is renewed when a third of it is left. */
  caLifetimeMs: number;
  servingLifetimeMs: number;
  /** A new CA is trusted this long (and seen in the published caBundle) before it signs the serving certificate. */
  caOverlapMs: number;
  /** Names the serving certificate must carry. */
  dnsNames: readonly string[];
  ips: readonly string[];
}

export type RotationStep =
  | { kind: 'create'; why: string }
  | { kind: 'add-next-ca'; why: string }
  | { kind: 'promote-next-ca'; why: string }
  | { kind: 'reissue-serving'; why: string }
  | { kind: 'prune-trusted'; why: string; keep: string[] }
  | { kind: 'none' };

/**
 * A certificate is renewed once a third of its configured lifetime is left,
 * well before it expires. (Its own notBefore is backdated and a serving
 * certificate is cut short to its CA's end, so neither says its lifetime.)
 */
export function dueForRenewal(pem: string, now: Date, lifetimeMs: number): boolean {
  return certificateInfo(pem).notAfter.getTime() - now.getTime() <= lifetimeMs / 3;
}

function coversNames(pem: string, dnsNames: readonly string[], ips: readonly string[]): boolean {
  const info = certificateInfo(pem);
  const san = info.subjectAltName ?? '';
  const entries = new Set(san.split(', '));
  return dnsNames.every((d) => entries.has(`DNS:${d}`)) && ips.every((ip) => entries.has(`IP Address:${ip}`));
}

/**
 * The next step that keeps the webhook trusted without a failed call.
 * Rotation of the CA goes in three steps, each written to the Secret and
 * published in the caBundle before the next: (1) a new CA joins the bundle;
 * (2) once the published bundle has held it for `caOverlapMs`, it signs a new
 * serving certificate (replicas still on the old one stay trusted, the old
 * CA is still in the bundle); (3) the old CA leaves the bundle when it
 * expires. `published` lists the fingerprints the webhook configuration's
 * caBundle holds now (null when nobody publishes it, as with cert-manager).
 */
export function planRotation(set: CertificateSet | null, now: Date, policy: RotationPolicy, published: ReadonlySet<string> | null): RotationStep {
  if (!set) return { kind: 'create', why: 'no certificates yet' };
  let caInfo;
  try {
    caInfo = certificateInfo(set.ca.cert);
    certificateInfo(set.serving.cert);
    set.trusted.forEach((pem) => certificateInfo(pem));
    if (set.nextCa) certificateInfo(set.nextCa.cert);
  } catch (err) {
    return { kind: 'create', why: `unreadable certificate: ${(err as Error).message}` };
  }
  if (caInfo.notAfter <= now) return { kind: 'create', why: 'the CA expired' };
  const fingerprints = new Set(set.trusted.map((pem) => certificateInfo(pem).fingerprint));
  if (!fingerprints.has(caInfo.fingerprint)) return { kind: 'create', why: 'the CA is missing from its own bundle' };

  if (set.nextCa) {
    const next = certificateInfo(set.nextCa.cert);
    const inBundle = fingerprints.has(next.fingerprint);
    const isPublished = published === null || published.has(next.fingerprint);
    // notBefore is backdated a minute at issue; the overlap counts from then, a minute on the safe side of nothing.
    const trustedLongEnough = now.getTime() - next.notBefore.getTime() >= policy.caOverlapMs + 60_000;
    if (inBundle && isPublished && trustedLongEnough) return { kind: 'promote-next-ca', why: 'the next CA has been trusted for the overlap' };
  } else if (dueForRenewal(set.ca.cert, now, policy.caLifetimeMs)) {
    return { kind: 'add-next-ca', why: 'the CA is two thirds through its life' };
  }

  const serving = set.serving.cert;
  if (!signedBy(serving, set.ca.cert)) return { kind: 'reissue-serving', why: 'the serving certificate is not signed by the CA' };
  if (dueForRenewal(serving, now, policy.servingLifetimeMs)) return { kind: 'reissue-serving', why: 'the serving certificate is two thirds through its life' };
  if (!coversNames(serving, policy.dnsNames, policy.ips)) return { kind: 'reissue-serving', why: 'the serving certificate lacks a name the webhook is reached by' };

  const keep = set.trusted.filter((pem) => certificateInfo(pem).notAfter > now);
  if (keep.length < set.trusted.length) return { kind: 'prune-trusted', why: 'an old CA expired', keep };
  return { kind: 'none' };
}

/** The caBundle to publish: every trusted CA, as one PEM. */
export function caBundle(set: CertificateSet): string {
  return set.trusted.join('');
}

/** SHA-256 fingerprints of the CAs in a PEM bundle. */
export function bundleFingerprints(bundle: string): Set<string> {
  const out = new Set<string>();
  for (const pem of splitPem(bundle)) {
    try {
      out.add(certificateInfo(pem).fingerprint);
    } catch {
      // An unreadable entry trusts nothing.
    }
  }
  return out;
}
