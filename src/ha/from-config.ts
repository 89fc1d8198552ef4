/**
 * The controller's inputs from the config: which hosts are VMs to keep alive, the hypervisors
 * with their thresholds and capacities, and the rules. Pure; used by main.ts when it wires the
 * controller.
 */
import type { HostConfig, HypervisorConfig } from '../config/schema.js';
import type { HostSpec, VmSpec } from './controller.js';
import type { FsmRules } from './fsm-types.js';
import { rulesFromConfig } from './rules.js';

export function vmSpecs(hosts: readonly HostConfig[]): VmSpec[] {
  return hosts
    .filter((h) => h.hypervisor !== undefined)
    .map((h) => ({ name: h.name, mac: h.mac, host: h.hypervisor ?? null, reinstall: h.reinstall, priority: h.priority, cpus: h.cpus, memoryMb: h.memoryMb }));
}

export function hostSpecs(hypervisors: readonly HypervisorConfig[]): HostSpec[] {
  return hypervisors.map((h) => ({ name: h.name, loadThreshold: h.loadThreshold, maintenance: h.maintenance, capacity: { cpus: h.capacity.cpus, memoryMb: h.capacity.memoryMb, vms: h.capacity.vms } }));
}

export function controllerSettings(ha: { t1: number; t2: number; scanInterval: number; budget: { recoveries: number; window: number } }): { rules: FsmRules; scanInterval: number } {
  return { rules: rulesFromConfig(ha), scanInterval: ha.scanInterval };
}
