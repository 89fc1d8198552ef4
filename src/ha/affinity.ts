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

  constructor(rules: PlacementRules, where: ReadonlyMap<string, string | null>) {
    this.rules = rules;
    this.base = rules.groups.map(() => new Map());
    rules.groups.forEach((g, i) => {
      for (const vm of g.vms) {
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
  private readonly added: Map<string, string[]>[];
  constructor(private readonly index: RuleIndex, private readonly moving: ReadonlySet<string>) {
    this.added = index.rules.groups.map(() => new Map());
  }

  /** Records that the plan put `vm` on `host`. */
  place(vm: string, host: string): void {
    for (const g of this.index.groupsOf.get(vm) ?? []) {
      const m = this.added[g]!;
      const at = m.get(host);
      if (at) at.push(vm);
      else m.set(host, [vm]);
    }
  }

  /** Members of group g (other than vm) that count as being on host. */
  private membersOn(g: number, host: string, vm: string): string[] {
    const out: string[] = [];
    for (const m of this.index.base[g]!.get(host) ?? []) if (m !== vm && !this.moving.has(m)) out.push(m);
    for (const m of this.added[g]!.get(host) ?? []) if (m !== vm) out.push(m);
    return out;
  }

  /** Hosts where members of group g (other than vm) are; with one member per host, for the reason. */
  private hostsOf(g: number, vm: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const src of [this.index.base[g]!, this.added[g]!]) {
      for (const [host, ms] of src) {
        const m = ms.find((x) => x !== vm && (src === this.added[g] || !this.moving.has(x)));
        if (m !== undefined && !out.has(host)) out.set(host, m);
      }
    }
    return out;
  }

  verdict(vm: string, host: string): RuleVerdict {
    if (this.index.free(vm)) return OK;
    let soft = 0;
    const own = this.index.rules.vms.get(vm);
    if (own?.hosts && !own.hosts.includes(host)) {
      if (own.hostsRequired !== false) return { blocked: { cause: 'hosts', text: `${host} not in its hosts (${own.hosts.join(', ')})` }, softViolations: 0 };
      soft += 1;
    }
    for (const g of this.index.groupsOf.get(vm) ?? []) {
      const group = this.index.rules.groups[g]!;
      if (group.kind === 'anti-affinity') {
        const there = this.membersOn(g, host, vm);
        if (there.length === 0) continue;
        if (group.strict) return { blocked: { cause: 'anti-affinity', text: `anti-affinity with ${there.join(', ')} on ${host}` }, softViolations: 0 };
        soft += there.length;
      } else {
        const where = this.hostsOf(g, vm);
        if (where.size === 0 || where.has(host)) continue;
        if (group.strict) {
          const [h, m] = where.entries().next().value as [string, string];
          return { blocked: { cause: 'affinity', text: `affinity with ${m} on ${h}` }, softViolations: 0 };
        }
        soft += 1;
      }
    }
    return { blocked: null, softViolations: soft };
  }
}

/** Rules from the config's groups and the VMs' own `hosts`. */
export function placementRules(groups: readonly RuleGroup[], vms: readonly { name: string; hosts?: readonly string[] | undefined; hostsRequired?: boolean | undefined }[]): PlacementRules {
  const own = new Map<string, VmPlacementRules>();
  for (const v of vms) if (v.hosts) own.set(v.name, { hosts: v.hosts, hostsRequired: v.hostsRequired ?? true });
  return { groups, vms: own };
}
