/**
 * The gateway's /metrics: Errand's series (src/metrics/: queue and topic state read from
 * Redis at each scrape, task latency histograms, Node's process metrics) on one prom-client
 * registry per gateway, plus what only a gateway measures: the requests it answered and
 * how long it took.
 */
import { Counter, Histogram } from 'prom-client';
import type { Admin } from '../admin/admin.js';
import { ErrandMetrics, LATENCY_BUCKETS_S } from '../metrics/errand-metrics.js';

export class GatewayMetrics extends ErrandMetrics {
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;

  constructor(admin: Admin) {
    super({ admin });
    const registers = [this.registry];
    this.httpRequests = new Counter({
      name: 'errand_http_requests_total',
      help: 'HTTP requests answered by this gateway, by route and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'errand_http_request_duration_seconds',
      help: 'Time this gateway took to answer, by route (event streams excluded).',
      labelNames: ['method', 'route'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
  }
}
