/**
 * Where to (re)start a VM: a pure choice among hypervisors, after the 3RC paper (availability,
 * 5-minute load, number of VMs, per-host threshold) plus capacity and maintenance.
 *
 * A host qualifies when it is up, not in maintenance, its load_five is under its threshold and
 * the VM fits its capacity (CPUs, memory, VM count). Among those: least loaded, then fewest VMs,
 * then name (so the same inputs always give the same answer).
 */

import type { RuleIndex } from './affinity.js';

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
  /** Failure domain (the hypervisor's `rack` label). Default: none (the host alone). */
  rack?: string | undefined;
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
export function compareHosts(a: HostLoad, b: HostLoad): number {
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

/** Restart order: a VM with `after` deps waits until each is ready (probe green or quarantined) or it is released (its timeout ran out). */
export interface OrderGate {
  after: ReadonlyMap<string, readonly string[]>;
  ready: (vm: string) => boolean;
  /** VMs whose wait timed out: placed whatever their dependencies do (the caller's clock decides). */
  released: ReadonlySet<string>;
}

export interface PlanOptions {
  /** Starts allowed at once per host (a boot storm on one hypervisor slows every VM on it). */
  maxStartsPerHost: number;
  /** Starts already in flight per host. */
  inFlight?: ReadonlyMap<string, number>;
  /** load_five added per VM placed, so one plan spreads VMs instead of piling them on the first host. Default: its cpus. */
  loadPerVm?: (vm: VmDemand) => number;
  /** Affinity rules with where every VM runs now (VMs of the batch excepted). Default: none. */
  rules?: RuleIndex;
  /** Restart order. Default: none (every VM may start now). */
  order?: OrderGate;
  /**
   * Share of each host's CPUs and memory kept free for restarts; applied to plans that are not
   * restarts (drain, P2V targets). Default: none.
   */
  reserve?: { cpuShare: number; memoryShare: number };
  /**
   * Judge every host for every VM instead of only the hosts a VM's rules name plus the best of the
   * rest (the same plan, slower): the reference the fast path is tested against.
   */
  exhaustive?: boolean;
  /**
   * The hosts given are in compareHosts order already and these are them by name: a caller that
   * plans many batches over the same hosts (admission) builds it once. Default: worked out per plan.
   */
  hostIndex?: { byName: ReadonlyMap<string, HostLoad> };
}

export type QueueWhy = 'no-host' | 'start-limit' | 'order';

export interface Plan {
  assignments: { vm: string; host: string }[];
  /** VMs left waiting, highest priority first, with why: a code, the causes per host, and a sentence naming them. */
  queued: { vm: string; priority: number; why: QueueWhy; causes: string[]; reason: string }[];
}

/** Stable order of a batch: priority (high first), then name. */
function byPriority(a: VmDemand, b: VmDemand): number {
  return b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

const PHRASES: Record<string, [string, string]> = {
  down: ['down', 'down'],
  maintenance: ['in maintenance', 'in maintenance'],
  load: ['over its load threshold', 'over their load threshold'],
  vms: ['at its VM limit', 'at their VM limit'],
  cpus: ['out of CPUs', 'out of CPUs'],
  memory: ['out of memory', 'out of memory'],
  'start-limit': ['at its start limit', 'at their start limit'],
};

/** Why no host took a VM, one phrase per cause, hosts of one capacity cause together (by name: the same input, the same words). */
export function explain(refusals: readonly { host: string; cause: string; text?: string }[]): string {
  const byCause = new Map<string, string[]>();
  const ruled: string[] = [];
  const sorted = [...refusals].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  for (const r of sorted) {
    if (r.text !== undefined) ruled.push(r.text);
    else byCause.set(r.cause, [...(byCause.get(r.cause) ?? []), r.host]);
  }
  const phrases = [...ruled];
  for (const [cause, hosts] of byCause) {
    const [one, many] = PHRASES[cause] ?? [cause, cause];
    const names = hosts.length > 3 ? `${hosts.slice(0, 3).join(', ')} and ${hosts.length - 3} more` : hosts.join(', ');
    phrases.push(`${names} ${hosts.length === 1 ? one : many}`);
  }
  if (phrases.length === 0) return 'no hypervisor';
  return phrases.length > 6 ? `${phrases.slice(0, 6).join('; ')}; and ${phrases.length - 6} more` : phrases.join('; ');
}

interface Candidate {
  host: HostLoad;
  soft: number;
}

/**
 * Places a batch (e.g. every VM of a dead host) at once: each assignment updates the target's
 * counters (and the rules' view of where group members are) before the next VM is placed, so no
 * target is overfilled, no host exceeds maxStartsPerHost concurrent starts, and strict
 * (anti-)affinity holds among the VMs of the batch too. Higher priority VMs choose first; the
 * rest are queued with the reason naming what refused each host. Among the hosts no strict rule
 * refuses: fewest soft rules broken, then the preferred (current) host, then least loaded,
 * fewest VMs, name. A VM's rules give one verdict to every host they do not name, so only the
 * named hosts and the first of the others that qualifies are judged: O(V x (hosts named by its
 * rules + hosts skipped)); the reason of a VM left waiting judges every host.
 */
export function planBatch(hosts: readonly HostLoad[], vms: readonly PlanRequest[], opts: PlanOptions): Plan {
  // Copy on write: a host is copied the first time this plan places a VM on it (admission plans
  // hundreds of failure cases over the same hosts).
  const initial = opts.reserve ? hosts.map((h) => ({ ...h, capacity: reserved(h.capacity, opts.reserve) })) : hosts;
  const owned = new Set<HostLoad>(opts.reserve ? initial : []);
  const starts = new Map<string, number>(opts.inFlight ?? []);
  const loadPerVm = opts.loadPerVm ?? ((v: VmDemand) => v.cpus);
  const plan: Plan = { assignments: [], queued: [] };
  const tracker = opts.rules?.tracker(new Set(vms.map((v) => v.name))) ?? null;
  // The hosts in placement order, kept sorted as placements load them: most VMs take the first that qualifies.
  const given = opts.reserve ? undefined : opts.hostIndex;
  const sorted = given || initial.every((h, i) => i === 0 || compareHosts(initial[i - 1]!, h) < 0) ? initial.slice() : [...initial].sort(compareHosts);
  // The exhaustive reference also keeps the caller's order (the fast path never needs it).
  const live = opts.exhaustive ? initial.slice() : null;
  /** Hosts by name as this plan has them: the hosts given (by name once, when a VM's rules name hosts), and this plan's copies. */
  const copies = new Map<string, HostLoad>();
  let base = given?.byName ?? null;
  const hostNamed = (name: string) => copies.get(name) ?? (base ??= new Map(initial.map((h) => [h.name, h]))).get(name);
  let lastAvoid: { list: readonly string[] | undefined; set: Set<string> | null } = { list: undefined, set: null };
  for (const vm of [...vms].sort(byPriority)) {
    const waitFor = opts.order && !opts.order.released.has(vm.name) ? (opts.order.after.get(vm.name) ?? []).filter((d) => !opts.order!.ready(d)) : [];
    if (waitFor.length > 0) {
      plan.queued.push({ vm: vm.name, priority: vm.priority, why: 'order', causes: ['order'], reason: `after ${waitFor.join(', ')} (not up yet)` });
      continue;
    }
    // A batch's VMs often share one avoid list (a failure's dead hosts): its set is made once.
    if (vm.avoid !== lastAvoid.list) lastAvoid = { list: vm.avoid, set: vm.avoid && vm.avoid.length > 0 ? new Set(vm.avoid) : null };
    const avoid = lastAvoid.set;
    // Without soft rules nor a preferred host, every qualifying host ranks by host order alone:
    // the VM takes the first that qualifies (and that no strict rule refuses).
    const firstFit = vm.prefer == null && (tracker === null || !tracker.soft(vm.name));
    const scope = tracker === null || tracker.free(vm.name) ? null : tracker.scope(vm.name);
    const judge = scope?.verdict ?? null;
    /** The host as a candidate, or null with the refusal recorded (when refusals are). */
    const consider = (h: HostLoad, refusals: Refusal[] | null): Candidate | null | 'start-limit' => {
      // The VM is already counted where it is: check that host without it.
      const here = vm.prefer === h.name;
      const why = disqualified(here ? { ...h, vms: h.vms - 1, usedCpus: h.usedCpus - vm.cpus, usedMemoryMb: h.usedMemoryMb - vm.memoryMb } : h, vm);
      if (why !== null) {
        refusals?.push({ host: h.name, cause: why });
        return null;
      }
      const v = judge?.(h.name);
      if (v?.blocked) {
        refusals?.push({ host: h.name, cause: v.blocked.cause, text: v.blocked.text });
        return null;
      }
      if ((starts.get(h.name) ?? 0) >= opts.maxStartsPerHost) {
        refusals?.push({ host: h.name, cause: 'start-limit' });
        return 'start-limit';
      }
      return { host: h, soft: v?.softViolations ?? 0 };
    };
    /** One scan of every host; the refusals are recorded (for the reason) only once no host took it. */
    const scan = (refusals: Refusal[] | null): { best: Candidate | null; startLimited: boolean } => {
      let best: Candidate | null = null;
      let startLimited = false;
      for (const h of firstFit || live === null ? sorted : live) {
        if (avoid?.has(h.name)) continue;
        const c = consider(h, refusals);
        if (c === 'start-limit') startLimited = true;
        if (c === null || c === 'start-limit') continue;
        if (firstFit) return { best: c, startLimited };
        if (best === null || better(c, best, vm.prefer ?? null)) best = c;
      }
      return { best, startLimited };
    };
    /**
     * The same best host without judging them all: the rules give one verdict to every host they
     * do not name, so the best is among the named hosts (and the preferred one) and the first of
     * the others, in host order, that qualifies.
     */
    const focused = (): Candidate | null => {
      let best: Candidate | null = null;
      const take = (h: HostLoad): boolean => {
        if (avoid?.has(h.name)) return false;
        const c = consider(h, null);
        if (c === null || c === 'start-limit') return false;
        if (best === null || better(c, best, vm.prefer ?? null)) best = c;
        return true;
      };
      const hostsNamed = scope?.only ?? scope?.named ?? new Set<string>();
      const special = vm.prefer != null && scope?.only == null ? new Set([...hostsNamed, vm.prefer]) : hostsNamed;
      for (const name of special) {
        const h = hostNamed(name);
        if (h) take(h);
      }
      if (scope?.only == null) for (const h of sorted) if (!special.has(h.name) && take(h)) break;
      return best;
    };
    const best = firstFit && judge === null ? scan(null).best : live === null ? focused() : scan(null).best;
    if (best === null) {
      const refusals: Refusal[] = [];
      const { startLimited } = scan(refusals);
      const causes = [...new Set(refusals.map((r) => r.cause))].sort();
      plan.queued.push({ vm: vm.name, priority: vm.priority, why: startLimited ? 'start-limit' : 'no-host', causes, reason: explain(refusals) });
      continue;
    }
    let h = best.host;
    const pick = h.name;
    // The preferred host already counts this VM: restarting in place adds nothing.
    if (pick !== vm.prefer) {
      const at = locate(sorted, h);
      if (!owned.has(h)) {
        const copy = { ...h, capacity: { ...h.capacity } };
        if (live) live[live.indexOf(h)] = copy;
        sorted[at] = copy;
        copies.set(pick, copy);
        owned.add(copy);
        h = copy;
      }
      h.vms += 1;
      h.usedCpus += vm.cpus;
      h.usedMemoryMb += vm.memoryMb;
      if (h.loadFive !== null) h.loadFive += loadPerVm(vm);
      resort(sorted, at);
    }
    tracker?.place(vm.name, pick);
    starts.set(pick, (starts.get(pick) ?? 0) + 1);
    plan.assignments.push({ vm: vm.name, host: pick });
  }
  return plan;
}

type Refusal = { host: string; cause: string; text?: string };

/** The first place in the sorted host list whose host does not sort before h (binary search). */
function firstNotBefore(sorted: readonly HostLoad[], h: HostLoad): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareHosts(sorted[mid]!, h) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Where h is in the sorted host list. */
function locate(sorted: readonly HostLoad[], h: HostLoad): number {
  const at = firstNotBefore(sorted, h);
  return sorted[at] === h ? at : sorted.indexOf(h);
}

/** Moves the host at `at` (whose load or VM count just changed) to its place in the sorted host list. */
function resort(sorted: HostLoad[], at: number): void {
  const [h] = sorted.splice(at, 1) as [HostLoad];
  sorted.splice(firstNotBefore(sorted, h), 0, h);
}

function better(a: Candidate, b: Candidate, prefer: string | null): boolean {
  if (a.soft !== b.soft) return a.soft < b.soft;
  if (prefer !== null && (a.host.name === prefer) !== (b.host.name === prefer)) return a.host.name === prefer;
  return compareHosts(a.host, b.host) < 0;
}

function reserved(c: HostLoad['capacity'], reserve: PlanOptions['reserve']): HostLoad['capacity'] {
  if (!reserve) return { ...c };
  return {
    ...c,
    ...(c.cpus !== undefined ? { cpus: Math.floor(c.cpus * (1 - reserve.cpuShare)) } : {}),
    ...(c.memoryMb !== undefined ? { memoryMb: Math.floor(c.memoryMb * (1 - reserve.memoryShare)) } : {}),
  };
}
