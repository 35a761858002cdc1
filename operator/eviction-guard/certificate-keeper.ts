import type { AdmissionregistrationV1Api, CoreV1Api, V1Secret } from '@kubernetes/client-node';
import type { Logger } from '../../core/logger.js';
import { statusCode } from '../kube-client.js';
import { bundleFingerprints, caBundle, planRotation, type CertificateSet, type RotationPolicy, type RotationStep } from './certificate-rotation.js';
import { issueCa, issueServing, splitPem, type KeyPair } from './certificates.js';
import { publishCaBundle, publishedCaBundles } from './webhook-registration.js';

export interface CertificateKeeperOptions {
  namespace: string;
  secretName: string;
  /** The ValidatingWebhookConfiguration whose caBundle this keeper publishes; null when someone else does. */
  webhookConfiguration: string | null;
  checkIntervalMs: number;
  policy: RotationPolicy;
  now?: () => Date;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

/** The Secret's data as a certificate set; null when it holds none (or only part of one). */
export function certificateSetFromSecret(secret: V1Secret | null): CertificateSet | null {
  const d = secret?.data ?? {};
  const ca = { cert: unb64(d['ca.crt']), key: unb64(d['ca.key']) };
  const serving = { cert: unb64(d['tls.crt']), key: unb64(d['tls.key']) };
  if (!ca.cert || !ca.key || !serving.cert || !serving.key) return null;
  const next = { cert: unb64(d['next-ca.crt']), key: unb64(d['next-ca.key']) };
  return { ca, serving, nextCa: next.cert && next.key ? next : undefined, trusted: splitPem(unb64(d['ca-bundle.crt'])) };
}

export function secretDataOf(set: CertificateSet): Record<string, string> {
  const data: Record<string, string> = {
    'tls.crt': b64(set.serving.cert),
    'tls.key': b64(set.serving.key),
    'ca.crt': b64(set.ca.cert),
    'ca.key': b64(set.ca.key),
    'ca-bundle.crt': b64(caBundle(set)),
  };
  if (set.nextCa) {
    data['next-ca.crt'] = b64(set.nextCa.cert);
    data['next-ca.key'] = b64(set.nextCa.key);
  }
  return data;
}

/**
 * Keeps the webhook's CA and serving certificate in one Secret shared by all
 * replicas, and the caBundle of the webhook configuration in step with it.
 * Every replica runs it: writes carry the resourceVersion they read, so when
 * replicas race, one wins and the others re-read its result (create: 409,
 * update: 409). A change of serving certificate reaches `onServing`, which
 * swaps it into the listening server.
 */
export class CertificateKeeper {
  private timer: NodeJS.Timeout | undefined;
  private servingPem = '';
  private current: CertificateSet | null = null;
  private readonly now: () => Date;

  constructor(
    private readonly core: CoreV1Api,
    private readonly admission: AdmissionregistrationV1Api,
    private readonly options: CertificateKeeperOptions,
    private readonly logger: Logger,
    private readonly onServing: (serving: KeyPair) => void = () => undefined,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  /** The certificates after bringing the Secret up to date (and the caBundle, when this keeper publishes it). */
  async sync(): Promise<CertificateSet> {
    for (let round = 0; round < 10; round++) {
      const secret = await this.readSecret();
      const set = certificateSetFromSecret(secret);
      const published = await this.publishedFingerprints();
      const step = planRotation(set, this.now(), this.options.policy, published);
      if (step.kind === 'none' && set) {
        await this.publish(set, published);
        this.adopt(set);
        return set;
      }
      const next = await this.apply(step, set);
      this.logger.info('webhook certificates rotated', { step: step.kind, why: 'why' in step ? step.why : undefined, secret: this.options.secretName });
      if (await this.write(secret, next)) {
        // Publish at once: the next step (promoting a new CA) waits until the API server trusts it.
        await this.publish(next, published);
        this.adopt(next);
      }
    }
    throw new Error(`secret ${this.options.secretName}: certificates kept changing under this replica`);
  }

  start(): void {
    const tick = () => {
      this.sync()
        .catch((err: Error) => this.logger.warn('webhook certificate check failed; retrying', { error: err.message, secret: this.options.secretName }))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, this.options.checkIntervalMs);
        });
    };
    this.timer = setTimeout(tick, this.options.checkIntervalMs);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The caBundle of the certificates in use. */
  bundle(): string {
    return this.current ? caBundle(this.current) : '';
  }

