/**
 * The boot trace: every DHCP/TFTP/HTTP/callback event for a MAC, so an operator (and the HA
 * controller) can see how far a host got and why a request was ignored. Protocol servers record
 * without waiting (the store batches the writes); a failed write is logged, never thrown into a
 * packet handler.
 */
import { assertNever, familyOf, newEvent, readEvent, type TraceEvent } from '../events/kinds.js';
import type { Clock, Timer } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import type { NewEvent, Store } from '../store/store.js';

export interface BootTrace {
  /**
   * Records an event of a known kind (events/kinds.ts: the compiler checks its data); never
   * throws, never blocks the caller.
   */
  record(event: TraceEvent): void;
}

export function storeTrace(store: Store, log: Logger): BootTrace {
  return { record: (event) => void appendLogged(store, log, [event]) };
}

/** Appends events in one write; a failure is logged (with the first event's kind and MAC), never thrown. */
function appendLogged(store: Store, log: Logger, events: NewEvent[]): Promise<void> {
  return store.write(events.map((event) => ({ op: 'appendEvent' as const, event }))).then(
    () => undefined,
    (err: unknown) => log.error({ err, kind: events[0]?.kind, mac: events[0]?.mac, events: events.length }, 'boot trace: event not recorded'),
  );
}

export interface TraceLimits {
  /** Events of known hosts written per second, for the whole trace (also the burst). */
  writesPerSecond: number;
  /** Distinct unknown MACs counted one by one per minute; the others share one row without a MAC. */
  unknownMacsPerMinute: number;
}

/** The kind of the one row per unknown MAC and minute. */
export const UNKNOWN_TRAFFIC = 'trace.unknown';
const MINUTE = 60_000;
/** Distinct kinds counted in one aggregate row (they are protocol codes: a few). */
const MAX_KINDS = 32;

interface Aggregate {
  mac: string | null;
  count: number;
  kinds: Record<string, number>;
  first: number;
  last: number;
}

/**
 * The boot trace on the store, bounded: unauthenticated traffic must not grow the
 * store without limit.
 * - Events of a MAC nobody knows (not a host of the inventory, no lease: `isKnown`) or of no MAC
 *   are counted, not recorded: the first event of a MAC in a minute is kept as it is (so that an
 *   operator sees why it was ignored), the others are counted in memory and written as one
 *   `trace.unknown` row for that MAC when the minute is over. Past `unknownMacsPerMinute`
 *   distinct MACs in a minute (a random-MAC flood), the rest of the minute is counted in one row
 *   without a MAC. Known hosts keep their full trace.
 * - Events of known hosts spend a token of a global bucket (`writesPerSecond`); over budget they
 *   are counted and dropped, never queued, and one warning per minute says how many.
 * The protocol counters and the HA evidence see every event: they wrap this sink.
 */
