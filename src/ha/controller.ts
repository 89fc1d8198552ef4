/**
 * The HA controller: the I/O around the pure state machine. It runs monitoring passes on the
 * injected clock, feeds each VM's machine, executes the commands it emits (driver, guest ssh,
 * fence, BootTable), owns the timers, and persists every VM's state and every decision in the
 * store before acting on it, so that a restarted 3rc resumes where it was.
 *
 * Guarantees:
 * - events of one VM are applied one at a time, in order (a per-VM chain);
 * - a step's new state and its decisions (`ha.transition`, `ha.action`) are durable before any of
 *   its actions starts (write-ahead); an action's outcome is durable (`ha.done`) before the
 *   machine moves on from it;
 * - after a restart, an action whose outcome was recorded is never issued again; one that was
 *   issued but not recorded is reconciled against the world: a start, reset (a power cycle on
 *   the VM's own host) or reinstall is re-issued only if the VM is not running on its target, a
 *   reboot is never repeated (T1 escalates if it did not happen), placement and fencing are
 *   idempotent and are redone;
 * - an action has three outcomes: done, failed (the hypervisor said so) and unknown (timed out,
 *   dropped, or lost in a restart). After an unknown outcome the machine counts the VM as
 *   possibly running where the action was aimed, so it is fenced before it is placed elsewhere.
 */
import type { Clock, Timer } from '../lib/clock.js';
import { ConflictError, ErrorCodes, NotFoundError } from '../lib/errors.js';
import { silentLogger, type Logger } from '../lib/log.js';
import type { Service } from '../lib/service.js';
import { newEvent, type KnownNewEvent } from '../events/kinds.js';
import type { Store, StoreOp } from '../store/store.js';
import { DriverError, DriverErrorCodes, isDriverError, type Fencer, type GuestAccess, type HypervisorDriver } from '../hypervisor/driver.js';
import { initialState, step, type FsmCommand, type FsmEvent, type FsmRules, type VmFsmState } from './fsm.js';
import { isBlackout, type Monitor, type Snapshot } from './monitor.js';
import { admission, admissionLine, planFailure, prepare, type Admission, type AdmissionOptions, type ClusterView } from './admission.js';
import { placementRules, RuleIndex, type PlacementRules, type RuleGroup } from './affinity.js';
import { planBatch, type HostLoad, type Plan, type PlanRequest } from './placement.js';
import { planDrain, type DrainCandidate, type DrainStep } from './drain.js';

/** A VM the controller keeps alive (from the inventory). */
export interface VmSpec {
  name: string;
  mac: string;
  /** Hypervisor it runs on per the inventory; the store's view wins after the first move. */
  host: string | null;
  reinstall: boolean;
  /** Higher restarts first when capacity is short (no config field yet: 0). */
  priority: number;
  cpus: number;
  memoryMb: number;
  /** Hypervisors it may (hostsRequired, default) or should run on. */
  hosts?: readonly string[] | undefined;
  hostsRequired?: boolean | undefined;
  /** VMs that must answer (or be quarantined) before it is restarted. */
  after?: readonly string[] | undefined;
  /** May a drain move it cold when it cannot move live (hosts[].coldMove)? Default: true. */
  coldMove?: boolean;
}

export interface HostSpec {
  name: string;
  /** Failure domain label. */
  rack?: string | undefined;
  loadThreshold: number;
  capacity: { cpus?: number | undefined; memoryMb?: number | undefined; vms?: number | undefined };
  maintenance?: boolean;
}

/** The part of the BootTable the controller writes. */
export interface BootFlip {
  setInstall(mac: string, opts: { reason: string }): Promise<unknown>;
}

export interface ControllerDeps {
  clock: Clock;
  store: Store;
  driver: HypervisorDriver;
  guest: GuestAccess;
  /** Out-of-band fence; null when none is configured (then only the hypervisor can prove "off"). */
  fencer: Fencer | null;
  bootTable: BootFlip;
  monitor: Monitor;
  vms: readonly VmSpec[];
  hosts: readonly HostSpec[];
  rules: FsmRules;
  scanInterval: number;
  /** Concurrent starts per hypervisor. Default: 4. */
  maxStartsPerHost?: number;
  /** How long a start counts as "in flight" for that limit. Default: 2 min. */
  startWindow?: number;
  /**
   * Placement requests arriving within this long of the first are planned together (config:
   * 200 ms). Default: 0, each is planned as soon as the current microtasks are done (the model
   * checker's recorded traces assume it).
   */
  placeWindow?: number;
  /** Anti-affinity and affinity groups (ha.rules). Default: none. */
  groups?: readonly RuleGroup[];
  /** How long a VM waits for its `after` VMs, and whether the wait ends. Default: 10 min, it ends. */
  restartOrder?: { timeout: number; timeoutApplies: boolean };
  /** Admission control computed after every pass. Default: N+1 over single hosts. */
  admission?: AdmissionOptions;
  log?: Logger;
}

/** What `3rc hv drain` answers: the VMs moved, and why it stopped when it did. */
export interface DrainReport {
  host: string;
  /**
   * Completed moves, in order; `ms`: that move's duration on the controller's clock; `fallback`:
   * why a VM planned live moved cold.
   */
  moved: (DrainStep & { ms: number; fallback?: string })[];
  /** VMs of the host that do not run: left where they are. */
  idle: string[];
  /** Null when every running VM left the host. */
  stopped: { vm: string | null; why: string } | null;
  /** The whole drain on the controller's clock. */
  ms: number;
}

/** One VM as `3rc status` and the API show it. */
export interface VmStatus {
  vm: string;
  state: string;
  host: string | null;
  since: number;
  reason: string;
  recoveriesUsed: number;
}

