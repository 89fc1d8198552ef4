/** The boot entry, a domain type: the BootTable (inventory/) holds it, protocol servers read it, the store keeps it. */

export type BootMode = 'local' | 'install';

/** What a MAC boots: the local disk, or an install of a profile with a per-install token. */
export interface BootEntry {
  mac: string;
  mode: BootMode;
  profile: string;
  /** Single-use token of the current install; null in local mode. */
  token: string | null;
  /** When this entry was set (ms since the epoch). */
  since: number;
  /** How the last install ended, once it has: done, failed (installer said so), expired (never called back). */
  result?: InstallResult | null;
}

export type InstallResult = 'done' | 'failed' | 'expired';
