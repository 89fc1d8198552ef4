/**
 * The model checker's world: the real HaController (FSM, placement, store writes, resume) over a
 * SimCluster on a SimClock, with every source of nondeterminism turned into an explicit step that
 * the checker chooses. Hypervisor commands that change something (start, reset, destroy) and the
 * fence do not complete on their own: each waits as a pending operation until a step resolves it
 * (done, done with its result lost, timed out without effect, refused). Reads (domstate, list,
 * reachability) and guest ssh answer at once from the ground truth.
 *
 * A world is deterministic: the same list of steps always leads to the same state, so a state is
 * reached again by replaying its trace, and a counter-example is a JSON list of steps.
 */
import { DriverError, DriverErrorCodes, type Fencer, type GuestAccess, type HypervisorDriver, type VmListing, type VmRunState } from '../hypervisor/driver.js';
import { driverErrorOf } from '../hypervisor/remote.js';
import { SimCluster, type SimTimings } from '../hypervisor/sim.js';
import { SshError, SshErrorCodes } from '../hypervisor/ssh.js';
import { MemoryStore } from '../store/memory.js';
import type { NewEvent, Store, StoreOp } from '../store/store.js';
import { HaController, type BootFlip, type HostSpec, type VmSpec } from './controller.js';
import type { FsmEvent, FsmRules, VmFsmState } from './fsm-types.js';
import type { Monitor, MonitorTarget, Snapshot, VmView } from './monitor.js';
import { seededRng } from './random.js';
import { defaultRules } from './rules.js';
import { SimClock } from './sim-clock.js';
import { SimMonitor } from './sim-monitor.js';
import { macFor } from './sim-world.js';

/** One choice of the checker. Ops are named by their creation number, stable across replays. */
export type CheckStep =
  /** Let time run: timers fire until something the checker can act on changes. */
  | { t: 'tick' }
  /** Pending op n: done and reported / done, result lost (timeout) / no effect, timed out / refused. */
  | { t: 'ok' | 'lost' | 'timeout' | 'fail'; op: number }
  /** kill -9 of the controller and a resume on the same store; its ops in flight land (effect) or not. */
  | { t: 'restart'; effect: boolean }
  /** The last result the VM's machine accepted arrives a second time. */
  | { t: 'dup'; vm: string }
  | { t: 'partition' | 'heal' | 'down' | 'up'; host: string }
  /** The guest halts (powers off) or hangs (service stops answering). */
  | { t: 'halt' | 'hang'; vm: string }
  /** Probes of the VM start (or stop) lying: up reads as down and down as up. */
  | { t: 'lie'; vm: string }
  /** The wall clock jumps by ms (timers keep their delays). */
  | { t: 'jump'; ms: number };

export interface CheckConfig {
  hosts: string[];
  /** VM name -> host it runs on at time 0. */
  vms: Record<string, string>;
  rules?: FsmRules;
  /** Ticks stop after this much simulated time even if nothing changed. Default: 10 min. */
  tickSpan?: number;
  /** Liveness bound: once faults stop, every VM is running or quarantined within this. Default: 1 h. */
  settleWithin?: number;
}

export class Violation extends Error {
  constructor(readonly invariant: string, message: string) {
    super(`${invariant}: ${message}`);
    this.name = 'Violation';
  }
}

type OpKind = 'start' | 'reset' | 'destroy' | 'fence';

interface PendingOp {
  n: number;
  kind: OpKind;
  host: string;
  vm: string | null;
  /** Controller incarnation that issued it. */
  inc: number;
  settle(outcome: 'ok' | 'lost' | 'timeout' | 'fail'): Promise<void>;
}

const S = 1000;
const TIMINGS: SimTimings = { boot: { mean: 80 * S, sd: 0 }, install: { mean: 440 * S, sd: 0 }, pxe: 10 * S, pxeLoop: 25 * S };
const JUMP = 2 * 3600 * S;

/** Lets every microtask chain the last step started run to its end (nothing here does real I/O). */
async function quiesce(): Promise<void> {
  await new Promise<void>((r) => setImmediate(r));
}

