// The Grafana dashboard names only metrics a running router exports: every
// panel's query and every variable is checked against the /metrics of an
// operator-mode router (which serves the allocator's metrics too), and the
// chart ships the same JSON as docs/ in a ConfigMap the Grafana sidecar finds.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { load } from 'js-yaml';
import { packageRoot } from '../../core/paths.js';
import { CLUSTER_DIR } from '../../tools/kubectl.js';
import { exportedNames, metricNames } from '../../test/support/promql.js';
import { api, metric, operatorEnv, startExampleFleet, waitFor, type OperatorEnv } from '../operator/support.js';
import type { RouterProcess } from '../../test/support/router-process.js';

const run = promisify(execFile);
const DOCS_JSON = join(packageRoot, 'docs', 'grafana', 'smart-router.json');
const CHART = join(packageRoot, 'charts', 'smart-router');

interface Panel { type: string; title: string; targets?: Array<{ expr: string }>; panels?: Panel[] }
interface Dashboard { panels: Panel[]; templating: { list: Array<{ name: string; type: string; query?: { query: string } | string }> } }

const dashboardText = readFileSync(DOCS_JSON, 'utf8');
const dashboard = JSON.parse(dashboardText) as Dashboard;
const panels = (list: Panel[]): Panel[] => list.flatMap((p) => [p, ...panels(p.panels ?? [])]).filter((p) => p.type !== 'row');

let env: OperatorEnv;
let op: RouterProcess;

beforeAll(async () => {
  env = await operatorEnv('e2e-dashboard');
  ({ op } = await startExampleFleet(env));
}, 120_000);
afterAll(async () => {
  await env?.teardown();
}, 60_000);

test('every panel queries something, and every metric a panel or variable names is one the router exports', async () => {
  await api(op, '/api/v1/allocate', { call_sid: 'dashboard-1' });
  await waitFor('pool conditions exported', async () => (await metric(op, 'smart_router_pool_condition', { pool: 'standard', type: 'Ready' })) === 1);
  const exported = exportedNames(await (await fetch(`${op.url}/metrics`)).text());
  const missing: string[] = [];
  for (const panel of panels(dashboard.panels)) {
    expect({ panel: panel.title, queries: (panel.targets ?? []).length > 0 }).toEqual({ panel: panel.title, queries: true });
    for (const { expr } of panel.targets ?? []) {
      const names = metricNames(expr);
      expect({ panel: panel.title, expr, names: names.length > 0 }).toEqual({ panel: panel.title, expr, names: true });
      for (const name of names) if (!exported.has(name)) missing.push(`${panel.title}: ${name}`);
    }
  }
  for (const v of dashboard.templating.list.filter((t) => t.type === 'query')) {
    const query = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
    for (const name of metricNames(query)) if (!exported.has(name)) missing.push(`variable ${v.name}: ${name}`);
  }
  expect(missing).toEqual([]);
  expect(panels(dashboard.panels).length).toBeGreaterThanOrEqual(20);
});

test('the dashboard covers what on-call looks at first', () => {
  const exprs = panels(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join('\n');
  for (const name of [
    'smart_router_allocations_total', 'smart_router_allocation_duration_seconds_bucket', 'smart_router_pool_free_slots', 'smart_router_pool_busy_pods',
    'smart_router_pool_draining_pods', 'smart_router_pool_draining_calls', 'smart_router_redis_up', 'smart_router_redis_ping_seconds', 'smart_router_leader',
    'smart_router_reconciles_total', 'smart_router_reconcile_last_success_timestamp_seconds', 'smart_router_calls_reaped_total', 'smart_router_pool_condition',
  ]) expect({ name, shown: exprs.includes(name) }).toEqual({ name, shown: true });
  expect(exprs).toMatch(/sum by \(tier, result\)/);
});

test('the chart ships the same dashboard in a ConfigMap labelled for the Grafana sidecar, only when asked', async () => {
  const helm = (sets: string[]) => run(join(CLUSTER_DIR, 'bin', 'helm'), ['template', 'r', CHART, '--namespace', 'sr', '--kube-version', '1.36.3', '--set', 'redis.url=redis://redis:6379', '--set', 'auth.existingSecret=tokens', ...sets.flatMap((s) => ['--set', s])], { maxBuffer: 16 * 1024 * 1024 }).then((r) => r.stdout);
  expect(await helm([])).not.toMatch(/grafana_dashboard/);
  const docs = (await helm(['grafanaDashboard.enabled=true', 'grafanaDashboard.namespace=monitoring'])).split(/^---$/m).map((d) => load(d) as { kind?: string; metadata?: { name: string; namespace: string; labels: Record<string, string> }; data?: Record<string, string> } | null);
  const cm = docs.find((d) => d?.kind === 'ConfigMap' && d.metadata?.name === 'r-smart-router-dashboard');
  expect(cm?.metadata).toMatchObject({ namespace: 'monitoring', labels: { grafana_dashboard: '1' } });
  expect(JSON.parse(cm?.data?.['smart-router.json'] ?? '{}')).toEqual(dashboard);
  expect(readFileSync(join(CHART, 'dashboards', 'smart-router.json'), 'utf8')).toBe(dashboardText);
});