/** Admission is computed again at least this often when the placement has not changed (the hosts' load may have). */
const ADMISSION_REFRESH_MS = 30_000;

export class HaController implements Service {
  readonly name = 'ha';
  private readonly d: ControllerDeps;
  private readonly log: Logger;
  private readonly specs = new Map<string, VmSpec>();
  private readonly states = new Map<string, VmFsmState>();
  private readonly timers = new Map<string, Timer>();
  private readonly chains = new Map<string, Promise<void>>();
  /** Events queued per VM and not yet applied. */
  private readonly queued = new Map<string, number>();
  private readonly inflight = new Set<Promise<unknown>>();
  private placeQueue: Extract<FsmCommand, { type: 'place' }>[] = [];
  private starts: { host: string; at: number }[] = [];
  /** Hypervisor commands that may start a VM and have not returned yet, per VM: `vm host` -> count. */
  private readonly powering = new Map<string, number>();
  /** VMs, CPUs and memory the controller's own view puts on each host; kept up to date per step. */
  private readonly usage = new Map<string, { vms: number; cpus: number; mem: number }>();
  /** Maintenance set at run time (`3rc hv drain|undrain`), over the config's; from the store at load. */
  private readonly maintenance = new Map<string, boolean>();
  /** Hypervisors being drained now. */
  private readonly draining = new Set<string>();
  private snapshot: Snapshot | null = null;
  private blackout = false;
  private inPass = false;
  private passing = false;
  private scanTimer: Timer | null = null;
  private stopped = false;
  private readonly rules: PlacementRules;
  /** When each VM was first held back by its restart order (cleared once placed). */
  private readonly heldSince = new Map<string, number>();
  /** Why the last plan left a VM without a host (cleared once placed). */
  private readonly waitReasons = new Map<string, string>();
  private lastAdmission: Admission | null = null;
  /** What the last admission answer was computed from (placement, not load), and when. */
  private admissionKey = '';
  private admissionAt = 0;
  private placeTimer: Timer | null = null;
  /** VMs whose machine holds a target (placed, old copy being fenced): hostLoads() counts them there. */
  private readonly targeting = new Set<string>();

  private constructor(deps: ControllerDeps) {
    this.d = deps;
    this.log = deps.log ?? silentLogger;
    for (const v of deps.vms) this.specs.set(v.name, v);
    this.rules = placementRules(deps.groups ?? [], deps.vms);
  }

  /**
   * Builds a controller from the store: VMs with a stored state resume it (timers re-armed for
   * what is left of them, unfinished actions reconciled); the others start in `running`.
   */
  static async load(deps: ControllerDeps): Promise<HaController> {
    const c = new HaController(deps);
    const stored = new Map((await deps.store.listVmStates()).map((s) => [s.vm, s.data as VmFsmState]));
    const now = deps.clock.now();
    for (const spec of deps.vms) {
      const prev = stored.get(spec.name);
      c.states.set(spec.name, prev ? { ...prev, reinstall: spec.reinstall } : initialState(spec.name, spec.host, { reinstall: spec.reinstall, now }));
    }
    // Maintenance set at run time: the newest `hypervisor.maintenance` event of each host.
    for (const h of deps.hosts) {
      const last = (await deps.store.queryEvents({ kind: 'hypervisor.maintenance', host: h.name, limit: 1 })).at(-1);
      const on = (last?.data as { on?: unknown } | null | undefined)?.on;
      if (typeof on === 'boolean') c.maintenance.set(h.name, on);
    }
    // A blackout in force when the old process died is lifted by the first pass that sees none.
    c.blackout = [...c.states.values()].some((s) => s.paused);
    for (const s of c.states.values()) {
      c.account(s.vm, s.host, +1);
      if (s.target) c.targeting.add(s.vm);
      if (s.timer) c.armTimer(s.vm, s.timer.id, Math.max(0, s.timer.at - now));
      if (s.pending) c.track(c.reconcile(s));
      // Killed while a drain moved it: find where it runs now before HA acts on it again.
      if (s.drainHold) c.track(c.resumeHold(s.vm));
    }
    return c;
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.scheduleScan();
  }

  /** Stops scanning and cancels timers; waits for actions in flight. */
  async stop(): Promise<void> {
    this.abandon();
    await this.idle();
  }

  /**
   * Drops every timer without writing anything: what a crash leaves behind. For tests of the
   * resume path; stop() is the orderly way.
   */
  abandon(): void {
    this.stopped = true;
    this.scanTimer?.cancel();
    this.scanTimer = null;
    this.placeTimer?.cancel();
    this.placeTimer = null;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }

  addresses(): string[] {
    return [];
  }

  /** Resolves once no event or action is in flight. */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  status(): VmStatus[] {
    const now = this.d.clock.now();
    const window = this.d.rules.budget?.window ?? Infinity;
    return [...this.states.values()].map((s) => ({
      vm: s.vm, state: s.phase, host: s.host, since: s.since, reason: s.reason,
      recoveriesUsed: s.recoveries.filter((t) => t > now - window).length,
    }));
  }

  /** Why the last placement left each waiting VM without a host ("anti-affinity with vm12 on hv2; ..."). */
  waiting(): Map<string, string> {
    return new Map(this.waitReasons);
  }

  /** The cluster as placement sees it now: hosts with the last pass's load, VMs where the controller has them. */
  clusterView(): ClusterView {
    const vms = [...this.states.values()].map((s) => {
      const spec = this.specs.get(s.vm)!;
      return { name: s.vm, host: s.target ?? s.host, cpus: spec.cpus, memoryMb: spec.memoryMb, priority: spec.priority };
    });
    return { hosts: this.hostLoads(), vms, rules: this.rules };
  }

