/**
 * A simulated cluster on an injected clock: hypervisors, VMs on shared storage, boot and install
 * durations with normal noise from an injected PRNG, and scripted faults (guest hang, guest halt,
 * destroyed /boot, host power loss, network partition). It implements the driver, guest (ssh
 * reboot) and fence interfaces, and keeps the ground truth the controller cannot see: whether a
 * VM's service answers, and how many times a VM was started while another copy still ran.
 */
import type { Clock, Timer } from '../lib/clock.js';
import { DriverError, DriverErrorCodes, type Fencer, type GuestAccess, type HypervisorDriver, type VmListing, type VmRunState } from './driver.js';

/** Seeded randomness, injected (never Math.random). */
export interface SimRng {
  /** Uniform in [0, 1). */
  next(): number;
  normal(mean: number, sd: number): number;
}

/** Durations in ms; `mean`/`sd` of a normal, clamped at 10% of the mean. */
export interface SimTimings {
  /** Power-on to service answering (paper: 80 +/- 10 s, PXE setup included). */
  boot: { mean: number; sd: number };
  /** Power-on to service answering when the boot entry says install (paper: 442 +/- 17 s). */
  install: { mean: number; sd: number };
  /** Power-on to the PXE request of a VM whose disk no longer boots. */
  pxe: number;
  /** Period of the PXE loop of such a VM. */
  pxeLoop: number;
}

export interface SimHostSpec {
  name: string;
  cpus: number;
  memoryMb: number;
  /** Has a working out-of-band fence (IPMI). Default: true. */
  bmc?: boolean;
}

export interface SimVmSpec {
  name: string;
  mac: string;
  /** Runs (service up) on this host at time 0; null = defined but off. */
  host: string | null;
}

export interface SimHooks {
  /** What the boot servers would answer this MAC (the BootTable). Default: local. */
  bootMode?(mac: string): 'local' | 'install';
  /** A PXE request reached the boot servers. */
  onPxe?(vm: string, mac: string, mode: 'local' | 'install'): void;
  /** The install-done callback. */
  onInstalled?(vm: string, mac: string): void;
}

export type CrashKind = 'hang' | 'halt' | 'destructive';

type InstanceState = 'booting' | 'up' | 'hung' | 'pxe-loop' | 'installing';

interface Instance {
  vm: string;
  host: string;
  state: InstanceState;
  timer: Timer | null;
}

interface SimHost {
  spec: SimHostSpec;
  power: 'on' | 'off';
  partitioned: boolean;
  instances: Map<string, Instance>;
}

interface SimVm {
  spec: SimVmSpec;
  /** Hosts holding a copy: keeps per-VM lookups O(copies), not O(hosts). */
  on: Set<string>;
  disk: 'ok' | 'broken';
  serviceUp: boolean;
  history: { at: number; up: boolean }[];
}

export interface SimOptions {
  clock: Clock;
  rng: SimRng;
  timings: SimTimings;
  hosts: SimHostSpec[];
  vms: SimVmSpec[];
  hooks?: SimHooks;
  /** load_five added per running VM (what Ganglia would report). Default: 0.5. */
  loadPerVm?: number;
  /**
   * The firmware tries the network before the disk on every boot (the lab's VMs do): a healthy
   * boot also makes a PXE request, `timings.pxe` after power-on, answered "boot local". Default: false.
   */
  networkFirst?: boolean;
  /** The hypervisors can live-migrate (shared storage, compatible CPUs). Default: true. */
  liveMigration?: boolean;
}

export class SimCluster implements HypervisorDriver, GuestAccess, Fencer {
  readonly kind = 'sim';
  /** Starts issued while another copy of the same VM was running somewhere: must stay 0. */
  doubleStarts = 0;
  /** Live migrations done. */
  migrations = 0;
  private readonly hosts = new Map<string, SimHost>();
  private readonly vms = new Map<string, SimVm>();
  private readonly o: SimOptions;

