/**
 * The boot trace: every DHCP/TFTP/HTTP/callback event for a MAC, so an operator (and the HA
 * controller) can see how far a host got and why a request was ignored. Protocol servers record
 * without waiting (the store batches the writes); a failed write is logged, never thrown into a
 * packet handler.
 */
import type { Logger } from '../lib/log.js';
import type { NewEvent, Store } from '../store/store.js';

export interface BootTrace {
  /** Records an event; never throws, never blocks the caller. */
  record(event: NewEvent): void;
}

export function storeTrace(store: Store, log: Logger): BootTrace {
  return {
    record(event) {
      store.write([{ op: 'appendEvent', event }]).catch((err: unknown) => log.error({ err, kind: event.kind, mac: event.mac }, 'boot trace: event not recorded'));
    },
  };
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
export function countingTrace(inner: BootTrace, counters: { dhcp: (type: string, outcome: string) => void; tftp: (outcome: string) => void }): BootTrace {
  return {
    record(event) {
      if (event.kind.startsWith('dhcp.')) counters.dhcp(event.kind.slice(5), event.reason ?? 'answered');
      else if (event.kind === 'tftp.transfer') counters.tftp(event.reason ?? 'unknown');
      inner.record(event);
    },
  };
}
