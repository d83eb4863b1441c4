/**
 * `errand/metrics`: Errand's Prometheus series for your own process (a worker service, a
 * web app), the same ones the gateway's /metrics serves, on prom-client. Kept apart from
 * the main entry so that importing Errand does not load prom-client's collectors.
 *
 *   const metrics = new ErrandMetrics({ connection, registry });   // your prom-client registry
 *   app.get('/metrics', async () => metrics.metrics());
 */
export { ErrandMetrics, LATENCY_BUCKETS_S } from './errand-metrics.js';
export type { ErrandMetricsOptions } from './errand-metrics.js';