  constructor(opts: SimOptions) {
    this.o = opts;
    for (const spec of opts.hosts) this.hosts.set(spec.name, { spec, power: 'on', partitioned: false, instances: new Map() });
    for (const spec of opts.vms) {
      this.vms.set(spec.name, { spec, on: new Set(), disk: 'ok', serviceUp: false, history: [] });
      if (spec.host) {
        const h = this.hosts.get(spec.host);
        if (!h) throw new Error(`sim: VM ${spec.name} on unknown host ${spec.host}`);
        this.place(h, { vm: spec.name, host: spec.host, state: 'up', timer: null });
        this.touch(spec.name);
      }
    }
  }

  // ---- HypervisorDriver -------------------------------------------------------------------

  async reachable(host: string): Promise<boolean> {
    const h = this.hosts.get(host);
    return h !== undefined && h.power === 'on' && !h.partitioned;
  }

  async listVms(host: string): Promise<VmListing[]> {
    const h = this.reach(host);
    return [...this.vms.keys()].map((name) => ({ name, state: h.instances.has(name) ? 'running' : 'off' }));
  }

  async vmState(host: string, vm: string): Promise<VmRunState> {
    const h = this.reach(host);
    this.known(host, vm);
    return h.instances.has(vm) ? 'running' : 'off';
  }

  async start(host: string, vm: string): Promise<void> {
    const h = this.reach(host);
    this.known(host, vm);
    if (h.instances.has(vm)) throw new DriverError(DriverErrorCodes.ALREADY_RUNNING, host, `${vm} already runs on ${host}`);
    if (this.copies(vm) > 0) this.doubleStarts += 1;
    const inst: Instance = { vm, host, state: 'booting', timer: null };
    this.place(h, inst);
    this.boot(inst);
  }

  async destroy(host: string, vm: string): Promise<void> {
    const h = this.reach(host);
    this.known(host, vm);
    this.remove(h, vm);
  }

  async reset(host: string, vm: string): Promise<void> {
    const h = this.reach(host);
    this.known(host, vm);
    const inst = h.instances.get(vm);
    if (!inst) throw new DriverError(DriverErrorCodes.NOT_RUNNING, host, `${vm} is not running on ${host}`);
    this.boot(inst);
  }

  /** Moves the running instance as it is (booting, up, hung...): the guest never restarts. */
  async migrate(host: string, vm: string, dest: string): Promise<void> {
    const h = this.reach(host);
    const d = this.reach(dest);
    this.known(host, vm);
    if (this.o.liveMigration === false) throw new DriverError(DriverErrorCodes.MIGRATION_UNSUPPORTED, host, `no live migration in this cluster`);
    const inst = h.instances.get(vm);
    if (!inst) throw new DriverError(DriverErrorCodes.NOT_RUNNING, host, `${vm} is not running on ${host}`);
    if (d.instances.has(vm)) throw new DriverError(DriverErrorCodes.ALREADY_RUNNING, dest, `${vm} already runs on ${dest}`);
    h.instances.delete(vm);
    this.mustVm(vm).on.delete(host);
    inst.host = dest;
    this.place(d, inst);
    this.migrations += 1;
    this.touch(vm);
  }

  // ---- GuestAccess and Fencer -------------------------------------------------------------

  async reboot(vm: string): Promise<'started' | 'unreachable'> {
    for (const inst of this.instances(vm)) {
      const h = this.hosts.get(inst.host)!;
      if (h.power === 'off' || h.partitioned) continue;
      // A hung (overloaded) guest still gets the reboot through, as in the paper's
      // non-destructive tests; a guest stuck in firmware (PXE loop, installer) has no sshd.
      if (inst.state === 'up' || inst.state === 'hung') {
        this.boot(inst);
        return 'started';
      }
    }
    return 'unreachable';
  }

  async fence(host: string): Promise<'off' | 'on' | 'unknown'> {
    const h = this.hosts.get(host);
    if (!h || h.spec.bmc === false) return 'unknown';
    this.powerOff(h);
    return 'off';
  }

  // ---- faults ------------------------------------------------------------------------------

