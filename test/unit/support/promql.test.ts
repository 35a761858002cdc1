import { exportedNames, metricNames } from '../../support/promql.js';

test('metric names are found in aggregations, ratios, subqueries and label_values, and nothing else is', () => {
  expect(metricNames('sum by (pool, result) (rate(smart_router_allocations_total{namespace="$namespace", result=~"a|b"}[$__rate_interval]))')).toEqual(['smart_router_allocations_total']);
  expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(x_bucket{job="j"}[5m])))')).toEqual(['x_bucket']);
  expect(metricNames('max by (pool) (a) / max by (pool) (b) < 0.1 and max(c) > 0')).toEqual(['a', 'b', 'c']);
  expect(metricNames('count(max by (pool) (cond{type="Degraded"}) == 1) or vector(0)')).toEqual(['cond']);
  expect(metricNames('time() - max(last_ts)')).toEqual(['last_ts']);
  expect(metricNames('label_values(smart_router_pool_pods{namespace="$namespace"}, pool)')).toEqual(['smart_router_pool_pods']);
  expect(metricNames('sum(x) without (pod) unless on (job) y offset 5m')).toEqual(['x', 'y']);
  expect(metricNames('rss_bytes / 1e9 > 1.5 and up2 > 2')).toEqual(['rss_bytes', 'up2']);
});

test('exported names include the series a histogram adds', () => {
  const names = exportedNames('# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 0\n# TYPE c counter\n');
  expect([...names].sort()).toEqual(['c', 'h', 'h_bucket', 'h_count', 'h_sum']);
});
