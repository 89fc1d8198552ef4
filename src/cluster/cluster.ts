/**
 * Redundant 3rc: several instances on one etcd store, one leader (election.ts). This is what
 * main.ts uses, and all it needs to know:
 *
 * - join() opens the election and the warm mirror, and returns once this instance may load its
 *   state: as leader at once, as follower once the leader has loaded and written what a first
 *   start writes (the initial boot entries), so that a follower's load never writes.
 * - leaderOnly(name, build) wraps a service that only the leader runs (DHCP, TFTP, the HA
 *   controller, install expiry): built afresh from the store at each election win (a new lease
 *   table, the controller resumed from the persisted VM states), stopped at once when this
 *   instance steps down.
 * - the store's writes carry the fence (store/etcd.ts): refused unless this instance is leader,
 *   and refused by etcd if it was deposed in the meantime.
 * - while follower, the boot table and the inventory follow the leader's writes (mirror.ts), the
 *   HA view shows the persisted VM states, and API changes are refused with the leader's name.
 */
import { hostname, networkInterfaces } from 'node:os';
import type { Config } from '../config/load.js';
import type { VmFsmState } from '../ha/fsm-types.js';
import type { VmStatus } from '../ha/controller.js';
import type { HaView } from '../ha/view.js';
import type { BootTable } from '../inventory/boot-table.js';
import type { HostCatalog } from '../inventory/catalog.js';
import { ErrorCodes, NotLeaderError, StoreError } from '../lib/errors.js';
import type { Clock, Timer } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import type { Service } from '../lib/service.js';
import type { EtcdStore } from '../store/etcd.js';
import type { VmState } from '../store/store.js';
import type { BootEntry } from '../domain/boot-entry.js';
import { Election, type LeaderInfo, type Role } from './election.js';
import { Mirror } from './mirror.js';

/** What /api/v1/health and the API's refusals show. */
export interface ClusterRole {
  role: Role;
  /** This instance's name in the election. */
  instance: string;
  leader: { name: string; url: string | null } | null;
  /** Leader only: when this instance last won the election (ms since the epoch). */
  leaderSince: number | null;
}

/** The URL other instances and operators use to reach this instance's API. */
function apiUrlOf(config: Pick<Config, 'servers' | 'network'>): string {
  const h = config.servers.http;
  if (h.publicUrl) return h.publicUrl.replace(/\/$/, '');
  let host = h.listen;
  if (host === '0.0.0.0') {
    // serverIp when it is one of ours (it may be a floating address), else our first address.
    const local = Object.values(networkInterfaces()).flatMap((l) => l ?? []).filter((a) => a.family === 'IPv4' && !a.internal).map((a) => a.address);
    host = local.includes(config.network.serverIp) ? config.network.serverIp : (local[0] ?? config.network.serverIp);
  }
  return `http://${host}${h.port === 80 ? '' : `:${h.port}`}`;
}

interface Gate {
  name: string;
  build: () => Promise<Service | null>;
  started: boolean;
  inner: Service | null;
}

export class Cluster {
  readonly election: Election;
  readonly mirror: Mirror;
  private readonly gates: Gate[] = [];
  private transitions: Promise<void> = Promise.resolve();
  /** True once this instance has loaded as leader: the mirror no longer drives the boot table. */
  private leading = false;
  private startupDone = false;
  private leaderSince: number | null = null;
  private bootTable: BootTable | null = null;
  private catalog: HostCatalog | null = null;
  private leaderHa: HaView | null = null;
  private catalogReload: Timer | null = null;
  private readonly name: string;

  private constructor(private readonly store: EtcdStore, private readonly config: Config, private readonly clock: Clock, private readonly log: Logger) {
    const etcd = config.store.etcd!;
    this.name = etcd.name ?? `${hostname()}/${process.pid}`;
    this.election = new Election({ client: store.client, key: store.key.leader(), me: { name: this.name, url: apiUrlOf(config) }, ttlSeconds: etcd.leaseTtl / 1000, clock, log });
    this.mirror = new Mirror(store, clock, log);
    store.setFencing({
      current: () => this.election.fence(),
      refused: (why) => this.notLeader(why),
    });
  }

