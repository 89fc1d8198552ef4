/**
 * The controller's inputs from the config: which hosts are VMs to keep alive, the hypervisors
 * with their thresholds and capacities, and the rules. Pure; used by main.ts when it wires the
 * controller.
 */
import type { HostConfig, HypervisorConfig, RawConfig } from '../config/schema.js';
import type { AdmissionOptions } from './admission.js';
import type { RuleGroup } from './affinity.js';
import type { HostSpec, VmSpec } from './controller.js';
import type { FsmRules } from './fsm-types.js';
import { rulesFromConfig } from './rules.js';

export function vmSpecs(hosts: readonly HostConfig[]): VmSpec[] {
  return hosts
    .filter((h) => h.hypervisor !== undefined)
    .map((h) => ({
      name: h.name, mac: h.mac, host: h.hypervisor ?? null, reinstall: h.reinstall, priority: h.priority, cpus: h.cpus, memoryMb: h.memoryMb, ...(h.coldMove !== undefined ? { coldMove: h.coldMove } : {}),
      ...(h.hosts ? { hosts: h.hosts, hostsRequired: h.hostsRequired ?? true } : {}),
      ...(h.after?.length ? { after: h.after } : {}),
    }));
}

export function hostSpecs(hypervisors: readonly HypervisorConfig[]): HostSpec[] {
  return hypervisors.map((h) => ({
    name: h.name, loadThreshold: h.loadThreshold, maintenance: h.maintenance, capacity: { cpus: h.capacity.cpus, memoryMb: h.capacity.memoryMb, vms: h.capacity.vms },
    ...(h.rack !== undefined ? { rack: h.rack } : {}),
  }));
}

/** The config's ha.rules as placement groups. */
export function ruleGroups(rules: RawConfig['ha']['rules']): RuleGroup[] {
  return rules.map((r) => (r.antiAffinity ? { kind: 'anti-affinity', strict: r.strict, vms: r.antiAffinity } : { kind: 'affinity', strict: r.strict, vms: r.affinity ?? [] }));
}

/** A dead host's VMs ask for a host within moments of each other: planned together, they share the room as admission planned. */
const PLACE_WINDOW = 200;

type HaSettings = Pick<RawConfig['ha'], 't1' | 't2' | 'scanInterval' | 'budget'> & Partial<Pick<RawConfig['ha'], 'rules' | 'restartOrder' | 'admission'>>;

export function controllerSettings(ha: HaSettings): {
  rules: FsmRules;
  scanInterval: number;
  groups: RuleGroup[];
  restartOrder?: { timeout: number; timeoutApplies: boolean };
  admission: AdmissionOptions;
  placeWindow: number;
} {
  return {
    rules: rulesFromConfig(ha), scanInterval: ha.scanInterval, groups: ruleGroups(ha.rules ?? []), placeWindow: PLACE_WINDOW,
    ...(ha.restartOrder ? { restartOrder: { ...ha.restartOrder } } : {}),
    admission: { failures: ha.admission?.failures ?? 1, domain: ha.admission?.domain ?? 'host', ...(ha.admission?.reserve ? { reserve: { ...ha.admission.reserve } } : {}) },
  };
}
