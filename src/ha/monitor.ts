/**
 * What the controller learns from monitoring, as an interface: the live implementation combines
 * direct probes (monitor/probe.ts), Ganglia metrics (monitor/ganglia.ts) and the hypervisors'
 * own view (driver.listVms); the simulator feeds the same shapes from its cluster.
 */
import type { VmPower } from './fsm-types.js';

export interface HostView {
  /** Reachable (probe of its SSH port, or the driver answered). */
  up: boolean;
  /** Ganglia load_five; null when unknown. */
  loadFive: number | null;
  cpuNum: number | null;
}

export interface VmView {
  /** Its service answers (probe of the VM's SSH port). */
  up: boolean;
  /** What its hypervisor says; 'unknown' when the hypervisor did not answer. */
  power: VmPower;
  /** Boot-server evidence: PXE again and again with a local boot entry. */
  pxeLoop: boolean;
}

export interface Snapshot {
  hosts: Map<string, HostView>;
  vms: Map<string, VmView>;
}

export interface MonitorTarget {
  hosts: readonly string[];
  /** Each VM with the hypervisor the controller believes runs it. */
  vms: readonly { name: string; host: string | null }[];
}

export interface Monitor {
  /** One full monitoring pass over every hypervisor and VM. */
  pass(target: MonitorTarget): Promise<Snapshot>;
  /** Looks at one VM again now (the confirmation of a suspect). */
  probe(vm: string, host: string | null): Promise<{ vm: VmView; hostUp: boolean }>;
  /**
   * The controller is about to power the VM on or reset it (start, reset, reinstall): evidence
   * gathered from earlier copies does not describe the copy that boots now.
   */
  powered(vm: string, at: number): void;
}

/**
 * A monitoring blackout: most of the cluster looks unreachable at once. That is far more likely
 * the controller's own network than a real mass failure, and acting on it would start a storm
 * of restarts; so automatic action pauses. Pure.
 */
export function isBlackout(s: Snapshot, opts: { hostFraction?: number; minHosts?: number } = {}): boolean {
  const fraction = opts.hostFraction ?? 0.5;
  const minHosts = opts.minHosts ?? 3;
  const hosts = [...s.hosts.values()];
  if (hosts.length < minHosts) return false;
  const down = hosts.filter((h) => !h.up).length;
  return down / hosts.length > fraction;
}