  /** Joins the cluster; see the module comment for when it resolves. */
  static async join(deps: { store: EtcdStore; config: Config; clock: Clock; log: Logger }): Promise<Cluster> {
    // A restore cut short left part of a backup: serving it would hand out its leases and boot entries as if whole.
    const unfinished = await deps.store.unfinishedRestore();
    if (unfinished !== null) throw new StoreError(ErrorCodes.STORE_OPEN, `the etcd store ${deps.store.prefix} holds an unfinished restore (${unfinished}): run 3rc restore again (it finishes the store) before serving it`);
    const c = new Cluster(deps.store, deps.config, deps.clock, deps.log.child({ server: 'cluster' }));
    await c.mirror.start();
    c.mirror.onChange = (ch) => c.follow(ch.kind, ch.id, ch.value);
    c.election.on('elected', () => c.queue(() => c.promote()));
    c.election.on('deposed', (reason) => {
      // At once, before any other callback: the mirror drives the boot table again.
      c.leading = false;
      c.leaderSince = null;
      c.queue(() => c.demote(reason));
    });
    await c.election.start();
    if (c.election.role !== 'leader') {
      c.log.info({ leader: c.election.current?.name ?? null }, 'cluster: follower; waiting until a leader has loaded (or this instance is elected)');
      await new Promise<void>((resolve) => {
        const check = () => {
          if (c.election.role === 'leader' || c.election.current?.ready) {
            c.election.off('leader', check);
            c.election.off('elected', check);
            resolve();
          }
        };
        c.election.on('leader', check);
        c.election.on('elected', check);
        check();
      });
    }
    if (c.election.role === 'leader') {
      c.leading = true;
      c.leaderSince = c.clock.now();
    }
    return c;
  }

  get role(): Role {
    return this.election.role;
  }

  /** The boot table and catalog a follower keeps current. */
  attach(o: { bootTable: BootTable; catalog: HostCatalog }): void {
    this.bootTable = o.bootTable;
    this.catalog = o.catalog;
    if (this.leading) return;
    // What the watches brought between the table's load and now.
    for (const e of this.mirror.values<BootEntry>('boot')) o.bootTable.applyStored(e.mac, e);
    this.follow('hosts', '', null);
  }

  private follow(kind: string, id: string, value: unknown): void {
    if (kind === 'boot' && !this.leading) this.bootTable?.applyStored(id, value as BootEntry | null);
    if (kind === 'hosts' && !this.leading && this.catalog) {
      // Several overrides often come in one write: reload once for them.
      this.catalogReload?.cancel();
      this.catalogReload = this.clock.schedule(20, () => {
        this.catalogReload = null;
        this.catalog?.load().catch((err: unknown) => this.log.error({ err }, 'cluster: inventory reload failed'));
      });
    }
  }

  /** A service only the leader runs; `build` runs at each election win (null: nothing to run). */
  leaderOnly(name: string, build: () => Promise<Service | null>): Service {
    const gate: Gate = { name, build, started: false, inner: null };
    this.gates.push(gate);
    return {
      name,
      start: async () => {
        gate.started = true;
        if (this.role === 'leader') await this.activate(gate);
      },
      stop: async () => {
        gate.started = false;
        await this.deactivate(gate);
      },
      addresses: () => gate.inner?.addresses() ?? [],
    };
  }

  private async activate(g: Gate): Promise<void> {
    if (g.inner || !g.started) return;
    const s = await g.build();
    if (!s) return;
    g.inner = s;
    await s.start();
  }

  private async deactivate(g: Gate): Promise<void> {
    const s = g.inner;
    g.inner = null;
    if (!s) return;
    // A deposed leader's actions in flight can only fail now (fenced): do not wait on them for long.
    let bound: Timer | undefined;
    const stopped = s.stop().catch((err: unknown) => this.log.error({ err, server: g.name }, 'cluster: error while stopping'));
    await Promise.race([stopped, new Promise<void>((resolve) => (bound = this.clock.schedule(3000, resolve)))]);
    bound?.cancel();
  }

  private queue(fn: () => Promise<void>): void {
    this.transitions = this.transitions.then(fn).catch((err: unknown) => this.log.error({ err }, 'cluster: role change failed'));
  }

  /** Elected after start-up: load the state from etcd, then start the leader's services. */
  private async promote(): Promise<void> {
    if (this.role !== 'leader' || !this.startupDone) return;
    const t0 = this.clock.now();
    // Everything the old leader wrote is older than our election revision (its writes were fenced).
    await this.mirror.reload();
    await this.catalog?.load();
    if (this.role !== 'leader') return;
    this.leading = true;
    this.leaderSince = t0;
    for (const g of this.gates) {
      if (this.role !== 'leader') return;
      await this.activate(g);
    }
    await this.election.announce(true).catch(() => false);
    this.log.info({ loadMs: this.clock.now() - t0, services: this.gates.filter((g) => g.inner).map((g) => g.name) }, 'cluster: leading (state loaded from etcd, leader services started)');
  }

