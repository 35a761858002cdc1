// The alert rules the chart ships, rendered by helm and tested by promtool:
// every alert fires on series that should page and stays silent on series
// that should not (test/alerts/smart-router.rules.test.yaml), and every alert
// links a runbook that exists.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { load } from 'js-yaml';
import { packageRoot } from '../../core/paths.js';
import { CLUSTER_DIR } from '../../tools/kubectl.js';

const run = promisify(execFile);
const HELM = join(CLUSTER_DIR, 'bin', 'helm');
const PROMTOOL = join(CLUSTER_DIR, 'bin', 'promtool');
const CHART = join(packageRoot, 'charts', 'smart-router');
const TESTS = join(packageRoot, 'test', 'alerts', 'smart-router.rules.test.yaml');
const RUNBOOKS = join(packageRoot, 'docs', 'RUNBOOKS.md');

interface Rule { alert?: string; expr: string; annotations?: Record<string, string> }
interface PrometheusRule { kind: string; spec: { groups: Array<{ name: string; rules: Rule[] }> } }
interface AlertTest { alertname: string; exp_alerts?: unknown[] }

// --set-json: helm's --set passes 0.25 as a string, which the values schema rightly refuses.
const render = async (sets: string[]) =>
  (await run(HELM, ['template', 'r', CHART, '--namespace', 'sr', '--kube-version', '1.36.3', '--set', 'redis.url=redis://redis:6379', '--set', 'auth.existingSecret=tokens', ...sets.flatMap((s) => ['--set-json', s])], { maxBuffer: 16 * 1024 * 1024 })).stdout;

let dir: string;
let rule: PrometheusRule;
const alerts = () => rule.spec.groups.flatMap((g) => g.rules).filter((r) => r.alert);

beforeAll(async () => {
  for (const tool of [HELM, PROMTOOL]) if (!existsSync(tool)) throw new Error(`${tool} is missing: "make cluster-up" (make test does) builds and links it`);
  const docs = (await render(['prometheusRule.enabled=true'])).split(/^---$/m).map((d) => load(d) as PrometheusRule | null);
  rule = docs.find((d) => d?.kind === 'PrometheusRule')!;
  dir = mkdtempSync(join(tmpdir(), 'alert-rules-'));
  writeFileSync(join(dir, 'rules.yaml'), JSON.stringify({ groups: rule.spec.groups }));
  copyFileSync(TESTS, join(dir, 'rules.test.yaml'));
});

test('the chart ships no PrometheusRule unless asked to', async () => {
  expect(await render([])).not.toMatch(/kind: PrometheusRule/);
  expect(alerts().length).toBeGreaterThanOrEqual(11);
});

test('promtool accepts the rendered rules', async () => {
  const { stdout } = await run(PROMTOOL, ['check', 'rules', join(dir, 'rules.yaml')]);
  expect(stdout).toMatch(new RegExp(`SUCCESS: ${alerts().length} rules found`));
});

test('promtool test rules passes: each alert fires on its series and stays silent on the others', async () => {
  const result = await run(PROMTOOL, ['test', 'rules', join(dir, 'rules.test.yaml')], { cwd: dir }).then(
    (r) => ({ ok: true, out: r.stdout + r.stderr }),
    (e: { stdout: string; stderr: string }) => ({ ok: false, out: e.stdout + e.stderr }),
  );
  process.stdout.write(`promtool test rules: ${result.ok ? 'PASS' : 'FAIL'}\n${result.out}\n`);
  expect(result.out).toMatch(/SUCCESS/);
  expect(result.ok).toBe(true);
});

test('every alert has a case where it fires and a case where it does not', () => {
  const cases = (load(readFileSync(TESTS, 'utf8')) as { tests: Array<{ alert_rule_test?: AlertTest[] }> }).tests.flatMap((t) => t.alert_rule_test ?? []);
  for (const { alert } of alerts()) {
    const mine = cases.filter((c) => c.alertname === alert);
    expect({ alert, fires: mine.some((c) => (c.exp_alerts ?? []).length > 0) }).toEqual({ alert, fires: true });
    expect({ alert, silent: mine.some((c) => (c.exp_alerts ?? []).length === 0) }).toEqual({ alert, silent: true });
  }
});

test('every alert links its runbook in docs/RUNBOOKS.md', () => {
  const headings = new Set([...readFileSync(RUNBOOKS, 'utf8').matchAll(/^## (\S+)$/gm)].map((m) => (m[1] as string).toLowerCase()));
  for (const { alert, annotations } of alerts()) {
    expect(annotations?.runbook_url).toBe(`https://github.com/smart-router/smart-router/blob/main/docs/RUNBOOKS.md#${alert!.toLowerCase()}`);
    expect({ alert, documented: headings.has(alert!.toLowerCase()) }).toEqual({ alert, documented: true });
  }
});

test('thresholds and the series selector come from values', async () => {
  const docs = (await render(['prometheusRule.enabled=true', 'prometheusRule.freeSlotsLowRatio=0.25', 'prometheusRule.selector="service=\\"router\\""'])).split(/^---$/m).map((d) => load(d) as PrometheusRule | null);
  const custom = docs.find((d) => d?.kind === 'PrometheusRule')!.spec.groups.flatMap((g) => g.rules);
  expect(custom.find((r) => r.alert === 'SmartRouterPoolFreeSlotsLow')?.expr).toMatch(/< 0\.25/);
  for (const r of custom) expect(r.expr).not.toMatch(/job=/);
  for (const r of custom) expect(r.expr).toMatch(/service="router"/);
});
