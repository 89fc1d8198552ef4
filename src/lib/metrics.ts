/**
 * Prometheus metrics (prom-client), one registry per process so that tests can run several
 * servers side by side. Protocol servers get the counters they increment from here.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { AWAKE_TICK_MS, DORMANT_TICK_MS, initialPace, nextPace, stallOf } from './loop-watch.js';

export function createMetrics(opts: { defaults?: boolean; onStall?: (stall: LoopStall) => void } = {}) {
  const registry = new Registry();
  if (opts.defaults !== false) {
    // prom-client samples the loop's delay with a timer of its own (perf_hooks'
    // monitorEventLoopDelay, 10 ms by default): at the stall monitor's idle pace it wakes an
    // idle process 40 times a second instead of 100 (threerc_nodejs_eventloop_lag_* then read
    // 25 ms plus the lag, where they read 10 ms plus the lag before).
    collectDefaultMetrics({ register: registry, prefix: 'threerc_', eventLoopMonitoringPrecision: DORMANT_TICK_MS });
    registerEventLoopStall(registry, opts.onStall);
  }
  return {
    registry,
    httpRequests: new Counter({ name: 'threerc_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'] as const, registers: [registry] }),
    httpDuration: new Histogram({ name: 'threerc_http_request_seconds', help: 'HTTP request duration by route', labelNames: ['route'] as const, buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2], registers: [registry] }),
    renders: new Counter({ name: 'threerc_renders_total', help: 'Template renders by kind and result', labelNames: ['kind', 'result'] as const, registers: [registry] }),
    bootTableChanges: new Counter({ name: 'threerc_boot_table_changes_total', help: 'Boot table changes by new mode and reason', labelNames: ['mode', 'reason'] as const, registers: [registry] }),
    callbacks: new Counter({ name: 'threerc_install_callbacks_total', help: 'Install callbacks by kind and outcome', labelNames: ['kind', 'outcome'] as const, registers: [registry] }),
    dhcpPackets: new Counter({ name: 'threerc_dhcp_packets_total', help: 'DHCP packets by message type and outcome', labelNames: ['type', 'outcome'] as const, registers: [registry] }),
    dhcp6Packets: new Counter({ name: 'threerc_dhcp6_packets_total', help: 'DHCPv6 messages by client message type and outcome', labelNames: ['type', 'outcome'] as const, registers: [registry] }),
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
/** Hosts stuck after their loader right now (boot/loader-watch.ts), read at each scrape. */
export function registerStuckBoots(metrics: Metrics, stuckNow: () => number): void {
  new Gauge({
    name: 'threerc_boot_stuck_hosts',
    help: 'Hosts that fetched their first-stage loader and asked for nothing else for install.loaderQuiet (a refused, e.g. unsigned under Secure Boot, or broken loader)',
    registers: [metrics.registry],
    collect() {
      this.set(stuckNow());
    },
  });
}

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

/** A stall longer than this is reported (logged) one by one, with when it happened. */
export const STALL_REPORT_MS = 50;

/**
 * One event-loop stall over {@link STALL_REPORT_MS}, reported when it ends: the process's own
 * share (`ownMs`: the delay less the main thread's run-queue wait), the delay itself and the
 * run-queue wait.
 */