  /** What-if: the plan if `failed` died now (no side effects; the planner of a real failure). */
  whatIf(failed: readonly string[]): Plan {
    return planFailure(prepare(this.clusterView()), failed);
  }

  /** The admission answer of the last pass (null before the first). */
  admission(): Admission | null {
    return this.lastAdmission;
  }

  /** The machine's full state of one VM (read-only copy). */
  state(vm: string): VmFsmState | undefined {
    const s = this.states.get(vm);
    return s && structuredClone(s);
  }

  /**
   * Takes a VM under protection at run time (`3rc p2v` made it): it starts in `running` on `spec.host`
   * and is watched from the next pass on. False when it is watched already (nothing changes).
   * The VM also has to be in the inventory (a host with a hypervisor) so that the next start finds it.
   */
  adopt(spec: VmSpec): boolean {
    if (this.states.has(spec.name)) return false;
    this.specs.set(spec.name, spec);
    this.states.set(spec.name, initialState(spec.name, spec.host, { reinstall: spec.reinstall, now: this.d.clock.now() }));
    this.account(spec.name, spec.host, +1);
    this.log.info({ vm: spec.name, host: spec.host }, 'VM taken under HA protection');
    return true;
  }

  /** `3rc ha disable|enable|clear VM`. */
  /** The installer of `vm` reported failure (install-failed callback): retry elsewhere or quarantine at once. */
  async installFailed(vm: string, detail?: string): Promise<void> {
    if (!this.states.has(vm)) return;
    await this.enqueue(vm, { type: 'install-failed', ...(detail ? { detail } : {}) });
    await this.flushPlacement();
  }

  async operator(vm: string, op: 'disable' | 'enable' | 'clear'): Promise<void> {
    if (!this.states.has(vm)) throw new NotFoundError(ErrorCodes.UNKNOWN_HOST, `${vm} is not a VM the HA controller watches`);
    await this.enqueue(vm, { type: 'operator', op });
    await this.flushPlacement();
  }

  /**
   * Applies an event as if it had come from an action or a timer (the model checker feeds
   * duplicate and late results this way); then plans any placement it asked for.
   */
  async inject(vm: string, event: FsmEvent): Promise<void> {
    if (!this.states.has(vm)) return;
    await this.enqueue(vm, event);
    await this.flushPlacement();
  }

  /** One monitoring pass over every VM. Exposed for tests and the simulator. */
  async pass(): Promise<void> {
    if (this.passing) return; // the previous pass is still running: skip, do not pile up
    this.passing = true;
    try {
      const target = { hosts: this.d.hosts.map((h) => h.name), vms: [...this.states.values()].map((s) => ({ name: s.vm, host: s.host })) };
      const snap = await this.d.monitor.pass(target);
      this.snapshot = snap;
      const black = isBlackout(snap);
      if (black !== this.blackout) {
        this.blackout = black;
        this.log.warn({ blackout: black }, black ? 'monitoring blackout: automatic action paused' : 'monitoring restored');
        await Promise.all([...this.states.keys()].map((vm) => this.enqueue(vm, { type: 'blackout', active: black })));
      }
      this.inPass = true;
      const work: Promise<void>[] = [];
      const now = this.d.clock.now();
      for (const s of this.states.values()) {
        const v = snap.vms.get(s.vm);
        const hostUp = s.host !== null && (snap.hosts.get(s.host)?.up ?? false);
        const event: FsmEvent = { type: 'observe', vmUp: v?.up ?? false, hostUp, power: v?.power ?? 'unknown', pxeLoop: v?.pxeLoop ?? false };
        // Fast path: nothing queued for this VM and the observation changes nothing that must be
        // written or done (a healthy VM seen healthy): apply it in place, no promise, no write.
        if (!this.queued.get(s.vm)) {
          const r = step(s, event, now, this.d.rules);
          if (r.transitions.length === 0 && r.commands.length === 0 && r.state.paused === s.paused) {
            this.states.set(s.vm, r.state);
            continue;
          }
        }
        work.push(this.enqueue(s.vm, event));
      }
      await Promise.all(work);
    } finally {
      this.inPass = false;
      this.passing = false;
    }
    await this.flushPlacement();
    await this.checkAdmission();
  }

  /**
   * Admission after a pass: kept for status, the API and metrics; a change is a warning and an
   * event. It is computed again when the placement changed (a host up or down, in maintenance, a
   * VM moved or started or stopped) and otherwise at most every ADMISSION_REFRESH_MS: it is a
   * plan per failure case (10,000 VMs on 500 hosts: 100-200 ms on the event loop), and between
   * placement changes only the hosts' load moves it.
   */
  private async checkAdmission(): Promise<void> {
    const view = this.clusterView();
    const key = JSON.stringify([view.hosts.map((h) => [h.name, h.up, h.maintenance, h.vms, h.usedCpus, h.usedMemoryMb]), view.vms.map((v) => [v.name, v.host])]);
    const now = this.d.clock.now();
    if (this.lastAdmission && key === this.admissionKey && now - this.admissionAt < ADMISSION_REFRESH_MS) return;
    this.admissionKey = key;
    this.admissionAt = now;
    const a = admission(view, this.d.admission ?? {});
    const before = this.lastAdmission;
    this.lastAdmission = a;
    const line = admissionLine(a);
    if (before === null ? a.holds : admissionLine(before) === line) return;
    if (a.holds) this.log.info({ admission: line }, 'admission control: capacity holds again');
    else this.log.warn({ admission: line }, 'admission control: a failure would leave VMs without room');
    const stranded = [...new Set(a.failing.flatMap((f) => f.stranded.map((s) => s.vm)))];
    await this.d.store.write([{ op: 'appendEvent', event: newEvent('ha.admission', { at: now, vm: null, host: null, reason: a.holds ? 'holds' : 'fails' }, { line, failures: a.failures, domain: a.domain, failing: a.failing.map((f) => f.label), stranded }) }]);
  }