export class LimitedTrace implements BootTrace {
  /** Since start: events written as rows, counted in aggregates, dropped over budget. */
  readonly stats = { written: 0, aggregated: 0, dropped: 0 };
  private tokens: number;
  private refilledAt: number;
  private readonly minutes = new Map<number, { rows: Map<string, Aggregate>; timer: Timer }>();
  private droppedSinceReport = 0;
  private reportTimer: Timer | null = null;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly d: { store: Store; clock: Clock; log: Logger; isKnown: (mac: string) => boolean; limits: TraceLimits }) {
    this.tokens = d.limits.writesPerSecond;
    this.refilledAt = d.clock.now();
  }

  record(event: NewEvent): void {
    if (!event.mac || !this.d.isKnown(event.mac)) return this.count(event);
    if (!this.take()) return this.drop();
    this.stats.written++;
    this.write([event]);
  }

  /** Writes every counter not yet written and waits for the trace's writes (at shutdown). */
  async stop(): Promise<void> {
    for (const minute of [...this.minutes.keys()]) this.flushMinute(minute);
    this.reportTimer?.cancel();
    this.report();
    await Promise.allSettled([...this.pending]);
  }

  private take(): boolean {
    const now = this.d.clock.now();
    const rate = this.d.limits.writesPerSecond;
    this.tokens = Math.min(rate, this.tokens + (Math.max(0, now - this.refilledAt) * rate) / 1000);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private drop(): void {
    this.stats.dropped++;
    this.droppedSinceReport++;
    this.reportTimer ??= this.d.clock.schedule(MINUTE, () => {
      this.reportTimer = null;
      this.report();
    });
  }

  private report(): void {
    if (this.droppedSinceReport === 0) return;
    this.d.log.warn({ dropped: this.droppedSinceReport, writesPerSecond: this.d.limits.writesPerSecond }, 'boot trace over its write budget (events.writesPerSecond): events dropped');
    this.droppedSinceReport = 0;
  }

  private count(event: NewEvent): void {
    this.stats.aggregated++;
    const minute = Math.floor(event.at / MINUTE) * MINUTE;
    let m = this.minutes.get(minute);
    if (!m) {
      const timer = this.d.clock.schedule(Math.max(0, minute + MINUTE - this.d.clock.now()), () => this.flushMinute(minute));
      m = { rows: new Map(), timer };
      this.minutes.set(minute, m);
    }
    // Beyond the per-minute cap of distinct MACs, a MAC not yet seen this minute shares the row without a MAC ('').
    let key = event.mac ?? '';
    if (!m.rows.has(key) && m.rows.size - (m.rows.has('') ? 1 : 0) >= this.d.limits.unknownMacsPerMinute) key = '';
    let row = m.rows.get(key);
    if (!row) {
      row = { mac: key || null, count: 0, kinds: {}, first: event.at, last: event.at };
      m.rows.set(key, row);
      if (key) return this.write([event]);
    }
    if (row.count++ === 0) row.first = event.at;
    row.last = Math.max(row.last, event.at);
    if (event.kind in row.kinds || Object.keys(row.kinds).length < MAX_KINDS) row.kinds[event.kind] = (row.kinds[event.kind] ?? 0) + 1;
  }

  private flushMinute(minute: number): void {
    const m = this.minutes.get(minute);
    if (!m) return;
    this.minutes.delete(minute);
    m.timer.cancel();
    // count: the events of that MAC in that minute not kept as a row (all but the first).
    const rows = [...m.rows.values()].filter((r) => r.count > 0);
    if (rows.length > 0) this.write(rows.map((r) => newEvent(UNKNOWN_TRAFFIC, { at: minute, mac: r.mac }, { count: r.count, kinds: r.kinds, first: r.first, last: r.last })));
  }

  private write(events: NewEvent[]): void {
    // Never rejects (appendLogged logs); kept until settled so that stop() can wait for it.
    const p: Promise<void> = appendLogged(this.d.store, this.d.log, events).finally(() => this.pending.delete(p));
    this.pending.add(p);
  }
}

/** A trace that keeps events in an array, for unit tests. */
export function memoryTrace(): BootTrace & { events: NewEvent[] } {
  const events: NewEvent[] = [];
  return { events, record: (e) => void events.push(e) };
}

/**
 * A trace that also counts what the protocol servers record (DHCP packets by type and outcome,
 * TFTP transfers by outcome) into the metrics, so the servers need no metrics code of their own.
 */
export function countingTrace(inner: BootTrace, counters: { dhcp: (type: string, outcome: string) => void; tftp: (outcome: string) => void; dhcp6?: (type: string, outcome: string) => void }): BootTrace {
  return {
    record(event) {
      const e = readEvent(event);
      if (!('other' in e)) {
        const family = familyOf(e.kind);
        switch (family) {
          case 'dhcp':
            counters.dhcp(e.kind.slice(5), e.reason ?? 'answered');
            break;
          case 'tftp':
            counters.tftp(e.reason ?? 'unknown');
            break;
          // Counted elsewhere (HTTP: its own middleware) or not protocol traffic.
          case 'http': case 'install': case 'dns': case 'boot': case 'host': case 'p2v': case 'ha': case 'hypervisor': case 'trace':
            break;
          default:
            assertNever(family, 'event family');
        }
      } else if (event.kind.startsWith('dhcp.')) {
        // A message type without a kind of its own (dhcp.type-N): still DHCP traffic.
        counters.dhcp(event.kind.slice(5), event.reason ?? 'answered');
      } else if (event.kind.startsWith('dhcp6.')) {
        counters.dhcp6?.(event.kind.slice(6), event.reason ?? 'answered');
      }
      inner.record(event);
    },
  };
}