export interface LoopStall {
  ownMs: number;
  delayMs: number;
  runQueueMs: number;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/**
 * The main thread's cumulative run-queue wait in ns (field 2 of /proc/thread-self/schedstat:
 * time it was runnable but another task had the CPU), or null where Linux does not provide it.
 * The file is opened once (from the main thread, so thread-self is the main thread) and re-read
 * with pread at offset 0; the digits are read from the bytes (no string per tick).
 */
function runQueueWait(): () => number | null {
  let fd: number | null = null;
  try {
    fd = openSync('/proc/thread-self/schedstat', 'r');
  } catch {
    return () => null;
  }
  const buf = Buffer.alloc(128);
  return () => {
    if (fd === null) return null;
    try {
      const n = readSync(fd, buf, 0, buf.length, 0);
      return secondField(buf, n);
    } catch {
      closeSync(fd);
      fd = null;
      return null;
    }
  };
}

/** The second space-separated decimal field of buf[0, n), or null. */
function secondField(buf: Buffer, n: number): number | null {
  let i = buf.indexOf(0x20);
  if (i < 0 || i >= n) return null;
  let v = 0;
  let digits = 0;
  for (i++; i < n; i++, digits++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
  }
  return digits > 0 ? v : null;
}

/** The running stall monitor (tests read its pace and stop it). */
export interface StallMonitor {
  /** The timer's period now (loop-watch.ts: fast while the loop works, slow once it is quiet). */
  tickMs(): number;
  stop(): void;
}

/**
 * The longest event-loop stall since the last scrape, measured by the process itself (the fuzz
 * campaign's pass criterion): a timer notes how late it fires, every {@link AWAKE_TICK_MS} ms
 * while the loop works and every {@link DORMANT_TICK_MS} ms once it is quiet (loop-watch.ts).
 * Two gauges, both reset when read:
 * - `threerc_eventloop_delay_max_seconds`: the lateness (wall clock), whatever its cause;
 * - `threerc_eventloop_stall_max_seconds`: the same less the time the main thread spent waiting
 *   for a CPU (the kernel's run-queue wait), i.e. what the process itself blocked for (its own
 *   code, GC, a synchronous disk write); on a machine with more runnable tasks than cores the
 *   first also counts the scheduler's delays. Without /proc schedstat both are the same.
 * prom-client's `threerc_nodejs_eventloop_lag_max_seconds` is the lateness too, at
 * {@link DORMANT_TICK_MS} ms resolution and with the resolution included. The timer is unref'd:
 * it never keeps a process up.
 */
export function registerEventLoopStall(registry: Registry, onStall?: (stall: LoopStall) => void): StallMonitor {
  const wait = runQueueWait();
  let last = process.hrtime.bigint();
  let lastWait = wait();
  let lastActive = performance.eventLoopUtilization().active;
  let maxDelay = 0;
  let maxStall = 0;
  let pace = initialPace();
  const tick = () => {
    const now = process.hrtime.bigint();
    const w = wait();
    const active = performance.eventLoopUtilization().active;
    const reading = { elapsedMs: Number(now - last) / 1e6, queuedMs: w !== null && lastWait !== null ? (w - lastWait) / 1e6 : 0, activeMs: active - lastActive };
    last = now;
    lastWait = w;
    lastActive = active;
    const { delayMs, ownMs } = stallOf(reading, pace.tickMs);
    if (delayMs > maxDelay) maxDelay = delayMs;
    if (ownMs > maxStall) maxStall = ownMs;
    // Each one (there can be at most 1000 / STALL_REPORT_MS a second: no flood).
    if (onStall && ownMs > STALL_REPORT_MS) onStall({ ownMs: round1(ownMs), delayMs: round1(delayMs), runQueueMs: round1(reading.queuedMs) });
    const next = nextPace(pace, reading);
    if (next.tickMs !== pace.tickMs) {
      clearInterval(timer);
      timer = every(next.tickMs);
    }
    pace = next;
  };
  const every = (ms: number) => setInterval(tick, ms).unref();
  let timer = every(pace.tickMs);
  new Gauge({
    name: 'threerc_eventloop_delay_max_seconds',
    help: `Longest event-loop delay since the last scrape (wall clock, ${AWAKE_TICK_MS} ms resolution while busy, ${DORMANT_TICK_MS} ms when idle; reset when read)`,
    registers: [registry],
    collect() {
      this.set(Math.max(0, maxDelay) / 1000);
      maxDelay = 0;
    },
  });
  new Gauge({
    name: 'threerc_eventloop_stall_max_seconds',
    help: `Longest event-loop stall since the last scrape: the delay less the main thread's wait for a CPU (${AWAKE_TICK_MS} ms resolution while busy, ${DORMANT_TICK_MS} ms when idle; reset when read)`,
    registers: [registry],
    collect() {
      this.set(Math.max(0, maxStall) / 1000);
      maxStall = 0;
    },
  });
  return { tickMs: () => pace.tickMs, stop: () => clearInterval(timer) };
}
