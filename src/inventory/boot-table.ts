/**
 * The BootTable: MAC -> what it boots next. Every protocol server reads it at request time (so a
 * flip changes the very next answer, with no reload); the install-done callback, the API, the
 * CLI and the HA controller write it. Writes go to the store first and reach memory only once
 * they are durable: what a caller was told has changed survives kill -9.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../lib/clock.js';
import { ErrorCodes, NotFoundError } from '../lib/errors.js';
import { newEvent } from '../events/kinds.js';
import type { Store } from '../store/store.js';
import type { BootEntry, BootMode, InstallResult } from '../domain/boot-entry.js';
import type { Inventory } from './inventory.js';

/** 128 random bits, hex: the per-install token in kernel arguments and callback URLs. */
function randomToken(): string {
  return randomBytes(16).toString('hex');
}

export interface BootTableDeps {
  store: Store;
  inventory: Inventory;
  clock: Clock;
  newToken?: () => string;
}

export interface BootChange {
  entry: BootEntry;
  previous: BootEntry | undefined;
  reason: string;
}

/** Boot entries per store write when a first start creates them (BootTable.load). */
const INITIAL_BATCH = 500;

export class BootTable extends EventEmitter<{ change: [BootChange] }> {
  private readonly entries = new Map<string, BootEntry>();
  private readonly deps: Required<BootTableDeps>;

  private constructor(deps: BootTableDeps) {
    super();
    this.deps = { newToken: randomToken, ...deps };
  }

  /**
   * Loads the stored entries. Hosts of the inventory that have none get the entry their config
   * asks for (`boot:`, default local), written to the store so that its token stays valid
   * across restarts.
   */
  static async load(deps: BootTableDeps): Promise<BootTable> {
    const table = new BootTable(deps);
    for (const e of await deps.store.listBootEntries()) table.entries.set(e.mac, e);
    const initial: BootEntry[] = [];
    for (const h of deps.inventory.hosts()) {
      if (table.entries.has(h.mac)) continue;
      initial.push({
        mac: h.mac,
        mode: h.boot,
        profile: h.profile,
        token: h.boot === 'install' ? table.deps.newToken() : null,
        since: deps.clock.now(),
        result: null,
      });
    }
    // In writes of INITIAL_BATCH entries: a 10,000-host first start as one write made the store's
    // thread hold every entry at once (issue 26). A start cut short leaves some written: the next
    // start writes the others (those without an entry), so nothing depends on one transaction.
    for (let i = 0; i < initial.length; i += INITIAL_BATCH) {
      const batch = initial.slice(i, i + INITIAL_BATCH);
      await deps.store.write(batch.map((entry) => ({ op: 'putBootEntry' as const, entry })));
      for (const e of batch) table.entries.set(e.mac, e);
    }
    return table;
  }

  /** The entry for a canonical MAC, or undefined. O(1); never waits. */
  get(mac: string): BootEntry | undefined {
    return this.entries.get(mac);
  }

  all(): BootEntry[] {
    return [...this.entries.values()];
  }

  get size(): number {
    return this.entries.size;
  }

  /** Forgets a MAC (its host was deleted). Resolves once durable. */
  async remove(mac: string, reason: string): Promise<void> {
    if (!this.entries.has(mac)) return;
    await this.deps.store.write([
      { op: 'deleteBootEntry', mac },
      { op: 'appendEvent', event: newEvent('boot.removed', { at: this.deps.clock.now(), mac, reason }, null) },
    ]);
    this.entries.delete(mac);
  }

  /** Gives a host added at run time the entry its definition asks for, unless it has one. */
  async ensure(host: { mac: string; profile: string; boot: BootMode }, reason: string): Promise<BootEntry> {
    const existing = this.entries.get(host.mac);
    if (existing) return existing;
    if (host.boot === 'install') return this.setInstall(host.mac, { profile: host.profile, reason });
    return this.put({ mac: host.mac, mode: 'local', profile: host.profile, token: null, since: this.deps.clock.now(), result: null }, reason);
  }

  /**
   * Points a MAC at an install of `profile` (default: the host's own profile) with a fresh
   * single-use token. Resolves once durable.
   */
  async setInstall(mac: string, opts: { profile?: string; reason: string }): Promise<BootEntry> {
    const host = this.deps.inventory.hostByMac(mac);
    const profile = opts.profile ?? this.entries.get(mac)?.profile ?? host?.profile;
    if (!profile) throw new NotFoundError(ErrorCodes.UNKNOWN_PROFILE, `no profile given and ${mac} has none in the inventory`);
    if (!this.deps.inventory.profile(profile)) throw new NotFoundError(ErrorCodes.UNKNOWN_PROFILE, `profile ${JSON.stringify(profile)} does not exist`);
    return this.put({ mac, mode: 'install', profile, token: this.deps.newToken(), since: this.deps.clock.now(), result: null }, opts.reason);
  }

  /**
   * Points a MAC at its local disk; the install token, if any, is void from now on. `result`
   * records how an install ended (done, failed, expired); without it the last result is kept.
   */
  async setLocal(mac: string, opts: { reason: string; result?: InstallResult }): Promise<BootEntry> {
    const host = this.deps.inventory.hostByMac(mac);
    const profile = this.entries.get(mac)?.profile ?? host?.profile;
    if (!profile) throw new NotFoundError(ErrorCodes.UNKNOWN_HOST, `${mac} is neither in the boot table nor in the inventory`);
    const result = opts.result ?? this.entries.get(mac)?.result ?? null;
    return this.put({ mac, mode: 'local', profile, token: null, since: this.deps.clock.now(), result }, opts.reason);
  }

  /**
   * Redundant 3rc (src/cluster): an entry the leader already stored (null: it deleted it), applied
   * by a follower that watches the store. Nothing is written.
   */
  applyStored(mac: string, entry: BootEntry | null): void {
    if (entry) this.entries.set(mac, entry);
    else this.entries.delete(mac);
  }

  private async put(entry: BootEntry, reason: string): Promise<BootEntry> {
    const previous = this.entries.get(entry.mac);
    const host = this.deps.inventory.hostByMac(entry.mac);
    await this.deps.store.write([
      { op: 'putBootEntry', entry },
      // The token is a credential: it goes into the boot entry, never into the event log.
      {
        op: 'appendEvent',
        event: newEvent('boot.set', { at: entry.since, mac: entry.mac, host: host?.name ?? null, reason }, { mode: entry.mode, profile: entry.profile, previous: previous?.mode ?? null, result: entry.result ?? null }),
      },
    ]);
    this.entries.set(entry.mac, entry);
    this.emit('change', { entry, previous, reason });
    return entry;
  }
}