  // ---- event application ---------------------------------------------------------------------

  private scheduleScan(): void {
    if (this.stopped) return;
    this.scanTimer = this.d.clock.schedule(this.d.scanInterval, () => {
      this.scheduleScan();
      return this.track(this.pass().catch((err: unknown) => this.log.error({ err }, 'monitoring pass failed')));
    });
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => undefined);
    return p;
  }

  /** Applies an event to a VM's machine after the ones already queued for it. */
  private enqueue(vm: string, event: FsmEvent): Promise<void> {
    const prev = this.chains.get(vm) ?? Promise.resolve();
    this.queued.set(vm, (this.queued.get(vm) ?? 0) + 1);
    const next = prev
      .then(() => this.apply(vm, event))
      .catch((err: unknown) => this.log.error({ err, vm, event: event.type }, 'HA event not applied'))
      .finally(() => this.queued.set(vm, this.queued.get(vm)! - 1));
    this.chains.set(vm, next);
    return this.track(next);
  }

  private async apply(vm: string, event: FsmEvent): Promise<void> {
    const before = this.states.get(vm)!;
    const now = this.d.clock.now();
    const r = step(before, event, now, this.d.rules);
    const finished = (event.type === 'result' || event.type === 'placed' || event.type === 'fenced') && before.pending?.id === event.id;
    const changed = r.transitions.length > 0 || r.commands.length > 0 || finished || r.state.paused !== before.paused;
    if (!changed) {
      // Observations that change nothing are not written: 10,000 VMs per pass stay cheap.
      this.states.set(vm, r.state);
      return;
    }
    const events: KnownNewEvent[] = [];
    const host = r.state.host;
    if (finished) events.push(newEvent('ha.done', { at: now, vm, host, reason: doneReason(event) }, { id: event.id, action: before.pending!.kind, ...(detailOf(event) ? { detail: detailOf(event) } : {}) }));
    for (const t of r.transitions) events.push(newEvent('ha.transition', { at: now, vm, host, reason: t.reason }, { from: t.from, to: t.to, ...(t.detail ? { detail: t.detail } : {}) }));
    for (const c of r.commands) if ('vm' in c && c.type !== 'probe') events.push(newEvent('ha.action', { at: now, vm, host, reason: c.type }, { ...c }));
    const ops: StoreOp[] = [{ op: 'putVmState', state: { vm, state: r.state.phase, data: r.state, updatedAt: now } }, ...events.map((e) => ({ op: 'appendEvent' as const, event: e }))];
    await this.d.store.write(ops);
    this.states.set(vm, r.state);
    if (r.state.target) this.targeting.add(vm);
    else this.targeting.delete(vm);
    if (before.host !== r.state.host) {
      this.account(vm, before.host, -1);
      this.account(vm, r.state.host, +1);
    }
    for (const t of r.transitions) this.log.info({ vm, host, state: t.to, from: t.from, reason: t.reason, detail: t.detail }, 'ha decision');
    for (const c of r.commands) this.execute(vm, c);
  }

  private execute(vm: string, c: FsmCommand): void {
    switch (c.type) {
      case 'arm-timer':
        this.armTimer(vm, c.id, c.ms);
        return;
      case 'cancel-timer':
        this.timers.get(c.id)?.cancel();
        this.timers.delete(c.id);
        return;
      case 'place':
        this.placeQueue.push(c);
        // Outside a pass, requests that arrive together (the confirm probes of a dead host's VMs
        // return within moments of each other) are planned as one batch, so that they share out
        // the room and the rules as admission control planned them.
        if (this.inPass) return;
        if (!this.d.placeWindow) this.track(Promise.resolve().then(() => this.flushPlacement()));
        else if (this.placeTimer === null && !this.stopped) {
          this.placeTimer = this.d.clock.schedule(this.d.placeWindow, () => {
            this.placeTimer = null;
            return this.track(this.flushPlacement().catch((err: unknown) => this.log.error({ err }, 'placement failed')));
          });
        }
        return;
      case 'probe':
        this.track(this.probe(vm));
        return;
      case 'start':
      case 'reset':
      case 'reinstall': {
        // Counted when issued (not when done), so the next plan sees it while it is in flight.
        const now = this.d.clock.now();
        this.starts.push({ host: c.host, at: now });
        this.d.monitor.powered(vm, now);
        const key = `${vm} ${c.host}`;
        this.powering.set(key, (this.powering.get(key) ?? 0) + 1);
        this.track(this.act(vm, c).finally(() => (this.powering.get(key) === 1 ? this.powering.delete(key) : this.powering.set(key, this.powering.get(key)! - 1))));
        return;
      }
      default:
        this.track(this.act(vm, c));
    }
  }

  private armTimer(vm: string, id: string, ms: number): void {
    if (this.stopped) return;
    this.timers.set(id, this.d.clock.schedule(ms, () => {
      this.timers.delete(id);
      return this.enqueue(vm, { type: 'timer', id });
    }));
  }

  private async probe(vm: string): Promise<void> {
    const s = this.states.get(vm)!;
    const r = await this.d.monitor.probe(vm, s.host);
    await this.enqueue(vm, { type: 'observe', vmUp: r.vm.up, hostUp: r.hostUp, power: r.vm.power, pxeLoop: r.vm.pxeLoop });
  }

  // ---- actions -----------------------------------------------------------------------------

  /**
   * Runs an action and feeds its outcome back. `resumed`: re-issued after a restart, when the first
   * attempt's outcome is unknown; then a failure proves nothing and is reported as unknown.
   */
  private async act(vm: string, c: Exclude<FsmCommand, { type: 'arm-timer' | 'cancel-timer' | 'place' | 'probe' }>, resumed = false): Promise<void> {
    if (c.type === 'fence') {
      const r = await this.fence(vm, c.host);
      await this.enqueue(vm, { type: 'fenced', id: c.id, off: r.off, detail: r.detail });
      return;
    }
    let ok = true;
    let unknown = false;
    let detail: string | undefined;
    try {
      switch (c.type) {
        case 'reboot':
          ok = (await this.d.guest.reboot(vm)) === 'started';
          if (!ok) detail = 'guest unreachable over ssh';
          break;
        case 'reset':
          await this.powerCycle(c.host, vm);
          break;
        case 'start':
          await this.startOn(c.host, vm);
          break;
        case 'reinstall':
          await this.d.bootTable.setInstall(this.specs.get(vm)!.mac, { reason: `ha: reinstall of ${vm}` });
          if (c.how === 'reset') await this.powerCycle(c.host, vm);
          else await this.startOn(c.host, vm);
          break;
      }
    } catch (err) {
      ok = false;
      unknown = resumed || isDriverError(err, 'E_HV_UNKNOWN_OUTCOME');
      detail = isDriverError(err) ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? err);
    }
    await this.enqueue(vm, { type: 'result', id: c.id, ok, ...(unknown ? { unknown } : {}), ...(detail ? { detail } : {}) });
  }

  /** Reset if it runs there, start if it is off: the same "power cycle" either way. */
  private async powerCycle(host: string, vm: string): Promise<void> {
    if ((await this.d.driver.vmState(host, vm)) === 'running') await this.d.driver.reset(host, vm);
    else await this.d.driver.start(host, vm);
  }

  private async startOn(host: string, vm: string): Promise<void> {
    try {
      await this.d.driver.start(host, vm);
    } catch (err) {
      if (!isDriverError(err, 'E_HV_ALREADY_RUNNING')) throw err; // already there: the goal holds
    }
  }

  /**
   * Proves the copy on `host` off: the hypervisor says so or destroys it; when it cannot be
   * reached, the fence command powers the host off and must read back "off".
   */
  private async fence(vm: string, host: string): Promise<{ off: boolean; detail: string }> {
    // The last pass saw the host down: straight to its fence command (trying SSH first would only
    // cost a connect timeout). Without one, the hypervisor is the only way to prove anything.
    const seenDown = this.snapshot?.hosts.get(host)?.up === false;
    // A start sent there earlier (superseded by a timer, say) has not returned: a read of "off" now
    // proves nothing, it may still land. Only a fence of the whole host does.
    const inFlight = this.powering.has(`${vm} ${host}`);
    /** Why the hypervisor could not prove it, recorded with the fence's outcome. */
    let why = '';
    try {
      if (inFlight && this.d.fencer) throw new DriverError(DriverErrorCodes.UNREACHABLE, host, `a start of ${vm} on ${host} has not returned yet`);
      if (inFlight) return { off: false, detail: `a start of ${vm} on ${host} has not returned yet` };
      if (seenDown && this.d.fencer) throw new DriverError(DriverErrorCodes.UNREACHABLE, host, `${host} was down in the last pass`);
      if ((await this.d.driver.vmState(host, vm)) === 'off') return { off: true, detail: `${host} reports ${vm} off` };
      // Its hypervisor answers again and runs it: if the VM answers too, the partition healed and
      // the next pass sees it running. Never kill a VM that serves (found in the lab: a fence
      // retry right after the heal destroyed the healthy copy, then restarted it).
      if ((await this.d.monitor.probe(vm, host)).vm.up) return { off: false, detail: `${vm} answers again on ${host}: left running` };
      await this.d.driver.destroy(host, vm);
      if ((await this.d.driver.vmState(host, vm)) === 'off') return { off: true, detail: `${vm} destroyed on ${host}` };
      return { off: false, detail: `${host} still reports ${vm} running after destroy` };
    } catch (err) {
      // A host that cannot be reached, or whose command got no answer, is fenced out of band.
      if (!isDriverError(err, 'E_HV_UNREACHABLE') && !isDriverError(err, 'E_HV_UNKNOWN_OUTCOME')) return { off: false, detail: `hypervisor: ${(err as Error).message}` };
      why = ` (${(err as Error).message})`;
    }
    if (!this.d.fencer) return { off: false, detail: `${host} unreachable and no fence command configured` };
    try {
      const power = await this.d.fencer.fence(host);
      const via = this.d.fencer.via?.(host);
      const fence = via ? `fence through ${via}` : 'fence';
      return power === 'off' ? { off: true, detail: `${fence} read back ${host} off${why}` } : { off: false, detail: `${fence} read back ${host} ${power}${why}` };
    } catch (err) {
      return { off: false, detail: `fence failed: ${(err as Error).message}` };
    }
  }

  // ---- placement -----------------------------------------------------------------------------

  /** Plans every queued placement at once (a dead host's VMs together) and answers each. */
  private async flushPlacement(): Promise<void> {
    if (this.placeQueue.length === 0) return;
    const batch = this.placeQueue;
    this.placeQueue = [];
    const now = this.d.clock.now();
    this.starts = this.starts.filter((s) => s.at > now - (this.d.startWindow ?? 120_000));
    const inFlight = new Map<string, number>();
    for (const s of this.starts) inFlight.set(s.host, (inFlight.get(s.host) ?? 0) + 1);
    const requests: PlanRequest[] = batch.map((c) => {
      const spec = this.specs.get(c.vm)!;
      // Placed before its old copy was fenced: the host chosen then is kept if it still qualifies.
      const target = this.states.get(c.vm)?.target ?? null;
      const prefer = c.prefer ?? (target !== null && !c.avoid.includes(target) ? target : null);
      return { name: c.vm, cpus: spec.cpus, memoryMb: spec.memoryMb, priority: spec.priority, prefer, avoid: c.avoid };
    });
    const rules = this.ruleIndex();
    const plan = planBatch(this.hostLoads(), requests, {
      maxStartsPerHost: this.d.maxStartsPerHost ?? 4, inFlight, ...(rules ? { rules } : {}), order: this.orderGate(batch.map((c) => c.vm), now),
    });
    const chosen = new Map(plan.assignments.map((a) => [a.vm, a.host]));
    for (const a of plan.assignments) {
      this.heldSince.delete(a.vm);
      this.waitReasons.delete(a.vm);
    }
    for (const q of plan.queued) {
      if (q.why === 'order' && !this.heldSince.has(q.vm)) this.heldSince.set(q.vm, now);
      if (this.waitReasons.get(q.vm) !== q.reason) this.log.info({ vm: q.vm, why: q.why, reason: q.reason }, 'no host for VM yet');
      this.waitReasons.set(q.vm, q.reason);
    }
    await Promise.all(batch.map((c) => this.enqueue(c.vm, { type: 'placed', id: c.id, host: chosen.get(c.vm) ?? null })));
  }

  /**
   * Restart order: a dependency is ready when its machine is running (its probe answered) or
   * quarantined (it will not come back by itself); a VM held for longer than the timeout goes anyway.
   */
  private orderGate(vms: readonly string[], now: number): NonNullable<Parameters<typeof planBatch>[2]['order']> {
    const after = new Map<string, readonly string[]>();
    const released = new Set<string>();
    const o = this.d.restartOrder ?? { timeout: 600_000, timeoutApplies: true };
    for (const vm of vms) {
      const deps = this.specs.get(vm)?.after?.filter((d) => this.states.has(d));
      if (!deps?.length) continue;
      after.set(vm, deps);
      const since = this.heldSince.get(vm);
      if (o.timeoutApplies && since !== undefined && now - since >= o.timeout) released.add(vm);
    }
    const ready = (vm: string) => {
      const phase = this.states.get(vm)?.phase;
      return phase === 'running' || phase === 'quarantined' || phase === 'disabled';
    };
    return { after, ready, released };
  }

  private account(vm: string, host: string | null, sign: 1 | -1): void {
    if (!host) return;
    const spec = this.specs.get(vm)!;
    const u = this.usage.get(host) ?? { vms: 0, cpus: 0, mem: 0 };
    u.vms += sign;
    u.cpus += sign * spec.cpus;
    u.mem += sign * spec.memoryMb;
    this.usage.set(host, u);
  }

  /**
   * Hosts as placement sees them: the last pass's reachability and load, our own VM counts, and
   * the VMs placed there whose old copy is being fenced (their target: counted, with the load a
   * plan adds, so that the next plan does not give that room away).
   */
  private hostLoads(): HostLoad[] {
    const targeted = new Map<string, { vms: number; cpus: number; mem: number }>();
    for (const vm of this.targeting) {
      const s = this.states.get(vm)!;
      if (s.target === null || s.target === s.host) continue;
      const spec = this.specs.get(s.vm)!;
      const t = targeted.get(s.target) ?? { vms: 0, cpus: 0, mem: 0 };
      t.vms += 1;
      t.cpus += spec.cpus;
      t.mem += spec.memoryMb;
      targeted.set(s.target, t);
    }
    return this.d.hosts.map((h) => {
      const view = this.snapshot?.hosts.get(h.name);
      const own = this.usage.get(h.name) ?? { vms: 0, cpus: 0, mem: 0 };
      const t = targeted.get(h.name) ?? { vms: 0, cpus: 0, mem: 0 };
      const u = { vms: own.vms + t.vms, cpus: own.cpus + t.cpus, mem: own.mem + t.mem };
      const loadFive = view?.loadFive ?? null;
      return {
        name: h.name, up: view?.up ?? false, maintenance: this.inMaintenance(h.name), loadFive: loadFive === null ? null : loadFive + t.cpus,
        loadThreshold: h.loadThreshold, vms: u.vms, usedCpus: u.cpus, usedMemoryMb: u.mem, capacity: h.capacity, rack: h.rack,
      };
    });
  }

  /** The placement rules with where every VM is now; built only when there are rules. */
  private ruleIndex(): RuleIndex | undefined {
    const ruled = this.rules.groups.length > 0 || this.rules.vms.size > 0;
    return ruled ? new RuleIndex(this.rules, new Map([...this.states.values()].map((s) => [s.vm, s.target ?? s.host]))) : undefined;
  }

  // ---- maintenance and drain -------------------------------------------------------------------

  /** In maintenance: set at run time, else per the config. */
  inMaintenance(host: string): boolean {
    return this.maintenance.get(host) ?? this.d.hosts.find((h) => h.name === host)?.maintenance ?? false;
  }

  /** Every hypervisor's maintenance flag and whether a drain runs on it (status, API). */
  hosts(): { name: string; maintenance: boolean; draining: boolean }[] {
    return this.d.hosts.map((h) => ({ name: h.name, maintenance: this.inMaintenance(h.name), draining: this.draining.has(h.name) }));
  }

  /** `3rc hv undrain NAME` (and the drain's first step): durable before it counts. */
  async setMaintenance(host: string, on: boolean, reason: 'drain' | 'undrain'): Promise<void> {
    this.mustHost(host);
    await this.d.store.write([{ op: 'appendEvent', event: newEvent('hypervisor.maintenance', { at: this.d.clock.now(), host, reason }, { on }) }]);
    this.maintenance.set(host, on);
    this.log.info({ hypervisor: host, maintenance: on }, on ? 'hypervisor in maintenance' : 'hypervisor out of maintenance');
  }

  /**
   * `3rc hv drain NAME`: maintenance on, then every VM running there moves, one at a time, to the
   * host the placement chooses: live where the driver can, else cold (destroyed there, read back
   * off, then started on the destination: never two copies). Each VM is held out of automatic
   * action while it moves. The first VM that cannot move stops the drain with its reason; the host
   * stays in maintenance (`3rc hv undrain` ends it).
   */
  async drain(host: string): Promise<DrainReport> {
    this.mustHost(host);
    if (this.draining.has(host)) throw new ConflictError(ErrorCodes.DRAIN, `a drain of ${host} runs already`);
    this.draining.add(host);
    const t0 = this.d.clock.now();
    const report: DrainReport = { host, moved: [], idle: [], stopped: null, ms: 0 };
    const record = (reason: string, data: { vm?: string; to?: string | null; how?: 'live' | 'cold'; ms?: number; detail?: string }) =>
      this.d.store.write([{ op: 'appendEvent', event: newEvent('hypervisor.drain', { at: this.d.clock.now(), host, vm: data.vm ?? null, reason }, data) }]);
    const stop = async (vm: string | null, why: string) => {
      report.stopped = { vm, why };
      this.log.warn({ hypervisor: host, vm, why }, 'drain stopped');
      await record('blocked', { ...(vm ? { vm } : {}), detail: why });
    };
    try {
      await this.setMaintenance(host, true, 'drain');
      const candidates: DrainCandidate[] = [];
      for (const s of this.states.values()) {
        if (s.host !== host) continue;
        const spec = this.specs.get(s.vm)!;
        let running: boolean;
        try {
          running = (await this.d.driver.vmState(host, s.vm)) === 'running';
        } catch (err) {
          await stop(s.vm, `${host} cannot tell whether ${s.vm} runs: ${(err as Error).message}`);
          return report;
        }
        candidates.push({ name: s.vm, cpus: spec.cpus, memoryMb: spec.memoryMb, priority: spec.priority, phase: s.phase, running });
      }
      // The same rules as a recovery, and the failover reserve kept free (a drain is no restart).
      const rules = this.ruleIndex();
      const reserve = this.d.admission?.reserve;
      const plan = planDrain(host, this.hostLoads(), candidates, { live: true, ...(rules ? { rules } : {}), ...(reserve ? { reserve } : {}) });
      report.idle = plan.idle;
      await record('planned', { detail: plan.steps.map((x) => `${x.vm} -> ${x.to}`).join(', ') || 'no VM runs there' });
      if (plan.blocked) {
        await stop(plan.blocked.vm, plan.blocked.why);
        return report;
      }
      for (const step of plan.steps) {
        if (!this.inMaintenance(host)) {
          await stop(null, `${host} was taken out of maintenance during the drain`);
          break;
        }
        const r = await this.moveOne(host, step);
        if (!r.ok) {
          await stop(step.vm, r.why);
          break;
        }
        report.moved.push({ ...step, how: r.how, ms: r.ms, ...(r.fallback ? { fallback: r.fallback } : {}) });
        await record(r.how === 'live' ? 'migrated' : 'moved', { vm: step.vm, to: step.to, how: r.how, ms: r.ms, ...(r.fallback ? { detail: r.fallback } : {}) });
      }
      return report;
    } finally {
      this.draining.delete(host);
      report.ms = this.d.clock.now() - t0;
      if (!report.stopped) await record('done', { ms: report.ms, detail: `${report.moved.length} VM(s) moved` }).catch((err: unknown) => this.log.error({ err }, 'drain event not recorded'));
    }
  }

  /** One VM off `host`: held, moved (live, else cold), then given back to HA on its new host. */
  private async moveOne(host: string, step: DrainStep): Promise<{ ok: true; how: 'live' | 'cold'; ms: number; fallback?: string } | { ok: false; why: string }> {
    const { vm, to } = step;
    await this.enqueue(vm, { type: 'drain', op: 'hold' });
    const held = this.states.get(vm)!;
    if (held.phase !== 'disabled' || held.host !== host) {
      await this.enqueue(vm, { type: 'drain', op: 'release' });
      return { ok: false, why: `${vm} is ${held.phase} on ${held.host ?? '?'} now: HA is recovering it` };
    }
    const t0 = this.d.clock.now();
    let how: 'live' | 'cold' = step.how;
    let moved = false;
    let fallback: string | undefined;
    const coldMove = this.specs.get(vm)?.coldMove !== false;
    try {
      if (how === 'live') {
        try {
          await this.d.driver.migrate(host, vm, to);
          moved = true;
        } catch (err) {
          if (!isDriverError(err, 'E_HV_MIGRATION_UNSUPPORTED')) {
            // Failed or timed out: where does it run now? Only "there and not here" counts as moved.
            const { running: where, unknown } = await this.whereRuns(vm, [host, to]);
            const failed = `live migration of ${vm} to ${to} failed (${(err as Error).message})`;
            if (where.length === 1 && where[0] === to) moved = true;
            // Still here only, and both hosts answered: one copy, so the cold move is safe.
            else if (where.length === 1 && where[0] === host && unknown === 0 && coldMove) fallback = `${failed}; it still ran on ${host}: moved cold`;
            else return { ok: false, why: `${failed}; it runs on ${where.join(' and ') || 'no host that answered'}${where[0] === host && !coldMove ? ` (${vm} may not move cold: hosts[].coldMove is false)` : ''}` };
          } else if (coldMove) {
            fallback = `no live migration from ${host} to ${to}: moved cold`;
          } else {
            return { ok: false, why: `no live migration from ${host} to ${to}, and ${vm} may not move cold (hosts[].coldMove is false)` };
          }
          if (fallback) {
            this.log.warn({ vm, from: host, to, reason: fallback }, 'drain: moving it cold');
            how = 'cold';
          }
        }
      }
      if (!moved) {
        // Cold: off here, read back off, only then started there (never two copies at once).
        await this.d.driver.destroy(host, vm);
        if ((await this.d.driver.vmState(host, vm)) !== 'off') return { ok: false, why: `${host} still reports ${vm} running after destroy` };
        await this.enqueue(vm, { type: 'moved', host: to, detail: `drain: off on ${host}, starting on ${to}` });
        this.d.monitor.powered(vm, this.d.clock.now());
        try {
          await this.startOn(to, vm);
        } catch (err) {
          // Off everywhere now, HA's again at release: it restarts it per its rules (not on `host`).
          return { ok: false, why: `${vm} is off on ${host}, but its start on ${to} failed (${(err as Error).message}); HA will restart it` };
        }
        moved = true;
      } else {
        await this.enqueue(vm, { type: 'moved', host: to, detail: `drain: migrated live from ${host}` });
      }
      return { ok: true, how, ms: this.d.clock.now() - t0, ...(fallback ? { fallback } : {}) };
    } catch (err) {
      return { ok: false, why: `moving ${vm} to ${to} failed: ${(err as Error).message}` };
    } finally {
      await this.enqueue(vm, { type: 'drain', op: 'release' });
    }
  }

  /** Hosts among `hosts` that report the VM running, and how many could not tell. */
  private async whereRuns(vm: string, hosts: readonly string[]): Promise<{ running: string[]; unknown: number }> {
    const r = { running: [] as string[], unknown: 0 };
    for (const h of hosts) {
      try {
        if ((await this.d.driver.vmState(h, vm)) === 'running') r.running.push(h);
      } catch {
        r.unknown += 1;
      }
    }
    return r;
  }

  /**
   * A VM still held by a drain when 3rc died: it runs on exactly one hypervisor (its move done or
   * not), which becomes its host, then HA gets it back. Two copies, or hosts that cannot be asked:
   * left held (disabled) for the operator, with an error in the log.
   */
  private async resumeHold(vm: string): Promise<void> {
    const { running: where, unknown } = await this.whereRuns(vm, this.d.hosts.map((h) => h.name));
    if (where.length > 1 || (where.length === 0 && unknown > 0)) {
      this.log.error({ vm, runningOn: where, unanswered: unknown }, 'VM held by an interrupted drain: left disabled, see where it runs');
      return;
    }
    if (where[0]) await this.enqueue(vm, { type: 'moved', host: where[0], detail: 'drain interrupted by a restart: found running here' });
    await this.enqueue(vm, { type: 'drain', op: 'release' });
  }

  private mustHost(host: string): void {
    if (!this.d.hosts.some((h) => h.name === host)) throw new NotFoundError(ErrorCodes.UNKNOWN_HOST, `${host} is not a hypervisor of the config`);
  }

  // ---- resume --------------------------------------------------------------------------------

  /** An action issued before a restart whose outcome was never recorded. */
  private async reconcile(s: VmFsmState): Promise<void> {
    const p = s.pending!;
    const cmd = await this.lastAction(s.vm, p.id);
    const result = (ok: boolean, detail: string, unknown = false) => this.enqueue(s.vm, { type: 'result', id: p.id, ok, ...(unknown ? { unknown } : {}), detail });
    switch (p.kind) {
      case 'place':
        // Planned at the end of the first pass, when the hosts' state is known again.
        if (cmd?.type === 'place') this.placeQueue.push(cmd);
        return;
      case 'fence':
        if (cmd?.type === 'fence') await this.act(s.vm, cmd);
        return;
      case 'reboot':
        // Never repeated: if it did not happen, T1 escalates as usual.
        await result(true, 'resumed after a restart; not repeated');
        return;
      case 'reset':
      // A reset whose VM runs on its host happened (or is not needed): repeating it would reboot
      // the VM twice. One whose VM is off did not reach the hypervisor (found in the lab: 3rc
      // killed while its virsh ran): waiting T2 for a VM that is off would only escalate.
      case 'start':
      case 'reinstall': {
        // Whatever happens here, the first attempt's outcome is unknown: it may have started the VM
        // on its host, so nothing below may count that copy as off.
        if (cmd?.type !== 'start' && cmd?.type !== 'reinstall' && cmd?.type !== 'reset') return void (await result(false, 'resumed: action not found in the log', true));
        let state: 'running' | 'off';
        try {
          state = await this.d.driver.vmState(cmd.host, s.vm);
        } catch (err) {
          return void (await result(false, `resumed: ${cmd.host} cannot tell whether ${s.vm} runs (${(err as Error).message})`, true));
        }
        if (state === 'running') await result(true, `resumed: ${s.vm} already running on ${cmd.host}; not repeated`);
        else await this.act(s.vm, cmd, true);
        return;
      }
    }
  }

  private async lastAction(vm: string, id: string): Promise<FsmCommand | null> {
    const events = await this.d.store.queryEvents({ vm, kind: 'ha.action', limit: 50 });
    for (let i = events.length - 1; i >= 0; i--) {
      const data = events[i]!.data as (FsmCommand & { id?: string }) | null;
      if (data && data.id === id) return data;
    }
    return null;
  }
}

function doneReason(e: FsmEvent): string {
  if (e.type === 'result') return e.ok ? 'ok' : e.unknown ? 'unknown' : 'failed';
  if (e.type === 'placed') return e.host ? 'placed' : 'no-host';
  if (e.type === 'fenced') return e.off ? 'off' : 'not-proven-off';
  return 'done';
}

function detailOf(e: FsmEvent): string | undefined {
  if (e.type === 'result' || e.type === 'fenced') return e.detail;
  if (e.type === 'placed') return e.host ?? undefined;
  return undefined;
}
