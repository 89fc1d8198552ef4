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
 */
import type { Clock, Timer } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import type { Store } from './store.js';
import { RECORD_KINDS } from '../events/kinds.js';

export interface RetentionPolicy {
  /** ms. */
  maxAge: number;
  maxEvents: number;
}

/** Events deleted per store call: a few ms of SQLite work, and within one etcd transaction. */
export const PRUNE_BATCH = 500;
export const PRUNE_INTERVAL_MS = 60_000;

export class EventRetention {
  readonly name = 'event-retention';
  private timer: Timer | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly d: { store: Pick<Store, 'pruneEvents'>; clock: Clock; log: Logger; policy: RetentionPolicy; intervalMs?: number; batch?: number }) {}

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
    while (!this.stopped) {
      const n = await this.d.store.pruneEvents({ olderThan: this.d.clock.now() - this.d.policy.maxAge, keepNewest: this.d.policy.maxEvents, keepKinds: RECORD_KINDS, batch: this.d.batch ?? PRUNE_BATCH });
      if (n === 0) break;
      total += n;
      await new Promise((r) => setImmediate(r));
    }
    return total;
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
