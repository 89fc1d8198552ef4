/**
 * The install lifecycle after the flip to `install`: the installer's callbacks (done, failed),
 * each allowed once with the current per-install token, and the expiry of installs that never
 * call back. All three end in `local` boot with the result recorded, so a host whose install
 * failed or hung does not reinstall in a loop; the operator (or the HA controller) decides what
 * comes next.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Clock, Timer } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import { newEvent } from '../events/kinds.js';
import type { Store } from '../store/store.js';
import type { BootEntry, InstallResult } from '../domain/boot-entry.js';
import type { BootTable } from './boot-table.js';
import type { Inventory } from './inventory.js';

/** Logs kept from a failed install: the end of it, where the error is. */
const FAILED_LOG_KEEP = 64 * 1024;

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 32);
}

/** Constant-time comparison of a presented token with the entry's. */
export function tokenIsCurrent(entry: BootEntry | undefined, token: string | undefined): boolean {
  if (!entry || entry.mode !== 'install' || !entry.token || !token) return false;
  const a = createHash('sha256').update(token).digest();
  const b = createHash('sha256').update(entry.token).digest();
  return timingSafeEqual(a, b);
}

export type CallbackOutcome =
  | { status: 'ok'; entry: BootEntry }
  /** The token was good once and has been used (or the install expired): 410. */
  | { status: 'gone'; why: string }
  | { status: 'forbidden'; why: string }
  | { status: 'unknown' };

export interface InstallDeps {
  bootTable: BootTable;
  inventory: Pick<Inventory, 'hostByMac'>;
  store: Store;
  clock: Clock;
  log: Logger;
  /** An install with no callback after this long is expired (ms). */
  timeoutMs: number;
  /** Whether this timeout applies to an entry. Default: every install (a P2V capture has p2v.timeout instead). */
  expires?: (entry: BootEntry) => boolean;
}

export class InstallLifecycle {
  private readonly busy = new Set<string>();
  private timer: Timer | undefined;

  constructor(private readonly deps: InstallDeps) {}

  done(mac: string, token: string | undefined): Promise<CallbackOutcome> {
    return this.finish(mac, token, 'done', {});
  }

  failed(mac: string, token: string | undefined, log: string): Promise<CallbackOutcome> {
    const kept = log.length > FAILED_LOG_KEEP ? log.slice(-FAILED_LOG_KEEP) : log;
    return this.finish(mac, token, 'failed', { log: kept, logBytes: Buffer.byteLength(log), truncated: log.length > FAILED_LOG_KEEP });
  }

  private async finish(mac: string, token: string | undefined, result: 'done' | 'failed', data: Record<string, unknown>): Promise<CallbackOutcome> {
    const host = this.deps.inventory.hostByMac(mac);
    const entry = this.deps.bootTable.get(mac);
    if (!host && !entry) return { status: 'unknown' };
    if (!token) return { status: 'forbidden', why: 'no token' };
    if (!tokenIsCurrent(entry, token) || this.busy.has(mac)) {
      if (await this.wasSpent(mac, token)) return { status: 'gone', why: 'this install already reported its end; the token is spent' };
      return { status: 'forbidden', why: 'the token is not the current install token of this host' };
    }
    this.busy.add(mac);
    try {
      const next = await this.deps.bootTable.setLocal(mac, { reason: `install-${result}`, result });
      await this.deps.store.write([
        { op: 'appendEvent', event: newEvent(`install.${result}`, { at: this.deps.clock.now(), mac, host: host?.name ?? null, reason: `install-${result}` }, { ...data, tokenHash: tokenHash(token), profile: entry!.profile }) },
      ]);
      this.deps.log[result === 'done' ? 'info' : 'warn']({ mac, host: host?.name, profile: entry!.profile, reason: `install-${result}` }, `install ${result}`);
      return { status: 'ok', entry: next };
    } finally {
      this.busy.delete(mac);
    }
  }

  private async wasSpent(mac: string, token: string): Promise<boolean> {
    const hash = tokenHash(token);
    for (const kind of ['install.done', 'install.failed', 'install.expired']) {
      const events = await this.deps.store.queryEvents({ mac, kind, limit: 50 });
      if (events.some((e) => e.data?.tokenHash === hash)) return true;
    }
    return false;
  }

  /** Expires every install older than the timeout; returns how many. */
  async sweep(): Promise<number> {
    const now = this.deps.clock.now();
    let n = 0;
    for (const e of this.deps.bootTable.all()) {
      if (e.mode !== 'install' || now - e.since < this.deps.timeoutMs || this.busy.has(e.mac) || this.deps.expires?.(e) === false) continue;
      const host = this.deps.inventory.hostByMac(e.mac);
      await this.deps.bootTable.setLocal(e.mac, { reason: 'install-expired', result: 'expired' as InstallResult });
      await this.deps.store.write([
        { op: 'appendEvent', event: newEvent('install.expired', { at: now, mac: e.mac, host: host?.name ?? null, reason: 'install-expired' }, { tokenHash: e.token ? tokenHash(e.token) : null, profile: e.profile, startedAt: e.since }) },
      ]);
      this.deps.log.warn({ mac: e.mac, host: host?.name, profile: e.profile, reason: 'install-expired' }, 'install expired: no callback in time');
      n++;
    }
    return n;
  }

  /** Sweeps periodically on the injected clock until stop(). */
  start(): void {
    const every = Math.max(1000, Math.min(60_000, Math.floor(this.deps.timeoutMs / 10)));
    const tick = () => {
      this.sweep()
        .catch((err: unknown) => this.deps.log.error({ err }, 'install expiry sweep failed'))
        .finally(() => {
          if (this.timer) this.timer = this.deps.clock.schedule(every, tick);
        });
    };
    this.timer = this.deps.clock.schedule(every, tick);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}
