/**
 * Admission control: "if these hosts failed now, which VMs could not be restarted, and why?",
 * for every failure of N failure domains (a host, or a rack when hypervisors carry a `rack`
 * label). Pure. A failure is planned by planFailure(), the same function the controller's real
 * failure path and `3rc plan --fail` use: the failed hosts count as down, their VMs form one batch
 * placed by planBatch with the same rules. Start limits and restart order only delay a restart,
 * so a failure case ignores them: a VM is stranded when no host has room for it under the rules.
 */
import { RuleIndex, type PlacementRules } from './affinity.js';
import { compareHosts, planBatch, type HostLoad, type Plan, type PlanRequest } from './placement.js';

/** A VM as admission sees it: where it runs and what it needs. */
export interface ClusterVm {
  name: string;
  host: string | null;
  cpus: number;
  memoryMb: number;
  priority: number;
}

export interface ClusterView {
  hosts: readonly HostLoad[];
  vms: readonly ClusterVm[];
  rules: PlacementRules;
}

/** The cluster's view with the rules indexed once; reuse it for many failure cases. */
export interface PreparedCluster extends ClusterView {
  index: RuleIndex;
  byHost: Map<string, ClusterVm[]>;
  /** The hosts (in placement order) by name. */
  byName: Map<string, HostLoad>;
}

export function prepare(view: ClusterView): PreparedCluster {
  const byHost = new Map<string, ClusterVm[]>();
  for (const v of view.vms) {
    if (!v.host) continue;
    const list = byHost.get(v.host);
    if (list) list.push(v);
    else byHost.set(v.host, [v]);
  }
  // In placement order once: each failure case's plan then starts from it without sorting.
  const hosts = [...view.hosts].sort(compareHosts);
  return { ...view, hosts, index: new RuleIndex(view.rules, new Map(view.vms.map((v) => [v.name, v.host]))), byHost, byName: new Map(hosts.map((h) => [h.name, h])) };
}

/**
 * What the planner does if `failed` die now: their VMs, placed at once on the others. Also the
 * restart plan of a real failure (its requests come from the state machine, see the controller).
 */
export function planFailure(c: PreparedCluster, failed: readonly string[], opts: { maxStartsPerHost?: number; exhaustive?: boolean } = {}): Plan {
  const dead = new Set(failed);
  const requests: PlanRequest[] = [];
  for (const f of dead) for (const v of c.byHost.get(f) ?? []) requests.push({ name: v.name, cpus: v.cpus, memoryMb: v.memoryMb, priority: v.priority, prefer: null, avoid: failed });
  // The failed hosts are in every request's avoid list: the planner never looks at them, so the
  // hosts go in as they are (no copy per failure case).
  return planBatch(c.hosts, requests, { maxStartsPerHost: opts.maxStartsPerHost ?? Infinity, rules: c.index, hostIndex: { byName: c.byName }, ...(opts.exhaustive ? { exhaustive: true } : {}) });
}

export interface AdmissionOptions {
  /** Simultaneous failures planned for (1 = N+1). Default: 1. */
  failures?: number;
  /** What fails together: one host, or every host of a rack. Default: host. */
  domain?: 'host' | 'rack';
  /** At most this many failure cases are planned (combinations grow fast); the answer says when it stopped. Default: 5000. */
  maxCases?: number;
  /** The failover reserve (ha.admission.reserve), reported with the answer: restarts may use it, other placements leave it free. */
  reserve?: { cpuShare: number; memoryShare: number };
}

export interface FailureCase {
  /** The hosts that fail. */
  failed: string[];
  /** "hv2", "rack r1", "hv1 + hv2". */
  label: string;
  stranded: { vm: string; causes: string[]; reason: string }[];
}

export interface Admission {
  failures: number;
  domain: 'host' | 'rack';
  /** Failure cases planned. */
  cases: number;
  /** True when more cases exist than were planned (maxCases). */
  truncated: boolean;
  /** Cases that leave at least one VM without room, in the order planned. */
  failing: FailureCase[];
  holds: boolean;
  /** The shares of CPU and memory kept free for restarts; null: none. */
  reserve?: { cpuShare: number; memoryShare: number } | null;
}

