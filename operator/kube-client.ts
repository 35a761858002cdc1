import {
  AdmissionregistrationV1Api,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  createConfiguration,
  CustomObjectsApi,
  KubeConfig,
  ServerConfiguration,
  type Middleware,
  type RequestContext,
  type ResponseContext,
  type SecurityAuthentication,
} from '@kubernetes/client-node';
import { Agent as HttpsAgent } from 'node:https';
import type { OperatorMetrics } from './operator-metrics.js';

export interface KubeClients {
  core: CoreV1Api;
  apps: AppsV1Api;
  custom: CustomObjectsApi;
  coordination: CoordinationV1Api;
  admission: AdmissionregistrationV1Api;
}

/**
 * The verb and resource of one API request, as the API server's own metrics
 * name them: GET on a collection is a list, `/pods/x/status` is pods/status.
 */
export function describeRequest(method: string, url: string): { verb: string; resource: string } {
  const path = url.replace(/^[a-z]+:\/\/[^/]+/i, '').split('?')[0] ?? '';
  const parts = path.split('/').filter(Boolean);
  // /api/v1/... or /apis/<group>/<version>/...
  let rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  if (rest[0] === 'namespaces' && rest.length > 2) rest = rest.slice(2);
  const [resource = 'unknown', name, sub] = rest;
  const verbs: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
  const verb = method.toUpperCase() === 'GET' ? (name === undefined ? 'list' : 'get') : (verbs[method.toUpperCase()] ?? method.toLowerCase());
  return { verb, resource: sub ? `${resource}/${sub}` : resource };
}

/**
 * Counts every request in smart_router_kube_requests_total and bounds it with
 * a timeout, so a black-holed connection can never hold the reconcile or the
 * lease renewal forever.
 */
function requestMiddleware(metrics: OperatorMetrics, timeoutMs: number): Middleware {
  return {
    async pre(request: RequestContext): Promise<RequestContext> {
      const { verb, resource } = describeRequest(request.getHttpMethod().toString(), request.getUrl());
      metrics.kubeRequests.inc({ verb, resource });
      request.setSignal(AbortSignal.timeout(timeoutMs));
      return request;
    },
    async post(response: ResponseContext): Promise<ResponseContext> {
      return response;
    },
  };
}

/**
 * The kubeconfig's authentication, with one keep-alive HTTPS agent for all
 * requests. client-node builds a new agent per request, so each one opened a
 * new TLS connection: at 10,000 pods the handshakes (a secure context per
 * request) cost more CPU than the reconcile, and a converge's label patches
 * queued behind them. Headers (tokens) are still applied per request; the
 * agent is built again when the TLS material changes (a rotated client
 * certificate). A proxy agent is left as the kubeconfig made it.
 */
export function keepAliveAuthentication(kc: KubeConfig): SecurityAuthentication {
  let shared: { material: string; agent: HttpsAgent } | undefined;
  return {
    getName: () => 'kubeconfig authentication over one keep-alive agent',
    async applySecurityAuthentication(context: RequestContext): Promise<void> {
      await kc.applySecurityAuthentication(context);
      const fresh = context.getAgent();
      if (!(fresh instanceof HttpsAgent) || fresh.constructor !== HttpsAgent) return;
      const o = fresh.options;
      const material = JSON.stringify([o.ca, o.cert, o.key, o.pfx, o.passphrase, o.rejectUnauthorized, o.servername].map((v) => (Buffer.isBuffer(v) ? v.toString('base64') : v)));
      if (shared?.material !== material) {
        shared?.agent.destroy();
        shared = { material, agent: new HttpsAgent({ ...o, keepAlive: true }) };
      }
      context.setAgent(shared.agent);
    },
  };
}

/** API clients for the kubeconfig's cluster, each request counted and bounded by `timeoutMs`. */
export function kubeClients(kc: KubeConfig, metrics: OperatorMetrics, timeoutMs: number): KubeClients {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: keepAliveAuthentication(kc) },
    promiseMiddleware: [requestMiddleware(metrics, timeoutMs)],
  });
  return {
    core: new CoreV1Api(configuration),
    apps: new AppsV1Api(configuration),
    custom: new CustomObjectsApi(configuration),
    coordination: new CoordinationV1Api(configuration),
    admission: new AdmissionregistrationV1Api(configuration),
  };
}

/** The HTTP status of a failed API call, when it has one. */
export function statusCode(err: unknown): number | undefined {
  return (err as { code?: number } | null)?.code;
}

/** The API server's Status reason for each status code it answers a refused write with. */
const STATUS_REASONS: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/**
 * Why an API call failed, as a metric label of few values: the Status
 * reason of its HTTP status, ClientError or ServerError for a status not
 * listed, Unreachable when no answer came (refused, reset, timed out).
 * Network errors carry a string code (ECONNREFUSED), never a number.
 */
export function failureReason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'number') return 'Unreachable';
  return STATUS_REASONS[code] ?? (code >= 500 ? 'ServerError' : 'ClientError');
}
