/**
 * Prometheus metrics (prom-client), one registry per process so that tests can run several
 * servers side by side. Protocol servers get the counters they increment from here.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics(opts: { defaults?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaults !== false) collectDefaultMetrics({ register: registry, prefix: 'threerc_' });
  return {
    registry,
    httpRequests: new Counter({ name: 'threerc_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'] as const, registers: [registry] }),
    httpDuration: new Histogram({ name: 'threerc_http_request_seconds', help: 'HTTP request duration by route', labelNames: ['route'] as const, buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2], registers: [registry] }),
    renders: new Counter({ name: 'threerc_renders_total', help: 'Template renders by kind and result', labelNames: ['kind', 'result'] as const, registers: [registry] }),
    bootTableChanges: new Counter({ name: 'threerc_boot_table_changes_total', help: 'Boot table changes by new mode and reason', labelNames: ['mode', 'reason'] as const, registers: [registry] }),
    callbacks: new Counter({ name: 'threerc_install_callbacks_total', help: 'Install callbacks by kind and outcome', labelNames: ['kind', 'outcome'] as const, registers: [registry] }),
    dhcpPackets: new Counter({ name: 'threerc_dhcp_packets_total', help: 'DHCP packets by message type and outcome', labelNames: ['type', 'outcome'] as const, registers: [registry] }),
    tftpTransfers: new Counter({ name: 'threerc_tftp_transfers_total', help: 'TFTP transfers by outcome', labelNames: ['outcome'] as const, registers: [registry] }),
  };
}

/**
 * DNS answers, read at scrape time from the server's own plain counters (`udp:NOERROR` -> n):
 * the query path stays free of label lookups.
 */
export function registerDnsStats(metrics: Metrics, stats: ReadonlyMap<string, number>): void {
  new Counter({
    name: 'threerc_dns_queries_total',
    help: 'DNS messages by transport and response code (dropped: not answered)',
    labelNames: ['transport', 'rcode'] as const,
    registers: [metrics.registry],
    collect() {
      this.reset();
      for (const [key, n] of stats) {
        const [transport, rcode] = key.split(':');
        this.inc({ transport, rcode }, n);
      }
    },
  });
}

export type Metrics = ReturnType<typeof createMetrics>;

/** The packet guard's counters (lib/guard.ts), read at scrape time. */
export function registerGuardStats(metrics: Metrics, guard: { dropped: ReadonlyMap<string, number>; failures: ReadonlyMap<string, number> }): void {
  new Counter({
    name: 'threerc_packets_dropped_total',
    help: 'Datagrams dropped before any reply because their source cannot be answered, by server and reason',
    labelNames: ['server', 'reason'] as const,
    registers: [metrics.registry],
    collect() {
      this.reset();
      for (const [key, n] of guard.dropped) {
        const i = key.indexOf(':');
        this.inc({ server: key.slice(0, i), reason: key.slice(i + 1) }, n);
      }
    },
  });
  new Counter({
    name: 'threerc_handler_errors_total',
    help: 'Packet or connection handlers that threw or rejected (the packet was dropped, the server went on), by server',
    labelNames: ['server'] as const,
    registers: [metrics.registry],
    collect() {
      this.reset();
      for (const [server, n] of guard.failures) this.inc({ server }, n);
    },
  });
}
