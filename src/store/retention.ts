/**
 * Event retention (issue 19): deletes events older than `maxAge`, and boot-trace events beyond
 * the newest `maxEvents` of them, oldest first, in small batches. `maxEvents` counts the boot trace
 * only (events/kinds.ts retentionOf): the records (HA decisions, boot table, inventory, installs,
 * P2V, hypervisor reachability) stay for `maxAge` whatever their number, so that a flood of boot
 * trace, which any LAN host can provoke, never pushes out what the HA controller reads back.
 * A pass runs every `intervalMs`; inside a pass each batch is one short store call (range
 * deletes by id) and the event loop gets a turn between batches, so a large backlog (a first
 * start after an upgrade) never stalls the protocol servers.
 * Runs where writes are allowed: on a redundant 3rc, on the leader only (the prune is fenced).
 *
 * Standing records: some events are state, not history. A hypervisor's maintenance flag set at
 * run time lives only as its newest `hypervisor.maintenance` event (the controller reads it back
 * at start); pruned by age, a host drained 15 days ago would silently come back into placement.
 * Before each prune, the newest event of each standing kind per host that the prune would expire
 * is written again (same fields and data, `at` now, `data.carriedFrom` its id), so the state
 * outlives maxAge while the history behind it still goes.
 */
import type { Clock, Timer } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import type { Store } from './store.js';
import { RECORD_KINDS, type EventKind } from '../events/kinds.js';

export interface RetentionPolicy {
  /** ms. */
  maxAge: number;
  maxEvents: number;
}

/** Events deleted per store call: a few ms of SQLite work, and within one etcd transaction. */
export const PRUNE_BATCH = 500;
export const PRUNE_INTERVAL_MS = 60_000;

/** A kind whose newest event per host is state (see the module comment), and the hosts to keep it for. */
export interface StandingKind {
  kind: EventKind;
  hosts(): readonly string[];
}

/** The standing kinds of 3rc: the run-time maintenance flag of each hypervisor. */
export function standingKinds(hypervisors: () => readonly string[]): StandingKind[] {
  return [{ kind: 'hypervisor.maintenance', hosts: hypervisors }];
}

export class EventRetention {
  readonly name = 'event-retention';
  private timer: Timer | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly d: {
      store: Pick<Store, 'pruneEvents'> & Partial<Pick<Store, 'queryEvents' | 'write'>>;
      clock: Clock;
      log: Logger;
      policy: RetentionPolicy;
      intervalMs?: number;
      batch?: number;
      /** Kept past maxAge: the newest event of each, per host. Needs store.queryEvents and store.write. */
      standing?: readonly StandingKind[];
    },
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    await this.running;
  }

  addresses(): string[] {
    return [];
  }

  /** One pass: batches until nothing is left to prune (or stopped). Resolves to how many were deleted. */
  async pass(): Promise<number> {
    let total = 0;
    const olderThan = this.d.clock.now() - this.d.policy.maxAge;
    await this.carryStanding(olderThan);
    while (!this.stopped) {
      const n = await this.d.store.pruneEvents({ olderThan, keepNewest: this.d.policy.maxEvents, keepKinds: RECORD_KINDS, batch: this.d.batch ?? PRUNE_BATCH });
      if (n === 0) break;
      total += n;
      await new Promise((r) => setImmediate(r));
    }
    return total;
  }

  /** Writes again each standing event that `olderThan` would expire (see the module comment). */
  private async carryStanding(olderThan: number): Promise<void> {
    const { queryEvents, write } = this.d.store;
    if (!this.d.standing?.length || !queryEvents || !write) return;
    const now = this.d.clock.now();
    for (const s of this.d.standing) {
      for (const host of s.hosts()) {
        const last = (await queryEvents.call(this.d.store, { kind: s.kind, host, limit: 1 })).at(-1);
        if (!last || last.at >= olderThan) continue;
        const { id, at: _at, kind: _kind, data, ...fields } = last;
        await write.call(this.d.store, [{ op: 'appendEvent', event: { ...fields, at: now, kind: s.kind, data: { ...(data ?? {}), carriedFrom: id } } }]);
        this.d.log.info({ host, kind: s.kind, from: id }, 'event retention: standing record carried past maxAge');
      }
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.d.clock.schedule(ms, () => {
      this.timer = null;
      this.running = this.pass()
        .then(
          (n) =>
            void (n > 0 &&
              this.d.log.info(
                { deleted: n, maxAge: this.d.policy.maxAge, maxEvents: this.d.policy.maxEvents },
                'event retention: events older than maxAge and boot-trace events beyond the newest maxEvents deleted (HA, boot-table, inventory, install, P2V job and hypervisor events are deleted by age only)',
              )),
          (err: unknown) => this.d.log.warn({ err }, 'event retention: prune failed (retried at the next pass)'),
        )
        .finally(() => {
          this.running = null;
          this.schedule(this.d.intervalMs ?? PRUNE_INTERVAL_MS);
        });
    });
  }
}
