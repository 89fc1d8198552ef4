/**
 * The Store: what 3rc must not forget across a restart or a kill -9. Leases, boot entries,
 * controller state and the append-only event log (boot trace and HA decisions).
 *
 * Every write resolves only once it is durable; callers acknowledge to the outside world (DHCP
 * ACK, API 200, action done) only after that. Reads happen at start-up: the live copies are held
 * in memory by their owners (BootTable, lease table, controller), so no protocol request waits
 * on the store for a read.
 */
import type { BootEntry } from '../domain/boot-entry.js';
import type { Lease } from '../domain/lease.js';

/**
 * A host created or changed through the API (`host` set), or deleted (`host` null). Applied over
 * the config's hosts at start, in the store's order.
 */
export interface HostOverride {
  name: string;
  host: Record<string, unknown> | null;
  updatedAt: number;
}

/** The HA controller's persisted view of one VM (its FSM state and whatever it needs to resume). */
export interface VmState {
  vm: string;
  state: string;
  data: unknown;
  updatedAt: number;
}

/**
 * SSH host keys 3rc learned for a host (from its installer's install-done call): the host's known
 * keys, all of them (a new report replaces the record). Guest SSH checks a host key against this
 * record first; kept in the store so that every instance of a redundant 3rc sees it.
 */
export interface LearnedHostKeys {
  /** Inventory name of the host. */
  host: string;
  /** Its address when the keys were learned (for messages). */
  address: string;
  keys: LearnedKey[];
  /** ms since the epoch. */
  learnedAt: number;
}

export interface LearnedKey {
  /** ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa, ... */
  keyType: string;
  /** The key blob in base64, as in known_hosts. */
  base64: string;
  /** `SHA256:...`, as ssh-keygen -l prints it. */
  fingerprint: string;
}

/** One entry in the event log. */
export interface StoreEvent {
  /** Assigned by the store, increasing. */
  id: number;
  at: number;
  /** What happened, e.g. `dhcp.ack`, `boot.set`, `ha.transition`. */
  kind: string;
  mac?: string | null;
  host?: string | null;
  vm?: string | null;
  reason?: string | null;
  data?: Record<string, unknown> | null;
}

export type NewEvent = Omit<StoreEvent, 'id'>;

export interface EventQuery {
  mac?: string;
  host?: string;
  vm?: string;
  kind?: string;
  /** Only events with id greater than this. */
  afterId?: number;
  /** Only events with id less than this: paging back, the smallest id of the page before. */
  beforeId?: number;
  /** Newest first when set; default 1000. */
  limit?: number;
}

/** One change; a write() applies a list of them atomically. */
export type StoreOp =
  | { op: 'putLease'; lease: Lease }
  | { op: 'deleteLease'; ip: string }
  | { op: 'putBootEntry'; entry: BootEntry }
  | { op: 'deleteBootEntry'; mac: string }
  | { op: 'putVmState'; state: VmState }
  | { op: 'deleteVmState'; vm: string }
  | { op: 'appendEvent'; event: NewEvent }
  | { op: 'putHostOverride'; override: HostOverride }
  | { op: 'putHostKeys'; record: LearnedHostKeys }
  | { op: 'deleteHostKeys'; host: string };

export interface WriteResult {
  /** Ids of the events appended, in op order. */
  eventIds: number[];
}

export interface Store {
  /** `sqlite`, `memory`, ... */
  readonly kind: string;
  /** Applies ops atomically; resolves once they are durable. */
  write(ops: StoreOp[]): Promise<WriteResult>;
  listLeases(): Promise<Lease[]>;
  listBootEntries(): Promise<BootEntry[]>;
  listVmStates(): Promise<VmState[]>;
  listHostOverrides(): Promise<HostOverride[]>;
  /** Every host's learned SSH host keys, by host name. */
  listHostKeys(): Promise<LearnedHostKeys[]>;
  /**
   * One host's learned SSH host keys, or null. Read from the store itself at each call (never a
   * copy held by this instance), so that keys learned through another instance count at once.
   */
  getHostKeys(host: string): Promise<LearnedHostKeys | null>;
  /** Events matching every given filter, oldest first (the newest `limit`). */
  queryEvents(q?: EventQuery): Promise<StoreEvent[]>;
  /**
   * Retention: deletes at most `batch` events from the oldest (by id) on, while each is older than
   * `olderThan` or not among the newest `keepNewest`; stops at the first one that is neither.
   * Resolves to how many it deleted (0: nothing more to prune). Small batches, so that a prune
   * never holds the event loop or the database for long; call again until it returns 0.
   */
  pruneEvents(p: PruneRequest): Promise<number>;
  /** Flushes pending writes and releases the store (and its lock). Idempotent. */
  close(): Promise<void>;
}

/** Shorthand for a single event append. */
export async function appendEvent(store: Store, event: NewEvent): Promise<number> {
  const { eventIds } = await store.write([{ op: 'appendEvent', event }]);
  return eventIds[0]!;
}

/** Newest-`limit` events matching q, oldest first: shared by every implementation. */
export function matchesQuery(e: StoreEvent, q: EventQuery): boolean {
  return (
    (q.mac === undefined || e.mac === q.mac) &&
    (q.host === undefined || e.host === q.host) &&
    (q.vm === undefined || e.vm === q.vm) &&
    (q.kind === undefined || e.kind === q.kind) &&
    (q.afterId === undefined || e.id > q.afterId) &&
    (q.beforeId === undefined || e.id < q.beforeId)
  );
}

export interface PruneRequest {
  /** ms since the epoch: events with `at` before this are expired. */
  olderThan: number;
  /** How many of the newest events are kept, whatever their age. */
  keepNewest: number;
  /** At most this many deleted per call. */
  batch: number;
}

/**
 * How many of `oldest` (the oldest events, by id) a prune deletes: the leading ones that are
 * expired or beyond the newest `keepNewest` (ids are dense: the store's last id minus keepNewest
 * is the cut). Shared by every implementation so that they prune alike.
 */
export function prunablePrefix(oldest: readonly { id: number; at: number }[], lastId: number, p: PruneRequest): number {
  const cut = lastId - p.keepNewest;
  let n = 0;
  while (n < oldest.length && n < p.batch && (oldest[n]!.id <= cut || oldest[n]!.at < p.olderThan)) n++;
  return n;
}

export const DEFAULT_EVENT_LIMIT = 1000;

/** The stored form of an event: absent fields become null, so every store returns the same shape. */
export function normalizeEvent(e: NewEvent, id: number): StoreEvent {
  return { id, at: e.at, kind: e.kind, mac: e.mac ?? null, host: e.host ?? null, vm: e.vm ?? null, reason: e.reason ?? null, data: e.data ?? null };
}
