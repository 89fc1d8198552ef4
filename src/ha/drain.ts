/**
 * The plan of a hypervisor drain (`3rc hv drain NAME`), pure: for every VM that runs on the host,
 * a destination chosen by the same placement code as a recovery (planBatch: capacity, load,
 * priorities; the drained host counts as in maintenance), and how it moves: live where the driver
 * can migrate, else cold (off there, proven off, then started on the destination). A VM that
 * cannot move stops the drain with its reason: a drain never leaves a VM without a host, and it
 * never touches a VM that HA is recovering.
 */
import type { RuleIndex } from './affinity.js';
import { disqualified, planBatch, type HostLoad, type PlanOptions, type VmDemand } from './placement.js';

/** A VM whose HA state puts it on the drained host. */
export interface DrainCandidate extends VmDemand {
  /** Its HA phase (fsm-types Phase). */
  phase: string;
  /** Its copy there runs (a VM off there, e.g. disabled and stopped, stays where it is). */
  running: boolean;
}

export interface DrainStep {
  vm: string;
  to: string;
  how: 'live' | 'cold';
}

export interface DrainPlan {
  host: string;
  /** In the order to run them: highest priority first. */
  steps: DrainStep[];
  /** VMs left where they are because they do not run. */
  idle: string[];
  /** The first VM that cannot move, and why: the drain stops before moving anything. */
  blocked: { vm: string; why: string } | null;
}

/** Phases a drain may move a VM out of: steady ones, where no recovery action is in flight. */
const MOVABLE = new Set(['running', 'disabled']);

/**
 * Plans the drain of `host`. `live`: the driver can migrate (MIGRATION_UNSUPPORTED at run time
 * still falls back to cold). O(V x H).
 */
export function planDrain(host: string, hosts: readonly HostLoad[], vms: readonly DrainCandidate[], opts: { live: boolean; rules?: RuleIndex; reserve?: PlanOptions['reserve'] }): DrainPlan {
  const plan: DrainPlan = { host, steps: [], idle: [], blocked: null };
  const loads = hosts.map((h) => (h.name === host ? { ...h, maintenance: true } : h));
  const busy = vms.find((v) => !MOVABLE.has(v.phase));
  if (busy) {
    plan.blocked = { vm: busy.name, why: `${busy.name} is ${busy.phase}: HA is recovering it; drain again once it is running` };
    return plan;
  }
  const moving = vms.filter((v) => v.running);
  plan.idle = vms.filter((v) => !v.running).map((v) => v.name).sort();
  // No start limit: the moves run one after another.
  // Placement rules (anti-affinity, required hosts, ...) and the failover reserve hold here too.
  const batch = planBatch(loads, moving.map((v) => ({ ...v, prefer: null, avoid: [host] })), {
    maxStartsPerHost: Number.MAX_SAFE_INTEGER, ...(opts.rules ? { rules: opts.rules } : {}), ...(opts.reserve ? { reserve: opts.reserve } : {}),
  });
  const first = batch.queued[0];
  if (first) {
    const vm = moving.find((v) => v.name === first.vm)!;
    // With rules or a reserve the planner's reason names them; else each host's, counting the plan.
    const why = opts.rules || opts.reserve ? first.reason : whyNot(host, loads, batch.assignments, moving, vm);
    plan.blocked = { vm: vm.name, why: `no hypervisor can take ${vm.name}: ${why}` };
    return plan;
  }
  plan.steps = batch.assignments.map((a) => ({ vm: a.vm, to: a.host, how: opts.live ? 'live' : 'cold' }));
  return plan;
}

/** Each other host's reason, counting the VMs the plan already put there: `hv2 memory, hv3 down`. */
function whyNot(host: string, loads: readonly HostLoad[], placed: readonly { vm: string; host: string }[], vms: readonly VmDemand[], vm: VmDemand): string {
  const others = loads.filter((h) => h.name !== host);
  if (others.length === 0) return `${host} is the only hypervisor`;
  return others
    .map((h) => {
      const mine = placed.filter((a) => a.host === h.name).map((a) => vms.find((v) => v.name === a.vm)!);
      const filled = { ...h, vms: h.vms + mine.length, usedCpus: h.usedCpus + sum(mine, 'cpus'), usedMemoryMb: h.usedMemoryMb + sum(mine, 'memoryMb') };
      return `${h.name} ${disqualified(filled, vm) ?? 'load'}`;
    })
    .join(', ');
}

function sum(vms: readonly VmDemand[], k: 'cpus' | 'memoryMb'): number {
  return vms.reduce((n, v) => n + v[k], 0);
}
