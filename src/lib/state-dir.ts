/**
 * The state directory (the store's, by default /var/lib/3rc) holds secrets: the SQLite store
 * with the install tokens, the API token, P2V images (whole disks, /etc/shadow included). At
 * start-up 3rc makes sure that nothing in it is open to other users: every directory 0700 or
 * tighter, every file without group or other bits (0600 for a 0644 file); anything looser is
 * chmod'ed and a warning names it. Symbolic links are not followed, sockets and devices are left
 * alone; a path that cannot be fixed (not ours) is warned about, never fatal. A directory shared
 * with everything else (/, /var/lib, /tmp, a home directory) is not walked: that is a misplaced
 * store.path, and the warning says so.
 */
import { chmodSync, lstatSync, readdirSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Logger } from './log.js';

/** What was found too open, and its mode before and after (after: null when chmod failed). */
export interface ModeFix {
  path: string;
  from: number;
  to: number | null;
}

const SHARED = ['/', '/etc', '/home', '/root', '/tmp', '/usr', '/var', '/var/lib', '/var/tmp'];

/**
 * The mode a path must have at most: the owner's bits only (no group, other, setuid, setgid,
 * sticky); a directory on the way to a public directory (see secureStateDir) keeps search (x) for
 * group and other, never read or write: others may pass through it, not list it.
 */
function tightened(mode: number, passage = false): number {
  return mode & (passage ? 0o711 : 0o700);
}

const inside = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

/**
 * Checks `dir` and everything under it; fixes (chmod) what is looser than 0700 (directories) or
 * 0600-ish (files: no group or other bits) and warns once per path. A missing directory is fine
 * (it is created 0700 by whoever needs it). Returns the fixes, for tests.
 */
export function secureStateDir(dir: string, log: Logger, opts: { public?: string[] } = {}): ModeFix[] {
  const root = resolve(dir);
  // Directories that are public by design (the boot files that TFTP and HTTP serve to anyone,
  // which a reference tftpd running as nobody may read too) are left alone when they sit inside
  // the state directory, and the directories leading to them stay passable.
  const publicDirs = (opts.public ?? []).map((p) => resolve(p)).filter((p) => inside(p, root) && p !== root);
  if ([...SHARED, resolve(homedir()), resolve(tmpdir())].includes(root)) {
    log.warn({ path: root }, 'state directory: this is a shared directory, its modes are left alone; give store.path a directory of its own (e.g. /var/lib/3rc)');
    return [];
  }
  const fixes: ModeFix[] = [];
  const visit = (path: string): void => {
    let st;
    try {
      st = lstatSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ path, err: (err as Error).message }, 'state directory: cannot check this path');
      return;
    }
    if (!st.isDirectory() && !st.isFile()) return;
    if (publicDirs.some((p) => inside(path, p))) return;
    const passage = st.isDirectory() && publicDirs.some((p) => inside(p, path));
    const mode = st.mode & 0o7777;
    if (mode !== tightened(mode, passage)) {
      const to = tightened(mode, passage);
      try {
        chmodSync(path, to);
        fixes.push({ path, from: mode, to });
        log.warn({ path, from: octal(mode), to: octal(to) }, 'state directory: this path was readable by other users; it holds secrets (install tokens, disk images): mode tightened');
      } catch (err) {
        fixes.push({ path, from: mode, to: null });
        log.warn({ path, mode: octal(mode), err: (err as Error).message }, 'state directory: this path is readable by other users and its mode cannot be changed; fix it by hand');
      }
    }
    if (!st.isDirectory()) return;
    let names: string[];
    try {
      names = readdirSync(path);
    } catch (err) {
      log.warn({ path, err: (err as Error).message }, 'state directory: cannot list this directory');
      return;
    }
    for (const name of names) visit(join(path, name));
  };
  visit(root);
  return fixes;
}

const octal = (mode: number) => `0${mode.toString(8).padStart(3, '0')}`;
