/**
 * The real Monitor: one pass probes every hypervisor's and VM's SSH port (seconds, not
 * Ganglia's ~70 s), asks each hypervisor whose port answered which VMs it runs, reads load_five/cpu_num
 * from Ganglia when a source is configured, and adds the boot servers' PXE-loop evidence.
 * Every source is injected, so this composes I/O without doing any itself.
 */
import type { Clock } from '../lib/clock.js';
import type { HypervisorDriver } from '../hypervisor/driver.js';
import type { GangliaHost } from '../monitor/ganglia.js';
import type { ProbeResult } from '../monitor/probe.js';
import type { PxeEvidence } from './evidence.js';
import type { VmPower } from './fsm-types.js';
import type { Monitor, MonitorTarget, Snapshot, VmView } from './monitor.js';

export interface LiveMonitorDeps {
  clock: Clock;
  driver: HypervisorDriver;
  /** Probes many host:port targets (monitor/probe.ts probeAll, with timeout and concurrency bound). */
  probeAll(targets: readonly { host: string; port: number }[]): Promise<ProbeResult[]>;
  /** Ganglia metrics (monitor/ganglia-fetch.ts); absent or failing = loads unknown. */
  ganglia?: () => Promise<GangliaHost[]>;
  evidence: PxeEvidence | null;
  /** Where to probe: address and SSH port of each hypervisor and VM, by name. */
  address(name: string): { host: string; port: number } | undefined;
}

export class LiveMonitor implements Monitor {
  constructor(private readonly d: LiveMonitorDeps) {}

  async pass(target: MonitorTarget): Promise<Snapshot> {
    const started = this.d.clock.now();
    const names = [...target.hosts, ...target.vms.map((v) => v.name)];
    const addrs = names.map((n) => this.d.address(n));
    const probed = await this.d.probeAll(addrs.filter((a): a is { host: string; port: number } => a !== undefined));
    const open = new Map<string, boolean>();
    let j = 0;
    names.forEach((n, i) => open.set(n, addrs[i] ? probed[j++]!.open : false));

    const metrics = new Map<string, GangliaHost>();
    if (this.d.ganglia) {
      try {
        for (const h of await this.d.ganglia()) metrics.set(h.name, h);
      } catch {
        // Loads unknown this pass; placement treats unknown load as "qualifies, sorted last".
      }
    }
    const running = new Map<string, Set<string>>();
    // Only hosts whose SSH port answered: the driver speaks SSH on that same port, and asking an
    // unreachable host would hold the whole pass for the SSH connect timeout (found in the lab:
    // a partitioned hypervisor delayed every VM's detection by ~10 s).
    await Promise.all(
      target.hosts.filter((h) => open.get(h)).map(async (h) => {
        try {
          running.set(h, new Set((await this.d.driver.listVms(h)).filter((v) => v.state === 'running').map((v) => v.name)));
        } catch {
          // Unreachable through its driver: its VMs' power is unknown.
        }
      }),
    );
    const hosts = new Map(
      target.hosts.map((h) => {
        const m = metrics.get(h);
        return [h, { up: open.get(h) ?? false, loadFive: m?.up ? m.loadFive : null, cpuNum: m?.cpuNum ?? null }];
      }),
    );
    const now = this.d.clock.now();
    const vms = new Map<string, VmView>();
    for (const v of target.vms) {
      const onHost = v.host ? running.get(v.host) : undefined;
      const power: VmPower = onHost ? (onHost.has(v.name) ? 'on' : 'off') : 'unknown';
      const up = open.get(v.name) ?? false;
      // Boots that ended with the VM answering are not a PXE loop (every network-first boot is one).
      if (up) this.d.evidence?.seenUp(v.name, started);
      vms.set(v.name, { up, power, pxeLoop: this.d.evidence?.looping(v.name, now) ?? false });
    }
    return { hosts, vms };
  }

  async probe(vm: string, host: string | null): Promise<{ vm: VmView; hostUp: boolean }> {
    const snap = await this.pass({ hosts: host ? [host] : [], vms: [{ name: vm, host }] });
    return { vm: snap.vms.get(vm)!, hostUp: host ? snap.hosts.get(host)!.up : false };
  }

  powered(vm: string, at: number): void {
    this.d.evidence?.powered(vm, at);
  }
}