export class CheckWorld {
  readonly clock = new SimClock(0);
  readonly store = new MemoryStore();
  readonly sim: SimCluster;
  controller!: HaController;
  readonly rules: FsmRules;
  /** Every event the controllers wrote, in order (the checker's own copy of the decision log). */
  readonly log: NewEvent[] = [];
  readonly trace: CheckStep[] = [];
  private inc = 0;
  private opSeq = 0;
  private readonly ops: PendingOp[] = [];
  private readonly lies = new Set<string>();
  /** Last result-like event each VM's machine accepted (for `dup`). */
  private readonly lastResult = new Map<string, FsmEvent>();
  /** Reboot action ids already delivered to a guest. */
  private readonly rebooted = new Set<string>();
  /** Set by a driver call that breaks an invariant; thrown at the end of the step. */
  private broken: Violation | null = null;
  private readonly modes = new Map<string, 'local' | 'install'>();
  private readonly specs: VmSpec[];
  private readonly hostSpecs: HostSpec[];
  private readonly monitor: Monitor;
  private autoResolve = false;

  constructor(readonly cfg: CheckConfig) {
    this.rules = cfg.rules ?? defaultRules();
    const names = Object.keys(cfg.vms);
    const macs = new Map(names.map((v, i) => [v, macFor(i + 1)]));
    this.sim = new SimCluster({
      clock: this.clock, rng: seededRng(1), timings: TIMINGS,
      hosts: cfg.hosts.map((name) => ({ name, cpus: 8, memoryMb: 16384 })),
      vms: names.map((v) => ({ name: v, mac: macs.get(v)!, host: cfg.vms[v]! })),
      hooks: { bootMode: (mac) => this.modes.get(mac) ?? 'local', onInstalled: (_vm, mac) => void this.modes.set(mac, 'local') },
    });
    this.specs = names.map((v) => ({ name: v, mac: macs.get(v)!, host: cfg.vms[v]!, reinstall: true, priority: 0, cpus: 1, memoryMb: 1024 }));
    this.hostSpecs = cfg.hosts.map((name) => ({ name, loadThreshold: 4, capacity: {} }));
    const inner = new SimMonitor(this.sim, this.clock, { detectDelay: 0, evidence: null });
    const lie = (vm: string, v: VmView): VmView => (this.lies.has(vm) ? { ...v, up: !v.up } : v);
    this.monitor = {
      pass: async (target: MonitorTarget): Promise<Snapshot> => {
        const snap = await inner.pass(target);
        for (const [vm, v] of snap.vms) snap.vms.set(vm, lie(vm, v));
        return snap;
      },
      probe: async (vm, host) => {
        const r = await inner.probe(vm, host);
        return { ...r, vm: lie(vm, r.vm) };
      },
      powered: (vm, at) => inner.powered(vm, at),
    };
  }

  static async create(cfg: CheckConfig): Promise<CheckWorld> {
    const w = new CheckWorld(cfg);
    w.inc = 1;
    await w.boot();
    return w;
  }

  /** Builds a world and replays steps on it; throws the first Violation met. */
  static async replay(cfg: CheckConfig, steps: readonly CheckStep[]): Promise<CheckWorld> {
    const w = await CheckWorld.create(cfg);
    for (const s of steps) await w.apply(s);
    return w;
  }

  private async boot(): Promise<void> {
    const inc = this.inc;
    const store = this.storeFor(inc);
    this.controller = await HaController.load({
      clock: this.clock, store, driver: this.driverFor(inc), guest: this.guestFor(), fencer: this.fencerFor(inc),
      bootTable: this.bootFlip(), monitor: this.monitor, vms: this.specs, hosts: this.hostSpecs, rules: this.rules, scanInterval: 10 * S,
    });
    await this.controller.start();
    await quiesce();
  }

  // ---- the world's parts, as the controller sees them ----------------------------------------

