/**
 * Where a P2V's new VM starts, through the planner HA restarts use (planBatch): the hypervisor
 * asked for (`3rc p2v HOST --to HV`) when the placement rules (strict anti-affinity and affinity,
 * required hosts) and the failover reserve (ha.admission.reserve) allow it there, else the one
 * the planner chooses among the hypervisors the VM is defined on; none: why, naming the rules.
 * Pure.
 */
import { RuleIndex, type PlacementRules } from '../ha/affinity.js';
import type { ClusterView } from '../ha/admission.js';
import { planBatch, type VmDemand } from '../ha/placement.js';

export interface P2vVm extends VmDemand {
  /** The host record's `hosts` (node affinity). */
  hosts?: readonly string[] | undefined;
  hostsRequired?: boolean | undefined;
}

export interface P2vTarget {
  /** Where to start it; null: nowhere. */
  host: string | null;
  /** Why not where it was asked for (or nowhere); empty when it starts where asked. */
  why: string;
}

export function p2vTarget(view: ClusterView, vm: P2vVm, to: string, candidates: readonly string[], reserve?: { cpuShare: number; memoryShare: number }): P2vTarget {
  // The VM as a VM of its own (its node affinity from its host record), not yet running anywhere.
  const own = new Map(view.rules.vms);
  if (vm.hosts) own.set(vm.name, { hosts: vm.hosts, hostsRequired: vm.hostsRequired ?? true });
  const rules: PlacementRules = { groups: view.rules.groups, vms: own };
  const where = new Map(view.vms.filter((v) => v.name !== vm.name).map((v) => [v.name, v.host]));
  const demand: VmDemand = { name: vm.name, cpus: vm.cpus, memoryMb: vm.memoryMb, priority: vm.priority };
  const opts = { maxStartsPerHost: Infinity, rules: new RuleIndex(rules, where), ...(reserve && (reserve.cpuShare > 0 || reserve.memoryShare > 0) ? { reserve } : {}) };
  const plan = (names: readonly string[]) => planBatch(view.hosts.filter((h) => names.includes(h.name)), [demand], opts);
  const asked = plan([to]);
  if (asked.assignments.length > 0) return { host: to, why: '' };
  const refused = asked.queued[0]?.reason ?? `${to} is not a known hypervisor`;
  const other = plan(candidates.filter((c) => c !== to));
  const pick = other.assignments[0]?.host ?? null;
  if (pick) return { host: pick, why: `${to} refused: ${refused}` };
  const all = plan(candidates);
  return { host: null, why: all.queued[0]?.reason ?? refused };
}
