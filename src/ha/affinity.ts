/**
 * Placement rules: anti-affinity and affinity groups (strict or soft) and per-VM node affinity
 * (`hosts`, required or preferred). Pure: the rules and where every VM runs in, a verdict per
 * (VM, host) out, with the rule that blocked it named. The batch planner (placement.ts) keeps one
 * RuleTracker per plan, so VMs of one batch respect the rules among themselves.
 */

export type GroupKind = 'anti-affinity' | 'affinity';

export interface RuleGroup {
  kind: GroupKind;
  /** Strict: never broken (the VM waits and says why). Soft: followed when some host allows it. */
  strict: boolean;
  vms: readonly string[];
}

export interface VmPlacementRules {
  /** Hypervisors this VM may run on (required) or should run on (preferred). */
  hosts?: readonly string[];
  hostsRequired?: boolean;
}

export interface PlacementRules {
  groups: readonly RuleGroup[];
  vms: ReadonlyMap<string, VmPlacementRules>;
}

export const NO_RULES: PlacementRules = { groups: [], vms: new Map() };

/** A strict rule that refuses a host, or the soft rules it breaks. */
export interface RuleVerdict {
  /** Null when no strict rule refuses the host. */
  blocked: { cause: GroupKind | 'hosts'; text: string } | null;
  /** Soft rules broken by placing the VM there (lower is better). */
  softViolations: number;
}

const OK: RuleVerdict = { blocked: null, softViolations: 0 };

/**
 * Group membership indexed once per cluster view: where each group's members run. Built in
 * O(members); a plan adds its own moves on top (track()), never copying the base.
 */
export class RuleIndex {
  readonly rules: PlacementRules;
  /** vm -> indices of its groups. */
  readonly groupsOf = new Map<string, number[]>();
  /** group -> host -> members running there (per `where`). */
  readonly base: Map<string, string[]>[];
  /** VMs a soft rule concerns (preferred hosts, a soft group). */
  readonly softVms = new Set<string>();

  constructor(rules: PlacementRules, where: ReadonlyMap<string, string | null>) {
    this.rules = rules;
    this.base = rules.groups.map(() => new Map());
    rules.groups.forEach((g, i) => {
      for (const vm of g.vms) {
        if (!g.strict) this.softVms.add(vm);
        const list = this.groupsOf.get(vm);
        if (list) list.push(i);
        else this.groupsOf.set(vm, [i]);
        const host = where.get(vm);
        if (!host) continue;
        const m = this.base[i]!;
        const at = m.get(host);
        if (at) at.push(vm);
        else m.set(host, [vm]);
      }
    });
    for (const [vm, own] of rules.vms) if (own.hostsRequired === false) this.softVms.add(vm);
  }

  /** Nothing to check for this VM (the planner's fast path). */
  free(vm: string): boolean {
    return !this.groupsOf.has(vm) && !this.rules.vms.get(vm)?.hosts;
  }

  tracker(moving: ReadonlySet<string>): RuleTracker {
    return new RuleTracker(this, moving);
  }
}

/** One plan's view of the rules: the base index minus the VMs being moved, plus where the plan put them. */
export class RuleTracker {
  /** group -> host -> members this plan put there (created on first use: a plan touches few groups). */
  private readonly added = new Map<number, Map<string, string[]>>();
  constructor(
    private readonly index: RuleIndex,
    private readonly moving: ReadonlySet<string>,
  ) {}

  /** No rule concerns this VM. */
  free(vm: string): boolean {
    return this.index.free(vm);
  }

  /** A soft rule concerns this VM (then hosts are ranked by the soft rules they break, not taken first fit). */
  soft(vm: string): boolean {
    return this.index.softVms.has(vm);
  }

  /** Records that the plan put `vm` on `host`. */
  place(vm: string, host: string): void {
    for (const g of this.index.groupsOf.get(vm) ?? []) {
      let m = this.added.get(g);
      if (!m) this.added.set(g, (m = new Map()));
      const at = m.get(host);
      if (at) at.push(vm);
      else m.set(host, [vm]);
    }
  }

