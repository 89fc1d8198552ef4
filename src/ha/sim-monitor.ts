/**
 * Monitoring of a simulated cluster: what probes, Ganglia and the hypervisors would report, with
 * the detection delay of the chosen timings (the paper: Ganglia notices a dead host ~70 s late;
 * 3rc's direct probes: at once).
 */
import type { Clock } from '../lib/clock.js';
import type { SimCluster } from '../hypervisor/sim.js';
import type { PxeEvidence } from './evidence.js';
import type { VmPower } from './fsm-types.js';
import type { Monitor, MonitorTarget, Snapshot, VmView } from './monitor.js';

export class SimMonitor implements Monitor {
  constructor(
    private readonly sim: SimCluster,
    private readonly clock: Clock,
    private readonly opts: { detectDelay: number; evidence: PxeEvidence | null },
  ) {}

  async pass(target: MonitorTarget): Promise<Snapshot> {
    const hosts = new Map<string, { up: boolean; loadFive: number | null; cpuNum: number | null }>();
    for (const name of target.hosts) {
      const m = this.sim.hostMetrics(name);
      hosts.set(name, { up: m !== null, loadFive: m?.loadFive ?? null, cpuNum: m?.cpuNum ?? null });
    }
    const vms = new Map<string, VmView>();
    for (const v of target.vms) vms.set(v.name, this.view(v.name, v.host, hosts.get(v.host ?? '')?.up ?? false));
    return { hosts, vms };
  }

  async probe(vm: string, host: string | null): Promise<{ vm: VmView; hostUp: boolean }> {
    const hostUp = host !== null && (await this.sim.reachable(host));
    return { vm: this.view(vm, host, hostUp), hostUp };
  }

  powered(vm: string, at: number): void {
    this.opts.evidence?.powered(vm, at);
  }

  private view(vm: string, host: string | null, hostUp: boolean): VmView {
    let power: VmPower = 'unknown';
    if (host && hostUp) power = this.sim.runsOn(host, vm) ? 'on' : 'off';
    const up = this.seenUp(vm);
    // As the live monitor: boots that ended with the VM answering are not a PXE loop.
    if (up) this.opts.evidence?.seenUp(vm, this.clock.now());
    return { up, power, pxeLoop: this.opts.evidence?.looping(vm, this.clock.now()) ?? false };
  }

  /** Down is seen only once it has lasted detectDelay (Ganglia's TN > k*TMAX). */
  private seenUp(vm: string): boolean {
    if (this.sim.serviceUp(vm)) return true;
    const last = this.sim.history(vm).at(-1);
    // No delay: what the probe sees now (also after the wall clock jumped back past `last.at`).
    if (this.opts.detectDelay <= 0) return false;
    return last !== undefined && this.clock.now() - last.at < this.opts.detectDelay;
  }
}
