/** How the API and the dashboard show inventory objects: one shape for both. */
import type { Host } from '../inventory/inventory.js';
import type { BootEntry } from '../domain/boot-entry.js';
import type { StuckBoot } from '../boot/loader-watch.js';
import type { AppDeps } from './deps.js';

/**
 * A host as the API shows it: inventory fields plus its boot entry (never the token), and
 * `stuck` when its boot stopped after its loader (boot/loader-watch.ts).
 */
export function hostView(h: Host, entry: BootEntry | undefined, stuck: StuckBoot | null = null) {
  return {
    name: h.name,
    mac: h.mac,
    ip: h.ip,
    profile: h.profile,
    role: h.role ?? null,
    hypervisor: h.hypervisor ?? null,
    reinstall: h.reinstall,
    boot: entry ? { mode: entry.mode, profile: entry.profile, since: new Date(entry.since).toISOString(), lastInstall: entry.result ?? null } : null,
    stuck: stuck ? { loader: stuck.loader, via: stuck.via, since: new Date(stuck.since).toISOString(), fetches: stuck.fetches, detail: stuck.detail } : null,
  };
}

export type HostView = ReturnType<typeof hostView>;

/** A host as the running server shows it: its current boot entry and whether its boot is stuck now. */
export function currentHostView(deps: Pick<AppDeps, 'bootTable' | 'loaders' | 'clock'>, h: Host, entry = deps.bootTable.get(h.mac)): HostView {
  return hostView(h, entry, deps.loaders?.of(h.mac, deps.clock.now()) ?? null);
}