  /** Hosts where members of group g (other than vm) count as being, each with its members. */
  private hostsOf(g: number, vm: string): Map<string, string[]> {
    const out = new Map<string, string[]>();
    const add = (host: string, m: string) => {
      const at = out.get(host);
      if (at) at.push(m);
      else out.set(host, [m]);
    };
    for (const [host, ms] of this.index.base[g]!) for (const m of ms) if (m !== vm && !this.moving.has(m)) add(host, m);
    for (const [host, ms] of this.added.get(g) ?? []) for (const m of ms) if (m !== vm) add(host, m);
    return out;
  }

  /**
   * The verdict function for one VM as the plan stands: where its groups' members are is looked
   * up once, then each host costs a few map lookups. Valid until the plan places another VM.
   */
  judge(vm: string): (host: string) => RuleVerdict {
    return this.scope(vm).verdict;
  }

  /**
   * judge() with the hosts the verdict can tell apart: `only`, when strict rules allow no other
   * hosts (required hosts, a strict affinity group already placed), and `named`, the hosts the
   * VM's rules name (its own hosts, where its groups' members are). Every host outside both gets
   * one and the same verdict, so a planner needs to look at those named hosts and at the best of
   * the rest only.
   */
  scope(vm: string): { verdict: (host: string) => RuleVerdict; only: ReadonlySet<string> | null; named: ReadonlySet<string> } {
    if (this.index.free(vm)) return { verdict: () => OK, only: null, named: new Set() };
    const own = this.index.rules.vms.get(vm);
    const groups = (this.index.groupsOf.get(vm) ?? []).map((g) => ({ group: this.index.rules.groups[g]!, at: this.hostsOf(g, vm) }));
    const named = new Set<string>(own?.hosts ?? []);
    let only: Set<string> | null = own?.hosts && own.hostsRequired !== false ? new Set(own.hosts) : null;
    for (const { group, at } of groups) {
      for (const h of at.keys()) named.add(h);
      if (group.kind === 'affinity' && group.strict && at.size > 0) only = only ? new Set([...only].filter((h) => at.has(h))) : new Set(at.keys());
    }
    const hostsText = own?.hosts?.join(', ') ?? '';
    const verdict = (host: string): RuleVerdict => {
      let soft = 0;
      if (own?.hosts && !own.hosts.includes(host)) {
        if (own.hostsRequired !== false) return { blocked: { cause: 'hosts', text: `${host} not in its hosts (${hostsText})` }, softViolations: 0 };
        soft += 1;
      }
      for (const { group, at } of groups) {
        if (group.kind === 'anti-affinity') {
          const there = at.get(host);
          if (!there) continue;
          if (group.strict) return { blocked: { cause: 'anti-affinity', text: `anti-affinity with ${there.join(', ')} on ${host}` }, softViolations: 0 };
          soft += there.length;
        } else {
          if (at.size === 0 || at.has(host)) continue;
          if (group.strict) {
            const [h, ms] = at.entries().next().value as [string, string[]];
            return { blocked: { cause: 'affinity', text: `affinity with ${ms[0]} on ${h}` }, softViolations: 0 };
          }
          soft += 1;
        }
      }
      return soft === 0 ? OK : { blocked: null, softViolations: soft };
    };
    return { verdict, only, named };
  }

  verdict(vm: string, host: string): RuleVerdict {
    return this.judge(vm)(host);
  }
}

/** Rules from the config's groups and the VMs' own `hosts`. */
export function placementRules(groups: readonly RuleGroup[], vms: readonly { name: string; hosts?: readonly string[] | undefined; hostsRequired?: boolean | undefined }[]): PlacementRules {
  const own = new Map<string, VmPlacementRules>();
  for (const v of vms) if (v.hosts) own.set(v.name, { hosts: v.hosts, hostsRequired: v.hostsRequired ?? true });
  return { groups, vms: own };
}