  /** hang: the service stops answering; halt: the guest powers off; destructive: /boot erased, then rebooted. */
  crash(vm: string, kind: CrashKind): void {
    const inst = this.instances(vm)[0];
    if (kind === 'destructive') this.mustVm(vm).disk = 'broken';
    if (!inst) return;
    if (kind === 'hang') {
      inst.timer?.cancel();
      inst.timer = null;
      inst.state = 'hung';
      this.touch(vm);
    } else if (kind === 'halt') {
      this.remove(this.hosts.get(inst.host)!, vm);
    } else {
      this.boot(inst);
    }
  }

  /** Power loss: every VM on it dies; it stays off until powerOn. */
  hostDown(host: string): void {
    this.powerOff(this.mustHost(host));
  }

  powerOn(host: string): void {
    this.mustHost(host).power = 'on';
  }

  /** Cuts the host (and its VMs) off the network; the VMs keep running. */
  partition(host: string): void {
    this.mustHost(host).partitioned = true;
    for (const vm of this.mustHost(host).instances.keys()) this.touch(vm);
  }

  heal(host: string): void {
    this.mustHost(host).partitioned = false;
    for (const vm of this.mustHost(host).instances.keys()) this.touch(vm);
  }

  /**
   * Performs an operation whose command reached the host before a partition cut it off (for the
   * model checker: a command that took effect while its result was lost). A host that is off
   * cannot act: UNREACHABLE.
   */
  async deliver(op: 'start' | 'reset' | 'destroy', host: string, vm: string): Promise<void> {
    const h = this.mustHost(host);
    const cut = h.partitioned;
    h.partitioned = false;
    try {
      await this[op](host, vm);
    } finally {
      h.partitioned = cut;
    }
  }

  /** Power and network state of a host (ground truth). */
  hostState(host: string): { power: 'on' | 'off'; partitioned: boolean } {
    const h = this.mustHost(host);
    return { power: h.power, partitioned: h.partitioned };
  }

  /** Every running copy as [host, vm, state], sorted (ground truth, for state hashing). */
  layout(): [string, string, string][] {
    const out: [string, string, string][] = [];
    for (const [name, h] of this.hosts) for (const i of h.instances.values()) out.push([name, i.vm, i.state]);
    return out.sort((a, b) => (a.join() < b.join() ? -1 : 1));
  }

  // ---- ground truth and metrics -------------------------------------------------------------

  /** The VM's service answers (some copy is up on a powered, connected host). */
  serviceUp(vm: string): boolean {
    return this.mustVm(vm).serviceUp;
  }

  /** Every change of serviceUp, in time order. */
  history(vm: string): readonly { at: number; up: boolean }[] {
    return this.mustVm(vm).history;
  }

  /** Running copies of the VM anywhere, partitioned hosts included. */
  copies(vm: string): number {
    return this.instances(vm).length;
  }

  /** Synchronous vmState for the simulator's monitor: does a copy run on host? */
  runsOn(host: string, vm: string): boolean {
    return this.hosts.get(host)?.instances.has(vm) ?? false;
  }

  /** Host of the (first) running copy, or null. */
  whereIs(vm: string): string | null {
    return this.instances(vm)[0]?.host ?? null;
  }

  /** What Ganglia would report for a host (null when it cannot be reached). */
  hostMetrics(host: string): { loadFive: number; cpuNum: number; vms: number } | null {
    const h = this.hosts.get(host);
    if (!h || h.power === 'off' || h.partitioned) return null;
    return { loadFive: h.instances.size * (this.o.loadPerVm ?? 0.5), cpuNum: h.spec.cpus, vms: h.instances.size };
  }

  hostNames(): string[] {
    return [...this.hosts.keys()];
  }

  // ---- internals ----------------------------------------------------------------------------

  private sample(t: { mean: number; sd: number }): number {
    return Math.max(t.mean * 0.1, this.o.rng.normal(t.mean, t.sd));
  }