/** Failure domains: each rack's hosts together, a host without a rack alone (domain host: every host alone). */
export function domains(hosts: readonly HostLoad[], domain: 'host' | 'rack'): { label: string; hosts: string[] }[] {
  if (domain === 'host') return hosts.map((h) => ({ label: h.name, hosts: [h.name] }));
  const racks = new Map<string, string[]>();
  const out: { label: string; hosts: string[] }[] = [];
  for (const h of hosts) {
    if (h.rack === undefined) out.push({ label: h.name, hosts: [h.name] });
    else racks.set(h.rack, [...(racks.get(h.rack) ?? []), h.name]);
  }
  return [...[...racks].map(([rack, hs]) => ({ label: `rack ${rack}`, hosts: hs })), ...out];
}

/** Every combination of k items, in order, at most `max` of them; `more` says whether some were left. */
function combinations<T>(items: readonly T[], k: number, max: number): { sets: T[][]; more: boolean } {
  const sets: T[][] = [];
  const idx = Array.from({ length: k }, (_, i) => i);
  if (k <= 0 || k > items.length) return { sets, more: false };
  for (;;) {
    if (sets.length === max) return { sets, more: true };
    sets.push(idx.map((i) => items[i]!));
    let i = k - 1;
    while (i >= 0 && idx[i] === items.length - k + i) i--;
    if (i < 0) return { sets, more: false };
    idx[i]! += 1;
    for (let j = i + 1; j < k; j++) idx[j] = idx[j - 1]! + 1;
  }
}

/** The admission answer for the cluster as it is now. */
export function admission(view: ClusterView | PreparedCluster, opts: AdmissionOptions = {}): Admission {
  const c = 'index' in view ? view : prepare(view);
  const failures = opts.failures ?? 1;
  const domain = opts.domain ?? 'host';
  // Hosts already down or in maintenance are not a failure case of their own.
  const live = c.hosts.filter((h) => h.up && !h.maintenance);
  const doms = domains(live, domain);
  const { sets, more } = combinations(doms, Math.min(failures, doms.length), opts.maxCases ?? 5000);
  const failing: FailureCase[] = [];
  for (const set of sets) {
    const failed = set.flatMap((d) => d.hosts);
    if (!failed.some((h) => c.byHost.get(h)?.length)) continue;
    const plan = planFailure(c, failed);
    if (plan.queued.length === 0) continue;
    failing.push({ failed, label: set.map((d) => d.label).join(' + '), stranded: plan.queued.map((q) => ({ vm: q.vm, causes: q.causes, reason: q.reason })) });
  }
  const r = opts.reserve;
  return { failures, domain, cases: sets.length, truncated: more, failing, holds: failing.length === 0, reserve: r && (r.cpuShare > 0 || r.memoryShare > 0) ? { ...r } : null };
}

/** What `3rc status`, the API and the metrics show: the answer with its status line. */
export type AdmissionSummary = Admission & { line: string };

export function summary(a: Admission): AdmissionSummary {
  return { line: admissionLine(a), ...a };
}

/** One line for `3rc status`: "capacity: N+1 holds" or "hv2 failure would leave vm13, vm15 without room: memory". */
export function admissionLine(a: Admission): string {
  const n = `N+${a.failures}${a.domain === 'rack' ? ' (racks)' : ''}`;
  const partial = a.truncated ? ` (first ${a.cases} failure cases only)` : '';
  if (a.holds) return `capacity: ${n} holds${partial}`;
  const f = a.failing[0]!;
  const vms = f.stranded.map((s) => s.vm);
  const names = vms.length > 5 ? `${vms.slice(0, 5).join(', ')} and ${vms.length - 5} more` : vms.join(', ');
  const causes = [...new Set(f.stranded.flatMap((s) => s.causes))].sort().join(', ');
  const others = a.failing.length > 1 ? ` (${a.failing.length - 1} more failure cases fail too)` : '';
  return `capacity: ${n} does not hold: ${f.label} failure would leave ${names} without room: ${causes}${others}${partial}`;
}