  private adopt(set: CertificateSet): void {
    this.current = set;
    if (set.serving.cert !== this.servingPem) {
      const first = this.servingPem === '';
      this.servingPem = set.serving.cert;
      if (!first) this.onServing(set.serving);
    }
  }

  private async apply(step: RotationStep, set: CertificateSet | null): Promise<CertificateSet> {
    const { policy } = this.options;
    const { caLifetimeMs, servingLifetimeMs } = policy;
    const now = this.now();
    const serve = (ca: KeyPair) => issueServing(ca, policy.dnsNames, policy.ips, now, servingLifetimeMs);
    const caName = `smart-router-webhook-ca-${now.toISOString()}`;
    if (step.kind === 'create' || !set) {
      const ca = await issueCa(caName, now, caLifetimeMs);
      // A CA that is being replaced stays trusted: replicas may still serve a certificate it signed.
      const keep = set ? set.trusted.filter((pem) => pem !== ca.cert) : [];
      return { ca, serving: await serve(ca), trusted: [...keep, ca.cert] };
    }
    switch (step.kind) {
      case 'add-next-ca': {
        const nextCa = await issueCa(caName, now, caLifetimeMs);
        return { ...set, nextCa, trusted: [...set.trusted, nextCa.cert] };
      }
      case 'promote-next-ca': {
        const ca = set.nextCa as KeyPair;
        return { ca, nextCa: undefined, serving: await serve(ca), trusted: set.trusted };
      }
      case 'reissue-serving':
        return { ...set, serving: await serve(set.ca) };
      case 'prune-trusted':
        return { ...set, trusted: step.keep };
      default:
        return set;
    }
  }

  private async readSecret(): Promise<V1Secret | null> {
    try {
      return await this.core.readNamespacedSecret({ name: this.options.secretName, namespace: this.options.namespace });
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw err;
    }
  }

  /** Creates or updates the Secret from what was read; false when another replica wrote first. */
  private async write(read: V1Secret | null, set: CertificateSet): Promise<boolean> {
    const { namespace, secretName } = this.options;
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      // An existing Secret (the chart's, owned by Helm) keeps its labels and annotations.
      metadata: read
        ? { name: secretName, namespace, labels: read.metadata?.labels, annotations: read.metadata?.annotations, resourceVersion: read.metadata?.resourceVersion }
        : { name: secretName, namespace, labels: { 'app.kubernetes.io/managed-by': 'smart-router' } },
      data: secretDataOf(set),
    };
    try {
      if (read) await this.core.replaceNamespacedSecret({ name: secretName, namespace, body });
      else await this.core.createNamespacedSecret({ namespace, body });
      return true;
    } catch (err) {
      if (statusCode(err) === 409) return false;
      throw err;
    }
  }

  private async publishedFingerprints(): Promise<Set<string> | null> {
    const name = this.options.webhookConfiguration;
    if (!name) return null;
    const bundles = await publishedCaBundles(this.admission, name);
    if (!bundles?.length) return new Set();
    // A CA counts as published only when every webhook of the configuration trusts it.
    const sets = bundles.map(bundleFingerprints);
    return new Set([...(sets[0] as Set<string>)].filter((f) => sets.every((s) => s.has(f))));
  }

  private async publish(set: CertificateSet, published: Set<string> | null): Promise<void> {
    const name = this.options.webhookConfiguration;
    if (!name || published === null) return;
    const wanted = bundleFingerprints(caBundle(set));
    if (wanted.size === published.size && [...wanted].every((f) => published.has(f))) return;
    const bundles = await publishedCaBundles(this.admission, name);
    if (bundles === null) return; // not registered yet: registration carries the bundle
    await publishCaBundle(this.admission, name, bundles.length, caBundle(set));
    this.logger.info('webhook caBundle published', { webhook_configuration: name, cas: wanted.size });
  }
}