  private boot(inst: Instance): void {
    inst.timer?.cancel();
    const vm = this.mustVm(inst.vm);
    const mode = this.o.hooks?.bootMode?.(vm.spec.mac) ?? 'local';
    if (mode === 'install') this.install(inst, this.sample(this.o.timings.install));
    else if (vm.disk === 'broken') this.pxeLoop(inst, this.o.timings.pxe);
    else if (this.o.networkFirst) {
      inst.state = 'booting';
      const bootMs = this.sample(this.o.timings.boot);
      inst.timer = this.o.clock.schedule(Math.min(this.o.timings.pxe, bootMs), () => {
        if (!this.pxeRequest(inst)) inst.timer = this.o.clock.schedule(Math.max(0, bootMs - this.o.timings.pxe), () => this.up(inst));
      });
    } else {
      inst.state = 'booting';
      inst.timer = this.o.clock.schedule(this.sample(this.o.timings.boot), () => this.up(inst));
    }
    this.touch(inst.vm);
  }

  private install(inst: Instance, ms: number): void {
    inst.state = 'installing';
    inst.timer = this.o.clock.schedule(ms, () => {
      const vm = this.mustVm(inst.vm);
      vm.disk = 'ok';
      this.o.hooks?.onInstalled?.(inst.vm, vm.spec.mac);
      this.up(inst);
    });
  }

  /** The disk does not boot, the firmware falls back to the network, again and again. */
  private pxeLoop(inst: Instance, firstInMs: number): void {
    inst.state = 'pxe-loop';
    inst.timer = this.o.clock.schedule(firstInMs, () => {
      if (!this.pxeRequest(inst)) this.pxeLoop(inst, this.o.timings.pxeLoop);
    });
  }

  /**
   * A PXE request reaches the boot servers; when the boot entry says install (flipped meanwhile),
   * this PXE boot starts the installer (true), else it goes on to the disk (false).
   */
  private pxeRequest(inst: Instance): boolean {
    const vm = this.mustVm(inst.vm);
    const mode = this.o.hooks?.bootMode?.(vm.spec.mac) ?? 'local';
    this.o.hooks?.onPxe?.(inst.vm, vm.spec.mac, mode);
    if (mode === 'install') this.install(inst, Math.max(0, this.sample(this.o.timings.install) - this.o.timings.pxe));
    return mode === 'install';
  }

  private up(inst: Instance): void {
    inst.timer = null;
    inst.state = 'up';
    this.touch(inst.vm);
  }

  private remove(h: SimHost, vm: string): void {
    const inst = h.instances.get(vm);
    if (!inst) return;
    inst.timer?.cancel();
    h.instances.delete(vm);
    this.mustVm(vm).on.delete(h.spec.name);
    this.touch(vm);
  }

  private place(h: SimHost, inst: Instance): void {
    h.instances.set(inst.vm, inst);
    this.mustVm(inst.vm).on.add(h.spec.name);
  }

  private powerOff(h: SimHost): void {
    h.power = 'off';
    for (const vm of [...h.instances.keys()]) this.remove(h, vm);
  }

  private touch(vm: string): void {
    const v = this.mustVm(vm);
    let up = false;
    for (const name of v.on) {
      const h = this.hosts.get(name)!;
      if (h.power === 'on' && !h.partitioned && h.instances.get(vm)?.state === 'up') up = true;
    }
    if (up !== v.serviceUp) {
      v.serviceUp = up;
      v.history.push({ at: this.o.clock.now(), up });
    }
  }

  private instances(vm: string): Instance[] {
    const out: Instance[] = [];
    for (const name of this.mustVm(vm).on) out.push(this.hosts.get(name)!.instances.get(vm)!);
    return out;
  }

  private reach(host: string): SimHost {
    const h = this.hosts.get(host);
    if (!h || h.power === 'off' || h.partitioned) throw new DriverError(DriverErrorCodes.UNREACHABLE, host, `${host} is unreachable`);
    return h;
  }

  private known(host: string, vm: string): void {
    if (!this.vms.has(vm)) throw new DriverError(DriverErrorCodes.NO_SUCH_VM, host, `${host} does not know ${vm}`);
  }

  private mustVm(vm: string): SimVm {
    const v = this.vms.get(vm);
    if (!v) throw new Error(`sim: unknown VM ${vm}`);
    return v;
  }

  private mustHost(host: string): SimHost {
    const h = this.hosts.get(host);
    if (!h) throw new Error(`sim: unknown host ${host}`);
    return h;
  }
}