  /** The shared store; writes of a killed incarnation fail (a dead process writes nothing). */
  private storeFor(inc: number): Store {
    const base = this.store;
    const log = this.log;
    return new Proxy(base, {
      get: (target, prop, receiver) => {
        if (prop === 'write') {
          return async (ops: StoreOp[]) => {
            if (inc !== this.inc) throw new Error('controller was killed');
            const r = await target.write(ops);
            for (const o of ops) if (o.op === 'appendEvent') log.push(structuredClone(o.event));
            return r;
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }

  private bootFlip(): BootFlip {
    return { setInstall: async (mac) => void this.modes.set(mac, 'install') };
  }

  private guestFor(): GuestAccess {
    return {
      reboot: async (vm) => {
        const id = this.latestAction(vm, ['reboot'], null);
        if (id !== null) {
          if (this.rebooted.has(id)) this.fail(new Violation('no-repeat', `reboot ${id} of ${vm} delivered twice`));
          this.rebooted.add(id);
        }
        return this.sim.reboot(vm);
      },
    };
  }

  private driverFor(inc: number): HypervisorDriver {
    const sim = this.sim;
    const mutate = (kind: 'start' | 'reset' | 'destroy', host: string, vm: string): Promise<void> => {
      // A command to a host that cannot be reached never leaves: the connection fails at once.
      if (!this.reachable(host)) return Promise.reject(driverErrorOf(host, new SshError(SshErrorCodes.CONNECT, host, `connect to ${host} failed`)));
      if (kind !== 'destroy') this.checkNotRepeated(vm, host);
      return this.pend(kind, host, vm, inc, async (outcome) => {
        if (outcome === 'ok') return sim.deliver(kind, host, vm);
        if (outcome === 'fail') throw new DriverError(DriverErrorCodes.FAILED, host, `virsh ${kind} ${vm} failed on ${host}`);
        if (outcome === 'lost') await sim.deliver(kind, host, vm).catch(() => undefined);
        throw driverErrorOf(host, new SshError(SshErrorCodes.TIMEOUT, host, `virsh ${kind} ${vm} on ${host} timed out`));
      });
    };
    return {
      kind: 'check',
      reachable: async (host) => this.reachable(host),
      listVms: (host): Promise<VmListing[]> => sim.listVms(host),
      vmState: (host, vm): Promise<VmRunState> => sim.vmState(host, vm),
      start: (host, vm) => mutate('start', host, vm),
      reset: (host, vm) => mutate('reset', host, vm),
      destroy: (host, vm) => mutate('destroy', host, vm),
      // The model checker explores recovery, not drains: the controller never migrates on its own.
      migrate: (host) => Promise.reject(new DriverError(DriverErrorCodes.MIGRATION_UNSUPPORTED, host, 'no migration in the model checker')),
    };
  }

  private fencerFor(inc: number): Fencer {
    return {
      fence: (host) =>
        this.pend('fence', host, null, inc, async (outcome) => {
          if (outcome === 'ok' || outcome === 'lost') {
            const power = await this.sim.fence(host);
            await this.powerLost(host);
            if (outcome === 'ok') return power;
          }
          // A timed-out or failed BMC command: the read-back cannot tell, or says on.
          return outcome === 'fail' ? 'on' : 'unknown';
        }),
    };
  }

  private pend<T>(kind: OpKind, host: string, vm: string | null, inc: number, run: (o: 'ok' | 'lost' | 'timeout' | 'fail') => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const op: PendingOp = {
        n: ++this.opSeq, kind, host, vm, inc,
        settle: async (outcome) => {
          this.ops.splice(this.ops.indexOf(op), 1);
          try {
            resolve(await run(outcome));
          } catch (err) {
            reject(err);
          }
        },
      };
      this.ops.push(op);
      if (this.autoResolve) void Promise.resolve().then(() => op.settle('ok')).catch(() => undefined);
    });
  }

  /** A host lost power: commands in flight there can no longer take effect (libvirtd died); their connections drop. */
  private async powerLost(host: string): Promise<void> {
    for (const op of this.ops.filter((o) => o.host === host && o.kind !== 'fence')) await op.settle('timeout');
  }

  private reachable(host: string): boolean {
    const h = this.sim.hostState(host);
    return h.power === 'on' && !h.partitioned;
  }

  /** The newest recorded action of these kinds for vm (on host, when given). */
  private latestAction(vm: string, kinds: string[], host: string | null): string | null {
    for (let i = this.log.length - 1; i >= 0; i--) {
      const e = this.log[i]!;
      const d = e.data as { id?: string; type?: string; host?: string } | null;
      if (e.kind === 'ha.action' && e.vm === vm && d?.type && kinds.includes(d.type) && (host === null || d.host === host)) return d.id ?? null;
    }
    return null;
  }

  /** A start or reset sent for an action whose outcome is already recorded repeats it. */
  private checkNotRepeated(vm: string, host: string): void {
    const id = this.latestAction(vm, ['start', 'reset', 'reinstall'], host);
    if (id === null) return;
    if (this.log.some((e) => e.kind === 'ha.done' && (e.data as { id?: string } | null)?.id === id)) {
      this.fail(new Violation('no-repeat', `${vm}: action ${id} sent to ${host} again after its outcome was recorded`));
    }
  }

  private fail(v: Violation): void {
    this.broken ??= v;
  }

  // ---- steps ---------------------------------------------------------------------------------

  /** The steps possible now, in a fixed order. `faults: false` leaves only progress (tick, ok). */
  enabled(faults = true): CheckStep[] {
    const out: CheckStep[] = [{ t: 'tick' }];
    for (const op of this.ops) {
      out.push({ t: 'ok', op: op.n });
      if (faults) {
        if (op.kind !== 'destroy') out.push({ t: 'lost', op: op.n });
        out.push({ t: 'timeout', op: op.n }, { t: 'fail', op: op.n });
      }
    }
    if (!faults) return out;
    out.push({ t: 'restart', effect: false });
    if (this.ops.length > 0) out.push({ t: 'restart', effect: true });
    for (const vm of this.lastResult.keys()) out.push({ t: 'dup', vm });
    for (const host of this.cfg.hosts) {
      const h = this.sim.hostState(host);
      out.push({ t: h.partitioned ? 'heal' : 'partition', host });
      out.push({ t: h.power === 'on' ? 'down' : 'up', host });
    }
    for (const vm of Object.keys(this.cfg.vms)) {
      if (this.sim.copies(vm) > 0) out.push({ t: 'halt', vm }, { t: 'hang', vm });
      out.push({ t: 'lie', vm });
    }
    out.push({ t: 'jump', ms: JUMP }, { t: 'jump', ms: -JUMP });
    return out;
  }

  /** Applies one step, lets the controller react, then checks every safety invariant. */
  async apply(s: CheckStep): Promise<void> {
    this.trace.push(s);
    await this.perform(s);
    await quiesce();
    this.collectResults();
    this.checkSafety();
  }

  private async perform(s: CheckStep): Promise<void> {
    switch (s.t) {
      case 'tick':
        return this.tick();
      case 'ok':
      case 'lost':
      case 'timeout':
      case 'fail': {
        const op = this.ops.find((o) => o.n === s.op);
        if (!op) throw new Error(`step ${JSON.stringify(s)}: no such pending op`);
        return op.settle(s.t);
      }
      case 'restart': {
        this.controller.abandon();
        const orphans = this.ops.filter((o) => o.inc === this.inc);
        this.inc += 1; // from now on the old incarnation's writes fail
        for (const o of orphans) await o.settle(s.effect ? 'lost' : 'timeout');
        await quiesce();
        return this.boot();
      }
      case 'dup': {
        const e = this.lastResult.get(s.vm);
        if (e) await this.controller.inject(s.vm, e);
        return;
      }
      case 'partition': return this.sim.partition(s.host);
      case 'heal': return this.sim.heal(s.host);
      case 'down':
        this.sim.hostDown(s.host);
        return this.powerLost(s.host);
      case 'up': return this.sim.powerOn(s.host);
      case 'halt': return this.sim.crash(s.vm, 'halt');
      case 'hang': return this.sim.crash(s.vm, 'hang');
      case 'lie':
        if (!this.lies.delete(s.vm)) this.lies.add(s.vm);
        return;
      case 'jump': return this.clock.jump(s.ms);
    }
  }

  /** Fires timers until the ops in flight or a VM's phase change, or tickSpan has passed. */
  private async tick(): Promise<void> {
    const before = this.progressKey();
    const end = this.clock.now() + (this.cfg.tickSpan ?? 10 * 60 * S);
    for (let fired = 0; fired < 500; fired++) {
      const at = this.clock.nextAt();
      if (at === null || at > end) break;
      await this.clock.runUntil(at, quiesce, () => true);
      if (this.progressKey() !== before) return;
    }
  }

  private progressKey(): string {
    return JSON.stringify([this.ops.map((o) => o.n), this.controller.status().map((v) => v.state)]);
  }

  private collectResults(): void {
    for (const e of this.log.slice(this.seenLog)) {
      if (e.kind !== 'ha.done' || !e.vm) continue;
      const d = e.data as { id: string; action: string; detail?: string };
      let ev: FsmEvent;
      if (d.action === 'place') ev = { type: 'placed', id: d.id, host: e.reason === 'placed' ? (d.detail ?? null) : null };
      else if (d.action === 'fence') ev = { type: 'fenced', id: d.id, off: e.reason === 'off', ...(d.detail ? { detail: d.detail } : {}) };
      else ev = { type: 'result', id: d.id, ok: e.reason === 'ok', ...(e.reason === 'unknown' ? { unknown: true } : {}), ...(d.detail ? { detail: d.detail } : {}) };
      this.lastResult.set(e.vm, ev);
    }
    this.seenLog = this.log.length;
  }

  private seenLog = 0;

  // ---- invariants ----------------------------------------------------------------------------

  /** Safety, checked after every step. */
  checkSafety(): void {
    if (this.broken) throw this.broken;
    if (this.rules.fence) {
      for (const vm of Object.keys(this.cfg.vms)) {
        const n = this.sim.copies(vm);
        if (n > 1) throw new Violation('one-copy', `${vm} runs ${n} times (${this.sim.layout().filter((l) => l[1] === vm).map((l) => l[0]).join(', ')})`);
      }
    }
    const seen = new Set<string>();
    for (const e of this.log) {
      if (e.kind !== 'ha.action' && e.kind !== 'ha.done') continue;
      const key = `${e.kind} ${(e.data as { id?: string } | null)?.id}`;
      if (seen.has(key)) throw new Violation('recorded-once', `${key} recorded twice`);
      seen.add(key);
    }
    const budget = this.rules.budget;
    if (budget) {
      for (const vm of Object.keys(this.cfg.vms)) {
        const starts = this.log.filter((e) => e.vm === vm && e.kind === 'ha.transition' && isRecoveryStart(e)).map((e) => e.at);
        starts.forEach((at, i) => {
          const inWindow = starts.slice(0, i + 1).filter((t) => t > at - budget.window).length;
          if (inWindow > budget.recoveries) throw new Violation('budget', `${vm}: ${inWindow} recoveries within ${budget.window} ms`);
        });
      }
    }
  }

  /**
   * Liveness: faults stop (hosts on and connected, probes truthful, every op done), time runs for
   * settleWithin; every VM must then be running (and answering) or quarantined.
   */
  async checkSettles(): Promise<void> {
    this.autoResolve = true;
    this.lies.clear();
    for (const op of [...this.ops]) await op.settle('ok');
    await quiesce();
    // Hosts come back: healed, and powered on again (also after a fence of this run: with every
    // host fenced off nothing could run, and that is an operator's call, not a fault that stops).
    const restore = () => {
      for (const host of this.cfg.hosts) {
        if (this.sim.hostState(host).power === 'off') this.sim.powerOn(host);
        this.sim.heal(host);
      }
    };
    restore();
    const end = this.clock.now() + (this.cfg.settleWithin ?? 3600 * S);
    while (true) {
      const at = this.clock.nextAt();
      if (at === null || at > end) break;
      await this.clock.runUntil(at, quiesce, () => true);
      restore();
      this.checkSafety();
      if (this.settled()) return;
    }
    this.checkSafety();
    if (!this.settled()) {
      const bad = this.controller.status().filter((v) => !(v.state === 'quarantined' || (v.state === 'running' && this.sim.serviceUp(v.vm))));
      throw new Violation('settles', `after faults stopped, within ${(this.cfg.settleWithin ?? 3600 * S) / S} s: ${bad.map((v) => `${v.vm} ${v.state} (${v.reason})`).join(', ')}`);
    }
  }

  private settled(): boolean {
    return this.ops.length === 0 && this.controller.status().every((v) => v.state === 'quarantined' || (v.state === 'running' && this.sim.serviceUp(v.vm)));
  }

  /** What identifies this state for deduplication: ground truth, machines, ops, timers; times relative to now. */
  hash(): string {
    const now = this.clock.now();
    const machine = (s: VmFsmState) => [
      s.phase, s.host, s.goal, s.target, s.oldOff, s.pending?.kind ?? null, s.timer ? [s.timer.kind, s.timer.at - now] : null,
      s.due, s.paused, s.recoveries.map((t) => t - now), s.hostUp, s.power,
    ];
    const snap = (this.controller as unknown as { snapshot: Snapshot | null }).snapshot;
    return JSON.stringify([
      this.cfg.hosts.map((h) => this.sim.hostState(h)), this.sim.layout(), [...this.modes],
      Object.keys(this.cfg.vms).map((vm) => machine(this.controller.state(vm)!)),
      this.ops.map((o) => [o.kind, o.host, o.vm, o.inc === this.inc]),
      this.clock.dueIn(), [...this.lies].sort(), [...this.lastResult.keys()].sort(),
      snap ? [...snap.hosts].map(([h, v]) => [h, v.up]) : null,
    ]);
  }
}

/** A transition that starts an automatic recovery (and so counts against the budget). */
function isRecoveryStart(e: NewEvent): boolean {
  const d = e.data as { from?: string; to?: string } | null;
  return (d?.from === 'running' || d?.from === 'suspect') && d?.to !== 'suspect' && d?.to !== 'running' && d?.to !== 'quarantined' && d?.to !== 'disabled';
}
