// OpenTelemetry tracing through the built router process, exporting OTLP to
// a collector on loopback: the caller's traceparent is honoured, and one
// allocate is a tree of the HTTP route, the allocate decision and the Redis
// script, with the attributes on-call searches by.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { packageRoot } from '../../../core/paths.js';
import { startOtlpCollector, type CollectedSpan, type OtlpCollector } from '../../support/otlp-collector.js';
import { startRouterProcess, type RouterProcess } from '../../support/router-process.js';
import { testRedisUrl } from '../../support/routing.js';

const POOLS = join(packageRoot, 'examples', 'pools.yaml');
const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;

let collector: OtlpCollector;
let router: RouterProcess;

beforeAll(async () => {
  collector = await startOtlpCollector();
  router = await startRouterProcess(['standalone', '--config', POOLS], {
    REDIS_URL: testRedisUrl(),
    KEY_PREFIX: `trace-${process.pid}`,
    TELEPHONY_VERIFY_SIGNATURES: 'false',
    LOG_LEVEL: 'info',
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_SERVICE_NAME: 'smart-router-test',
  });
}, 60_000);
afterAll(async () => {
  await router?.stop();
  await collector?.close();
});

async function spansOf(traceId: string, until: (spans: CollectedSpan[]) => boolean): Promise<CollectedSpan[]> {
  for (let i = 0; i < 300; i++) {
    const spans = collector.spans.filter((s) => s.traceId === traceId);
    if (until(spans)) return spans;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`spans of ${traceId} never arrived; got ${JSON.stringify(collector.spans.map((s) => s.name))}`);
}

/** The chain of ancestors from a span up to the root of what the router exported. */
function ancestors(spans: CollectedSpan[], span: CollectedSpan): CollectedSpan[] {
  const chain: CollectedSpan[] = [];
  for (let p = spans.find((s) => s.spanId === span.parentSpanId); p; p = spans.find((s) => s.spanId === p!.parentSpanId)) chain.push(p);
  return chain;
}

test("one allocate is a trace under the caller's span: HTTP route, then the allocate decision, then the Redis script", async () => {
  const traceId = randomBytes(16).toString('hex');
  const callerSpan = randomBytes(8).toString('hex');
  const res = await fetch(`${router.url}/api/v1/allocate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpan}-01` },
    body: JSON.stringify({ call_sid: 'traced-call-1' }),
  });
  const body = (await res.json()) as { pod_name: string; source_pool: string };
  expect(res.status).toBe(200);

  const spans = await spansOf(traceId, (s) => s.some((x) => x.name === 'allocate') && s.some((x) => x.kind === SPAN_KIND_SERVER));
  const server = spans.find((s) => s.kind === SPAN_KIND_SERVER)!;
  expect(server).toMatchObject({ name: 'POST /api/v1/allocate', parentSpanId: callerSpan });
  expect(server.attributes).toMatchObject({ 'http.route': '/api/v1/allocate', 'http.response.status_code': 200 });

  const decision = spans.find((s) => s.name === 'allocate')!;
  expect(decision.attributes).toEqual({
    'smart_router.call_sid': 'traced-call-1',
    'smart_router.tier': 'standard',
    'smart_router.result': 'allocated',
    'smart_router.pool': body.source_pool.replace(/^pool:/, ''),
    'smart_router.pod': body.pod_name,
  });
  expect(ancestors(spans, decision)).toContainEqual(server);

  const script = spans.find((s) => s.attributes['smart_router.script'] === 'allocate')!;
  expect(script).toMatchObject({ name: 'evalsha', kind: SPAN_KIND_CLIENT, parentSpanId: decision.spanId });
  expect(script.attributes).toMatchObject({ 'db.system.name': 'redis', 'db.operation.name': 'evalsha' });
});

test('a release is traced the same way, and probes and scrapes are not traced', async () => {
  const traceId = randomBytes(16).toString('hex');
  await fetch(`${router.url}/health`);
  await fetch(`${router.url}/metrics`);
  await fetch(`${router.url}/api/v1/release`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
    body: JSON.stringify({ call_sid: 'traced-call-1' }),
  });
  const spans = await spansOf(traceId, (s) => s.some((x) => x.name === 'release') && s.some((x) => x.attributes['smart_router.script'] === 'release'));
  const release = spans.find((s) => s.name === 'release')!;
  expect(release.attributes).toMatchObject({ 'smart_router.result': 'released', 'smart_router.was_draining': false });
  expect(spans.find((s) => s.attributes['smart_router.script'] === 'release')?.parentSpanId).toBe(release.spanId);
  expect(collector.spans.filter((s) => s.kind === SPAN_KIND_SERVER).map((s) => s.name)).not.toContainEqual(expect.stringMatching(/health|metrics/));
});

test('a request without traceparent starts a trace of its own', async () => {
  const before = collector.spans.length;
  await fetch(`${router.url}/api/v1/status`);
  const server = await (async () => {
    for (let i = 0; i < 300; i++) {
      const found = collector.spans.slice(before).find((s) => s.kind === SPAN_KIND_SERVER && s.name === 'GET /api/v1/status');
      if (found) return found;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('no span for GET /api/v1/status');
  })();
  expect(server.parentSpanId).toBe('');
});
