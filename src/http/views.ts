/** How the API and the dashboard show inventory objects: one shape for both. */
import type { Host } from '../inventory/inventory.js';
import type { BootEntry } from '../domain/boot-entry.js';

/** A host as the API shows it: inventory fields plus its boot entry (never the token). */
export function hostView(h: Host, entry: BootEntry | undefined) {
  return {
    name: h.name,
    mac: h.mac,
    ip: h.ip,
    profile: h.profile,
    role: h.role ?? null,
    hypervisor: h.hypervisor ?? null,
    reinstall: h.reinstall,
    boot: entry ? { mode: entry.mode, profile: entry.profile, since: new Date(entry.since).toISOString(), lastInstall: entry.result ?? null } : null,
  };
}

export type HostView = ReturnType<typeof hostView>;
