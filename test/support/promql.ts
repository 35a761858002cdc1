// The metric names a PromQL expression (or a Grafana query using one) reads,
// for linting dashboards and rules against what the router exports. Enough of
// PromQL for our own queries: strings, label matchers, ranges and grouping
// clauses are dropped; what remains is functions (followed by "("),
// keywords, numbers and metric names.
const KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'inf', 'nan']);

export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    // Durations (offset 5m) and numbers (1e9) are not names.
    .replace(/(^|[^a-zA-Z0-9_:])\d+(?:\.\d+)?(?:e[+-]?\d+|ms|s|m|h|d|w|y)?(?![a-zA-Z0-9_:])/gi, '$1 ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?/g)) {
    const [token, call] = [m[0].replace(/\s*\($/, ''), m[1]];
    if (call || KEYWORDS.has(token.toLowerCase()) || /^\d/.test(token)) continue;
    // label_values(metric{...}, label): the label after the comma is not a metric.
    const before = stripped.slice(0, m.index);
    if (/label_values\([^)]*,\s*$/.test(before)) continue;
    names.add(token);
  }
  return [...names];
}

/** Metric names a Prometheus text exposition declares (# TYPE), with the series names a histogram or summary adds. */
export function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name as string);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(`${name}${suffix}`);
  }
  return names;
}
