/**
 * Where to (re)start a VM: a pure choice among hypervisors, after the 3RC paper (availability,
 * 5-minute load, number of VMs, per-host threshold) plus capacity and maintenance.
 *
 * A host qualifies when it is up, not in maintenance, its load_five is under its threshold and
 * the VM fits its capacity (CPUs, memory, VM count). Among those: least loaded, then fewest VMs,
 * then name (so the same inputs always give the same answer).
 */

export interface HostLoad {
  name: string;
  up: boolean;
  maintenance: boolean;
  /** Ganglia's load_five; null when unknown (then it sorts after every known load). */
  loadFive: number | null;
  loadThreshold: number;
  /** VMs it runs now. */
  vms: number;
  /** CPUs and memory already committed to VMs it runs. */
  usedCpus: number;
  usedMemoryMb: number;
  /** Unset fields are not checked. */
  capacity: { cpus?: number | undefined; memoryMb?: number | undefined; vms?: number | undefined };
}

export interface VmDemand {
  name: string;
  cpus: number;
  memoryMb: number;
  /** Higher starts first when capacity is short. Default in config terms: 0. */
  priority: number;
}

export interface PlaceOptions {
  /** Kept when it qualifies: restarting where the VM already is moves nothing. */
  prefer?: string | null;
  /** Never chosen (e.g. the hypervisor that just died). */
  avoid?: readonly string[];
}

/** Why a host does not qualify, or null when it does. */
export function disqualified(h: HostLoad, vm: VmDemand): string | null {
  if (!h.up) return 'down';
  if (h.maintenance) return 'maintenance';
  if (h.loadFive !== null && !(h.loadFive < h.loadThreshold)) return 'load';
  const c = h.capacity;
  if (c.vms !== undefined && h.vms + 1 > c.vms) return 'vms';
  if (c.cpus !== undefined && h.usedCpus + vm.cpus > c.cpus) return 'cpus';
  if (c.memoryMb !== undefined && h.usedMemoryMb + vm.memoryMb > c.memoryMb) return 'memory';
  return null;
}

/** Total order on qualifying hosts: least loaded, fewest VMs, name. */
function compareHosts(a: HostLoad, b: HostLoad): number {
  const la = a.loadFive ?? Infinity;
  const lb = b.loadFive ?? Infinity;
  if (la !== lb) return la < lb ? -1 : 1;
  if (a.vms !== b.vms) return a.vms - b.vms;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** The best host for one VM, or null when none qualifies (the VM then waits in the queue). */
export function chooseHost(hosts: readonly HostLoad[], vm: VmDemand, opts: PlaceOptions = {}): string | null {
  const avoid = new Set(opts.avoid ?? []);
  let best: HostLoad | null = null;
  for (const h of hosts) {
    if (avoid.has(h.name)) continue;
    if (opts.prefer && h.name === opts.prefer) {
      // The VM is already counted where it is: check the host without it.
      if (disqualified({ ...h, vms: h.vms - 1, usedCpus: h.usedCpus - vm.cpus, usedMemoryMb: h.usedMemoryMb - vm.memoryMb }, vm) === null) return h.name;
      continue;
    }
    if (disqualified(h, vm) !== null) continue;
    if (best === null || compareHosts(h, best) < 0) best = h;
  }
  return best?.name ?? null;
}

export interface PlanRequest extends VmDemand {
  prefer?: string | null;
  avoid?: readonly string[];
}

export interface PlanOptions {
  /** Starts allowed at once per host (a boot storm on one hypervisor slows every VM on it). */
  maxStartsPerHost: number;
  /** Starts already in flight per host. */
  inFlight?: ReadonlyMap<string, number>;
  /** load_five added per VM placed, so one plan spreads VMs instead of piling them on the first host. Default: its cpus. */
  loadPerVm?: (vm: VmDemand) => number;
}

export interface Plan {
  assignments: { vm: string; host: string }[];
  /** VMs left waiting, highest priority first, with why. */
  queued: { vm: string; priority: number; why: 'no-host' | 'start-limit' }[];
}

/** Stable order of a batch: priority (high first), then name. */
function byPriority(a: VmDemand, b: VmDemand): number {
  return b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * Places a batch (e.g. every VM of a dead host) at once: each assignment updates the target's
 * counters before the next VM is placed, so no target is overfilled and no host exceeds
 * maxStartsPerHost concurrent starts. Higher priority VMs choose first; the rest are queued.
 * O(V x H).
 */
export function planBatch(hosts: readonly HostLoad[], vms: readonly PlanRequest[], opts: PlanOptions): Plan {
  const live = hosts.map((h) => ({ ...h, capacity: { ...h.capacity } }));
  const starts = new Map<string, number>(opts.inFlight ?? []);
  const loadPerVm = opts.loadPerVm ?? ((v: VmDemand) => v.cpus);
  const plan: Plan = { assignments: [], queued: [] };
  for (const vm of [...vms].sort(byPriority)) {
    const open = live.filter((h) => (starts.get(h.name) ?? 0) < opts.maxStartsPerHost);
    const pick = chooseHost(open, vm, { prefer: vm.prefer ?? null, avoid: vm.avoid ?? [] });
    if (pick === null) {
      const blockedByLimit = chooseHost(live, vm, { prefer: null, avoid: vm.avoid ?? [] }) !== null;
      plan.queued.push({ vm: vm.name, priority: vm.priority, why: blockedByLimit ? 'start-limit' : 'no-host' });
      continue;
    }
    const h = live.find((x) => x.name === pick)!;
    // The preferred host already counts this VM: restarting in place adds nothing.
    if (pick !== vm.prefer) {
      h.vms += 1;
      h.usedCpus += vm.cpus;
      h.usedMemoryMb += vm.memoryMb;
      if (h.loadFive !== null) h.loadFive += loadPerVm(vm);
    }
    starts.set(pick, (starts.get(pick) ?? 0) + 1);
    plan.assignments.push({ vm: vm.name, host: pick });
  }
  return plan;
}
