/**
 * A follower's warm copy of what the leader stores: boot entries, leases, VM states and host
 * overrides, read once and then followed through etcd watches (the event log is not mirrored: it
 * is read on demand). Every record carries the etcd revision it was written at, and an older
 * change never replaces a newer one, so a full reload and the watches may overlap in any order.
 */
import type { Watcher } from 'etcd3';
import { delay, type Clock } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import type { EtcdStore } from '../store/etcd.js';
import type { HostOverride, VmState } from '../store/store.js';
import type { BootEntry } from '../domain/boot-entry.js';
import type { Lease } from '../domain/lease.js';

export type MirrorKind = 'boot' | 'leases' | 'vms' | 'hosts';

interface Rec<T> {
  rev: bigint;
  value: T | null;
}

export interface MirrorChange {
  kind: MirrorKind;
  /** MAC, IP, VM or host name. */
  id: string;
  value: BootEntry | Lease | VmState | HostOverride | null;
}

export class Mirror {
  private readonly maps: Record<MirrorKind, Map<string, Rec<unknown>>> = { boot: new Map(), leases: new Map(), vms: new Map(), hosts: new Map() };
  private watchers: Watcher[] = [];
  private stopped = false;
  /** Called for each change applied (from a watch or a reload). */
  onChange: ((c: MirrorChange) => void) | null = null;

  constructor(private readonly store: EtcdStore, private readonly clock: Clock, private readonly log: Logger) {}

  private dir(kind: MirrorKind): string {
    return this.store.dirs[kind];
  }

  /** Current values of one kind (deleted ones left out). */
  values<T>(kind: MirrorKind): T[] {
    return [...this.maps[kind].values()].flatMap((r) => (r.value === null ? [] : [r.value as T]));
  }

  size(kind: MirrorKind): number {
    return this.values(kind).length;
  }

  private apply(kind: MirrorKind, id: string, rev: bigint, value: unknown): void {
    const m = this.maps[kind];
    const had = m.get(id);
    if (had && had.rev >= rev) return;
    m.set(id, { rev, value });
    this.onChange?.({ kind, id, value: value as MirrorChange['value'] });
  }

  /** Reads everything at one revision, then watches from the next one. */
  async start(): Promise<void> {
    const rev = await this.reload();
    for (const kind of Object.keys(this.maps) as MirrorKind[]) {
      const dir = this.dir(kind);
      for (;;) {
        try {
          const w = await this.store.client.watch().prefix(dir).startRevision(String(rev + 1n)).create();
          w.on('put', (kv) => this.apply(kind, kv.key.toString('utf8').slice(dir.length), BigInt(kv.mod_revision), JSON.parse(kv.value.toString('utf8'))));
          w.on('delete', (kv) => this.apply(kind, kv.key.toString('utf8').slice(dir.length), BigInt(kv.mod_revision), null));
          w.on('error', (err) => this.log.warn({ err: err.message, kind }, 'cluster: watch error (the client reconnects)'));
          this.watchers.push(w);
          break;
        } catch (err) {
          if (this.stopped) return;
          this.log.warn({ err: (err as Error).message, kind }, 'cluster: cannot watch yet; retrying');
          await delay(this.clock, 500);
        }
      }
    }
  }

  /** A full read of the four kinds at one revision; returns that revision. */
  async reload(): Promise<bigint> {
    let revision: string | undefined;
    const kinds = Object.keys(this.maps) as MirrorKind[];
    for (const kind of kinds) {
      const dir = this.dir(kind);
      let b = this.store.client.getAll().prefix(dir);
      if (revision) b = b.revision(revision);
      const r = await b.exec();
      revision ??= r.header.revision;
      const rev = BigInt(revision);
      const seen = new Set<string>();
      for (const kv of r.kvs) {
        const id = kv.key.toString('utf8').slice(dir.length);
        seen.add(id);
        this.apply(kind, id, BigInt(kv.mod_revision), JSON.parse(kv.value.toString('utf8')));
      }
      for (const [id, rec] of this.maps[kind]) if (!seen.has(id) && rec.value !== null) this.apply(kind, id, rev, null);
    }
    return BigInt(revision!);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const ws = this.watchers;
    this.watchers = [];
    await Promise.all(ws.map((w) => w.cancel().catch(() => undefined)));
  }
}