  private async demote(reason: string): Promise<void> {
    for (const g of [...this.gates].reverse()) await this.deactivate(g);
    this.leaderHa = null;
    this.log.warn({ reason }, 'cluster: follower now (leader services stopped)');
    if (!this.startupDone) return;
    try {
      await this.mirror.reload();
      await this.catalog?.load();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cluster: reload after stepping down failed; the watches catch up');
    }
  }

  /** main.ts: start-up finished (every service started); the leader announces it is ready. */
  async ready(): Promise<void> {
    this.startupDone = true;
    if (this.role === 'leader' && !this.leading) {
      // Elected while main.ts was still starting: load and start as after any election.
      this.queue(() => this.promote());
      await this.transitions;
    } else if (this.role === 'leader') {
      await this.election.announce(true);
      this.log.info({ instance: this.name }, 'cluster: leading');
    } else {
      this.log.info({ instance: this.name, leader: this.election.current?.name ?? null }, 'cluster: following');
    }
  }

  /** The leader's HA view (from buildHa), while it leads. */
  setLeaderHa(view: HaView): void {
    this.leaderHa = view;
  }

  private leaderInfo(): LeaderInfo | null {
    const cur = this.election.current;
    return cur && cur.name !== this.name ? cur : this.role === 'leader' ? cur : null;
  }

  notLeader(why: string): NotLeaderError {
    const l = this.leaderInfo();
    const where = l ? `the leader is ${l.name}${l.url ? ` (${l.url})` : ''}` : 'no leader is elected right now; retry in a few seconds';
    return new NotLeaderError(`this 3rc instance is a follower (read-only): ${why}; ${where}`, l ? { name: l.name, url: l.url } : null);
  }

  /** Role, for /api/v1/health and the API's refusals. */
  status(): ClusterRole {
    const l = this.election.current;
    return { role: this.role, instance: this.name, leader: l ? { name: l.name, url: l.url } : null, leaderSince: this.leaderSince };
  }

  /** The HA view the API shows: the leader's controller, or the persisted states on a follower. */
  haView(window: number): HaView {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const c = this;
    const following = () => `this instance is a follower; the HA controller runs on the leader${c.election.current ? ` ${c.election.current.name}` : ''}`;
    return {
      get active() {
        return c.role === 'leader' && c.leaderHa !== null ? c.leaderHa.active : false;
      },
      get reason() {
        return c.role === 'leader' ? (c.leaderHa?.reason ?? 'the leader is loading its state') : following();
      },
      status(): VmStatus[] {
        if (c.role === 'leader' && c.leaderHa?.active) return c.leaderHa.status();
        const now = c.clock.now();
        return c.mirror.values<VmState>('vms').map((v) => {
          const s = v.data as VmFsmState;
          return { vm: v.vm, state: s.phase, host: s.host, since: s.since, reason: s.reason, recoveriesUsed: (s.recoveries ?? []).filter((t) => t > now - window).length };
        });
      },
      async operator(vm, op) {
        if (c.role === 'leader' && c.leaderHa) return c.leaderHa.operator(vm, op);
        throw c.notLeader(`HA operator actions run on the leader`);
      },
      adopt(spec) {
        if (c.role === 'leader' && c.leaderHa) return c.leaderHa.adopt(spec);
        throw c.notLeader(`HA protection of a new VM runs on the leader`);
      },
      admission: () => (c.role === 'leader' ? (c.leaderHa?.admission?.() ?? null) : null),
      hypervisors() {
        return c.role === 'leader' && c.leaderHa ? c.leaderHa.hypervisors() : [];
      },
      async drain(host) {
        if (c.role === 'leader' && c.leaderHa) return c.leaderHa.drain(host);
        throw c.notLeader(`hypervisor drains run on the leader`);
      },
      async undrain(host) {
        if (c.role === 'leader' && c.leaderHa) return c.leaderHa.undrain(host);
        throw c.notLeader(`hypervisor drains run on the leader`);
      },
    };
  }

  /** Leaves the election (another instance takes over at once) and stops watching. */
  async stop(): Promise<void> {
    this.startupDone = false;
    await this.election.stop();
    await this.transitions;
    await this.mirror.stop();
    this.catalogReload?.cancel();
  }
}
