import { PatchStrategy, setHeaderOptions, type AdmissionregistrationV1Api, type V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import { statusCode } from '../kube-client.js';
import { EVICTION_WEBHOOK_PATH } from './webhook-server.js';

/** The webhook's name inside its configuration (the API server quotes it in every denial). */
export const EVICTION_WEBHOOK_NAME = 'evictions.smartrouter.io';

export interface WebhookRegistration {
  /** Name of the ValidatingWebhookConfiguration (cluster-scoped). */
  name: string;
  namespace: string;
  /** Where the API server reaches the webhook from outside the cluster, e.g. https://127.0.0.1:9443. */
  baseUrl: string;
  caBundle: string;
  timeoutSeconds: number;
}

/**
 * The configuration `smart-router operator --webhook-port` registers outside a
 * cluster: the same rules as the chart's, with a `url` client config. Fails
 * open (Ignore): a smart-router outage must never block node maintenance.
 */
export function evictionWebhookConfiguration(r: WebhookRegistration): V1ValidatingWebhookConfiguration {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: r.name, labels: { 'app.kubernetes.io/managed-by': 'smart-router' } },
    webhooks: [
      {
        name: EVICTION_WEBHOOK_NAME,
        admissionReviewVersions: ['v1'],
        clientConfig: { url: `${r.baseUrl}${EVICTION_WEBHOOK_PATH}`, caBundle: Buffer.from(r.caBundle).toString('base64') },
        rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods/eviction'], scope: 'Namespaced' }],
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': r.namespace } },
        matchPolicy: 'Equivalent',
        failurePolicy: 'Ignore',
        sideEffects: 'NoneOnDryRun',
        timeoutSeconds: r.timeoutSeconds,
      },
    ],
  };
}

/** Creates the configuration, or replaces the one there (another run's URL or CA). */
export async function registerEvictionWebhook(api: AdmissionregistrationV1Api, r: WebhookRegistration): Promise<void> {
  const body = evictionWebhookConfiguration(r);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await api.createValidatingWebhookConfiguration({ body });
      return;
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
    }
    try {
      const current = await api.readValidatingWebhookConfiguration({ name: r.name });
      await api.replaceValidatingWebhookConfiguration({ name: r.name, body: { ...body, metadata: { ...body.metadata, resourceVersion: current.metadata?.resourceVersion } } });
      return;
    } catch (err) {
      if (statusCode(err) !== 409 && statusCode(err) !== 404) throw err;
    }
  }
  throw new Error(`webhook configuration ${r.name}: kept conflicting with other writers`);
}

/** The caBundle each webhook of the configuration holds now (decoded PEM); null when the configuration is missing. */
export async function publishedCaBundles(api: AdmissionregistrationV1Api, name: string): Promise<string[] | null> {
  try {
    const current = await api.readValidatingWebhookConfiguration({ name });
    return (current.webhooks ?? []).map((w) => Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString('utf8'));
  } catch (err) {
    if (statusCode(err) === 404) return null;
    throw err;
  }
}

/** Sets the caBundle of every webhook in the configuration (the chart's, or the one registered above). */
export async function publishCaBundle(api: AdmissionregistrationV1Api, name: string, webhooks: number, bundle: string): Promise<void> {
  const value = Buffer.from(bundle).toString('base64');
  const patch = Array.from({ length: webhooks }, (_, i) => ({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value }));
  await api.patchValidatingWebhookConfiguration({ name, body: patch }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
}
