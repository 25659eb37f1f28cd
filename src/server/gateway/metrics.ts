/**
 * Metrics, in a registry of the node's own (prom-client; no global default
 * registry, so two nodes in one process do not mix their figures). Served at
 * `GET /metrics` in the Prometheus text format.
 */
import { Counter, Gauge, Registry } from 'prom-client';

export interface GatewayMetrics {
  registry: Registry;
  connections: Gauge;
  authenticated: Counter;
  framesIn: Counter;
  framesOut: Counter;
  sends: Counter;
  errors: Counter<'code'>;
  rateLimited: Counter;
  slowReaders: Counter;
  shedSends: Counter;
  httpRequests: Counter<'route' | 'status'>;
}

export function createMetrics(collectRuntime?: () => Promise<Record<string, number>>): GatewayMetrics {
  const registry = new Registry();
  const m: GatewayMetrics = {
    registry,
    connections: new Gauge({ name: 'parley_connections', help: 'Open WebSocket connections', registers: [registry] }),
    authenticated: new Counter({ name: 'parley_sessions_authenticated_total', help: 'Connections that completed auth', registers: [registry] }),
    framesIn: new Counter({ name: 'parley_frames_in_total', help: 'Client frames received', registers: [registry] }),
    framesOut: new Counter({ name: 'parley_frames_out_total', help: 'Frames written to clients', registers: [registry] }),
    sends: new Counter({ name: 'parley_sends_total', help: 'send frames accepted for processing', registers: [registry] }),
    errors: new Counter({ name: 'parley_errors_total', help: 'error frames sent to clients, by code', labelNames: ['code'], registers: [registry] }),
    rateLimited: new Counter({ name: 'parley_rate_limited_total', help: 'sends and other frames refused by the rate limits', registers: [registry] }),
    slowReaders: new Counter({ name: 'parley_slow_readers_total', help: 'connections dropped for not reading', registers: [registry] }),
    shedSends: new Counter({ name: 'parley_shed_sends_total', help: 'sends answered unavailable because limits.sendsInFlight were in flight', registers: [registry] }),
    httpRequests: new Counter({ name: 'parley_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers: [registry] }),
  };
  if (collectRuntime) {
    const g = new Gauge({
      name: 'parley_runtime',
      help: 'Actor runtime figures (actors, processed, dead letters, crashes)',
      labelNames: ['figure'],
      registers: [registry],
      async collect() {
        const f = await collectRuntime();
        for (const [k, v] of Object.entries(f)) this.set({ figure: k }, v);
      },
    });
    void g;
  }
  return m;
}
