import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObjectCache, V1Pod } from '@kubernetes/client-node';
import type { WebhookConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { RoutingStore } from '../lua/routing-store.js';
import { CertificateKeeper } from '../operator/eviction-guard/certificate-keeper.js';
import type { KeyPair } from '../operator/eviction-guard/certificates.js';
import { kubernetesDrainMarker } from '../operator/eviction-guard/drain-marker.js';
import { EvictionGuard } from '../operator/eviction-guard/eviction-guard.js';
import { registerEvictionWebhook } from '../operator/eviction-guard/webhook-registration.js';
import { WebhookServer } from '../operator/eviction-guard/webhook-server.js';
import type { EventRecorder } from '../operator/events.js';
import type { KubeClients } from '../operator/kube-client.js';
import type { OperatorMetrics } from '../operator/operator-metrics.js';

export interface RunningEvictionGuard {
  server: WebhookServer;
  stop(): Promise<void>;
}

interface Deps {
  clients: KubeClients;
  namespace: string;
  pods: ObjectCache<V1Pod>;
  store: RoutingStore;
  events: EventRecorder;
  metrics: OperatorMetrics;
  logger: Logger;
}

/** Names the serving certificate carries: the chart's Service, and loopback for the `url` registration. */
function servingNames(config: WebhookConfig, namespace: string): { dnsNames: string[]; ips: string[] } {
  const svc = config.serviceName;
  const dnsNames = svc ? [`${svc}.${namespace}.svc`, `${svc}.${namespace}.svc.cluster.local`, `${svc}.${namespace}`, svc] : [];
  return { dnsNames: [...dnsNames, 'localhost'], ips: config.registration === 'url' ? [config.urlHost] : [] };
}

async function readCertDir(dir: string): Promise<KeyPair> {
  const [cert, key] = await Promise.all([readFile(join(dir, 'tls.crt'), 'utf8'), readFile(join(dir, 'tls.key'), 'utf8')]);
  return { cert, key };
}

/**
 * Serves the eviction guard on this replica: certificates (its own, kept in
 * the shared Secret, or cert-manager's mounted files), the HTTPS listener,
 * and, outside a cluster, the webhook configuration pointing at it.
 */
export async function startEvictionGuard(config: WebhookConfig, host: string, deps: Deps): Promise<RunningEvictionGuard> {
  const { clients, namespace, logger } = deps;
  const port = config.port ?? 0;
  const configurationName = config.configurationName ?? `smart-router-${namespace}`;
  const guard = new EvictionGuard({
    store: deps.store,
    namespace,
    pod: (name) => {
      const pod = deps.pods.get(name, namespace);
      return pod ? { uid: pod.metadata?.uid, annotations: pod.metadata?.annotations ?? {} } : undefined;
    },
    marker: kubernetesDrainMarker(clients.core, namespace),
    events: deps.events,
    metrics: deps.metrics,
    logger,
  });

  let server: WebhookServer | undefined;
  let stopCerts: () => void;
  let initial: KeyPair;
  let bundle = '';
  if (config.certificates === 'files') {
    const dir = config.certDir as string;
    initial = await readCertDir(dir);
    bundle = await readFile(join(dir, 'ca.crt'), 'utf8').catch(() => '');
    let last = initial.cert + initial.key;
    // Mounted Secrets change in place (cert-manager renews, the kubelet updates the volume).
    const timer = setInterval(() => {
      readCertDir(dir)
        .then((pair) => {
          if (pair.cert + pair.key === last) return;
          last = pair.cert + pair.key;
          server?.reload(pair);
          logger.info('webhook serving certificate reloaded', { dir });
        })
        .catch((err: Error) => logger.warn('could not read webhook certificates', { dir, error: err.message }));
    }, config.certCheckSeconds * 1000);
    stopCerts = () => clearInterval(timer);
  } else {
    const keeper = new CertificateKeeper(
      clients.core,
      clients.admission,
      {
        namespace,
        secretName: config.secretName,
        webhookConfiguration: config.registration === 'none' ? null : configurationName,
        checkIntervalMs: config.certCheckSeconds * 1000,
        policy: {
          caLifetimeMs: config.caLifetimeSeconds * 1000,
          servingLifetimeMs: config.certLifetimeSeconds * 1000,
          caOverlapMs: config.caOverlapSeconds * 1000,
          ...servingNames(config, namespace),
        },
      },
      logger,
      (serving) => {
        server?.reload(serving);
        logger.info('webhook serving certificate reloaded', { secret: config.secretName });
      },
    );
    const set = await keeper.sync();
    initial = set.serving;
    bundle = keeper.bundle();
    keeper.start();
    stopCerts = () => keeper.stop();
  }

  server = await WebhookServer.listen(host, port, initial, guard, logger);
  if (config.registration === 'url') {
    const baseUrl = `https://${config.urlHost.includes(':') ? `[${config.urlHost}]` : config.urlHost}:${server.port}`;
    await registerEvictionWebhook(clients.admission, { name: configurationName, namespace, baseUrl, caBundle: bundle, timeoutSeconds: config.timeoutSeconds });
    logger.info('eviction webhook registered', { webhook_configuration: configurationName, url: baseUrl });
  }
  const running = server;
  return {
    server: running,
    async stop() {
      stopCerts();
      await running.close();
    },
  };
}
