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
   * Retention: deletes at most `batch` events, oldest (by id) first: the events of a kind not in
   * `keepKinds` beyond the newest `keepNewest` of them, and expired ones (`at` before `olderThan`,
   * any kind) from the oldest on until the first event kept ({@link PrunePlan}). Resolves to how
   * many it deleted (0: nothing more to prune). Small batches, so that a prune never holds the
   * event loop or the database for long; call again until it returns 0.
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
  /** ms since the epoch: events with `at` before this are expired (of every kind). */
  olderThan: number;
  /**
   * How many of the newest events of a kind not in `keepKinds` (the boot trace) are kept, whatever
   * their age; the older ones of those are deleted.
   */
  keepNewest: number;
  /**
   * Kinds that `keepNewest` neither counts nor prunes: only their age deletes them (the retention
   * passes events/kinds.ts RECORD_KINDS, so that a flood of boot trace never pushes out a decision).
   */
  keepKinds: readonly string[];
  /** At most this many deleted per call. */
  batch: number;
}

/**
 * What one prune deletes, decided event by event from the oldest (by id), shared by every
 * implementation so that they prune alike. `counted`: how many events of a kind not in
 * `keepKinds` the store holds; the oldest `counted - keepNewest` of them are deleted (they are
 * the oldest trace events, wherever records sit among them), and so is every expired event
 * (`at` before `olderThan`) from the oldest on, until the first event kept. At most `batch`.
 * The deleted events come out as runs of events adjacent in the log (no kept event between),
 * so a store can delete each run as one id range.
 */
export class PrunePlan<E extends { id: number; at: number; kind: string }> {
  readonly runs: E[][] = [];
  private excess: number;
  private deleted = 0;
  private leading = true;
  private adjacent = false;
  private readonly keep: ReadonlySet<string>;

  constructor(private readonly p: PruneRequest, counted: number) {
    this.excess = Math.max(0, counted - p.keepNewest);
    this.keep = new Set(p.keepKinds);
  }

  /** Whether another event could still be deleted (else stop reading). */
  get open(): boolean {
    return this.deleted < this.p.batch && (this.leading || this.excess > 0);
  }

  /** How many events the plan deletes. */
  get count(): number {
    return this.deleted;
  }

  /** The next event, oldest first; false once the plan is complete (stop reading). */
  offer(e: E): boolean {
    if (!this.open) return false;
    const excess = this.excess > 0 && !this.keep.has(e.kind);
    if (excess || (this.leading && e.at < this.p.olderThan)) {
      if (excess) this.excess--;
      if (this.adjacent) this.runs[this.runs.length - 1]!.push(e);
      else this.runs.push([e]);
      this.adjacent = true;
      this.deleted++;
    } else {
      this.leading = false;
      this.adjacent = false;
    }
    return this.open;
  }
}

export const DEFAULT_EVENT_LIMIT = 1000;

/** The stored form of an event: absent fields become null, so every store returns the same shape. */
export function normalizeEvent(e: NewEvent, id: number): StoreEvent {
  return { id, at: e.at, kind: e.kind, mac: e.mac ?? null, host: e.host ?? null, vm: e.vm ?? null, reason: e.reason ?? null, data: e.data ?? null };
}
