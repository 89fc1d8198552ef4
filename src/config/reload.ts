/**
 * What a config reload (SIGHUP, `3rc reload`, POST /api/v1/reload) changes. Pure: two validated
 * configs in, a plan out; main.ts applies it.
 *
 * Applied at once, in one step: `hosts`, `profiles` and `vars` (what operators change day to day:
 * a reservation, a profile's kernel arguments, a variable). Templates need no reload: they are
 * read again when their file changes (render/engine.ts), and the loader configs' templates are
 * read again by the reload. Kept as they are: leases, the boot table (flips made through the
 * API), HA state, running transfers, hosts changed through the API (they stay over the config's).
 *
 * Everything else (listen addresses, subnets, the store, HA settings, ...) is bound to sockets,
 * timers and state made at start-up: a change there is reported as needing a restart, by its
 * path, and not applied. So is a change of which hosts are VMs (the HA controller's VM list is
 * made at start-up: main.ts adds that to the plan).
 */
import type { Config } from './load.js';

/** The sections a reload applies. */
export const RELOADED = ['hosts', 'profiles', 'vars'] as const;

export interface ReloadPlan {
  /** Sections that changed and are applied: `hosts`, `profiles`, `vars`. */
  applied: string[];
  /** Changes that take effect only after a restart (not applied): `servers.dhcp`, `ha`, ... */
  needsRestart: string[];
  hosts: { added: string[]; removed: string[]; changed: string[] };
  profiles: { added: string[]; removed: string[]; changed: string[] };
}

/** Top-level sections that are not configuration (where it came from, load-time warnings). */
const NOT_CONFIG = new Set(['source', 'warnings']);
/** Sections compared one level deeper, so that the report names the server or the path. */
const BY_CHILD = new Set(['servers', 'paths', 'network']);

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function diffByName<T extends { name: string }>(before: readonly T[], after: readonly T[]): { added: string[]; removed: string[]; changed: string[] } {
  const old = new Map(before.map((x) => [x.name, x]));
  const now = new Map(after.map((x) => [x.name, x]));
  return {
    added: [...now.keys()].filter((n) => !old.has(n)).sort(),
    removed: [...old.keys()].filter((n) => !now.has(n)).sort(),
    changed: [...now.keys()].filter((n) => old.has(n) && !same(old.get(n), now.get(n))).sort(),
  };
}

export function planReload(current: Config, next: Config): ReloadPlan {
  const applied = RELOADED.filter((k) => !same(current[k], next[k]));
  const needsRestart: string[] = [];
  const keys = new Set([...Object.keys(current), ...Object.keys(next)]);
  for (const key of [...keys].sort()) {
    if (NOT_CONFIG.has(key) || (RELOADED as readonly string[]).includes(key)) continue;
    const a = (current as unknown as Record<string, unknown>)[key];
    const b = (next as unknown as Record<string, unknown>)[key];
    if (same(a, b)) continue;
    if (BY_CHILD.has(key) && a && b && typeof a === 'object' && typeof b === 'object') {
      const ra = a as Record<string, unknown>;
      const rb = b as Record<string, unknown>;
      for (const child of [...new Set([...Object.keys(ra), ...Object.keys(rb)])].sort()) if (!same(ra[child], rb[child])) needsRestart.push(`${key}.${child}`);
    } else {
      needsRestart.push(key);
    }
  }
  return { applied: [...applied], needsRestart, hosts: diffByName(current.hosts, next.hosts), profiles: diffByName(current.profiles, next.profiles) };
}

/** Applies the reloaded sections to the running config object (every reader sees them at its next read). */
export function applyReload(current: Config, next: Config): void {
  current.hosts = next.hosts;
  current.profiles = next.profiles;
  current.vars = next.vars;
}
