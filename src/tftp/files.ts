/**
 * Files under the boot root (paths.boot), as TFTP serves them: request names checked so that no
 * path ever resolves outside the root, and contents cached in memory (LRU within servers.tftp
 * .cacheMb) so that a boot storm of hundreds of hosts fetching pxelinux.0, ldlinux.c32, a kernel
 * and an initrd reads each from disk once.
 *
 * Request names (decisions, documented in one place):
 * - One leading `/` is stripped, as tftpd-hpa `-s` does (it chroots): GRUB and some UEFI
 *   firmware send `/grub/...` or `/pxelinux.0`. So `/etc/passwd` means `<root>/etc/passwd`,
 *   which is "not found" unless the operator put such a file in the root. A second leading `/`
 *   (`//etc/passwd`) is refused.
 * - `..` as a path component is refused anywhere (even `a/../b`, which would stay inside).
 * - A backslash is refused: 3rc serves Linux loaders, which never send one; it is a Windows-style
 *   path (WDS) we do not serve, or a `..\` traversal attempt.
 * - NUL and other control characters are refused (they cannot come from a real loader).
 * - Empty components (`a//b`, a trailing `/`) are refused; `.` components are dropped.
 * - The final path is resolved with realpath: a symlink inside the root is followed only while
 *   its target is inside the root too.
 * - A request for a file already in the cache is not resolved again: one stat of its path
 *   (following symlinks) must find the very file resolved before (same device, inode, size,
 *   mtime and ctime). A symlink or directory changed to lead elsewhere reaches another inode, a
 *   rewritten file has another size, mtime or ctime: either takes the full path again (realpath
 *   inside the root, stat, read). A boot storm's RRQs for pxelinux.0 cost one stat each.
 * Refusals are TFTP error 2 (access violation); a missing file is error 1.
 */
import { promises as fsp, statSync, type Stats } from 'node:fs';
import { join, sep } from 'node:path';
import { TftpErrorCode } from './packet.js';

export type Refusal = { ok: false; code: typeof TftpErrorCode.FILE_NOT_FOUND | typeof TftpErrorCode.ACCESS_VIOLATION; reason: string };

/** Longest request name accepted; PXE ROMs limit the name to 128 bytes anyway. */
const MAX_NAME = 1024;

/**
 * Request names remembered with the real path they resolved to (for the cached-file fast path).
 * Names are few (the files of the root), but a symlink to a directory makes endless spellings of
 * one file (`self/self/.../pxelinux.0`): beyond this many the oldest is forgotten.
 */
const MAX_RESOLVED = 4096;

/** Checks a request name (pure); returns the clean relative path or a refusal. */
export function checkRequestPath(name: string): { ok: true; rel: string } | Refusal {
  const deny = (reason: string): Refusal => ({ ok: false, code: TftpErrorCode.ACCESS_VIOLATION, reason });
  if (name.length === 0) return deny('empty-name');
  if (name.length > MAX_NAME) return deny('name-too-long');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name)) return deny('control-character');
  if (name.includes('\\')) return deny('backslash');
  const rest = name.startsWith('/') ? name.slice(1) : name;
  if (rest.startsWith('/')) return deny('absolute-path');
  const parts: string[] = [];
  for (const part of rest.split('/')) {
    if (part === '..') return deny('dot-dot');
    if (part === '') return deny('empty-component');
    if (part !== '.') parts.push(part);
  }
  if (parts.length === 0) return deny('empty-name');
  return { ok: true, rel: parts.join('/') };
}

/** A file ready to send. */
export interface BootFile {
  /** Path relative to the root, as requested (after the checks). */
  rel: string;
  data: Buffer;
  /** Served from the cache (no disk read). */
  cached: boolean;
}

interface CacheEntry {
  data: Buffer;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  dev: number;
}

/** The file a stat found is the one this entry holds (a changed file differs in one of them). */
function sameFile(st: Stats, e: CacheEntry): boolean {
  return st.ino === e.ino && st.dev === e.dev && st.size === e.size && st.mtimeMs === e.mtimeMs && st.ctimeMs === e.ctimeMs;
}

export interface CacheStats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
  /** Hits served after one stat, without resolving the name again (part of hits). */
  statOnly: number;
}

/** The boot root with its content cache. */
export class BootFiles {
  private realRoot: string | undefined;
  private readonly cache = new Map<string, CacheEntry>();
  /** Request name (checked) -> the real path it resolved to inside the root, for cached files. */
  private readonly resolved = new Map<string, string>();
  private readonly reading = new Map<string, Promise<Buffer>>();
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private statOnly = 0;

  /** cacheBytes 0 disables the cache. */
  constructor(
    readonly root: string,
    private readonly cacheBytes: number,
  ) {}

  stats(): CacheStats {
    return { entries: this.cache.size, bytes: this.bytes, hits: this.hits, misses: this.misses, statOnly: this.statOnly };
  }

  /** Opens a request name: checks, resolves inside the root, reads (or hits the cache). */
  async open(name: string): Promise<BootFile | Refusal> {
    const checked = checkRequestPath(name);
    if (!checked.ok) return checked;
    return this.openRel(checked.rel);
  }

  private async root_(): Promise<string | undefined> {
    if (this.realRoot) return this.realRoot;
    try {
      this.realRoot = await fsp.realpath(this.root);
    } catch {
      return undefined; // not there (yet): everything is "not found"
    }
    return this.realRoot;
  }

  /** Opens a path already checked by {@link checkRequestPath}. */
  async openRel(rel: string): Promise<BootFile | Refusal> {
    const root = await this.root_();
    if (!root) return { ok: false, code: TftpErrorCode.FILE_NOT_FOUND, reason: 'no-boot-root' };
    const known = this.revalidated(root, rel);
    if (known) return known;
    let real: string;
    let st: Stats;
    try {
      real = await fsp.realpath(join(root, rel));
      if (real !== root && !real.startsWith(root + sep)) return { ok: false, code: TftpErrorCode.ACCESS_VIOLATION, reason: 'outside-root' };
      st = await fsp.stat(real);
    } catch (err) {
      return fsError(err);
    }
    if (!st.isFile()) return { ok: false, code: TftpErrorCode.ACCESS_VIOLATION, reason: 'not-a-file' };
    this.remember(rel, real);
    const hit = this.cache.get(real);
    if (hit && sameFile(st, hit)) return this.hit(rel, real, hit);
    if (hit) this.evict(real);
    this.misses++;
    // A boot storm asks for the same file many times at once: read it once.
    const key = `${real}\0${st.dev}\0${st.ino}\0${st.size}\0${st.mtimeMs}\0${st.ctimeMs}`;
    let pending = this.reading.get(key);
    if (!pending) {
      // A file the cache will keep is read straight into shared memory (the TFTP workers read
      // it without a copy per transfer); one it will not keep, as it is.
      const read = st.size <= this.cacheBytes ? readShared(real, st.size) : fsp.readFile(real);
      pending = read.finally(() => this.reading.delete(key));
      this.reading.set(key, pending);
      pending.then((data) => this.insert(real, { data, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, dev: st.dev }), () => undefined);
    }
    try {
      return { rel, data: await pending, cached: false };
    } catch (err) {
      return fsError(err);
    }
  }

  /**
   * The fast path for a name resolved before whose file is cached: one stat (no realpath, no
   * thread-pool round trip) that must find the very same file; else undefined (full path).
   */
  private revalidated(root: string, rel: string): BootFile | undefined {
    const real = this.resolved.get(rel);
    if (real === undefined) return undefined;
    const hit = this.cache.get(real);
    let st: Stats | undefined;
    try {
      st = hit && statSync(join(root, rel), { throwIfNoEntry: false });
    } catch {
      st = undefined; // ENOTDIR, EACCES, ELOOP...: the full path says which
    }
    if (!hit || !st || !sameFile(st, hit)) {
      this.resolved.delete(rel);
      return undefined;
    }
    this.statOnly++;
    return this.hit(rel, real, hit);
  }

  private hit(rel: string, real: string, entry: CacheEntry): BootFile {
    this.hits++;
    // LRU: move to the most recent end.
    this.cache.delete(real);
    this.cache.set(real, entry);
    return { rel, data: entry.data, cached: true };
  }

  private remember(rel: string, real: string): void {
    this.resolved.delete(rel);
    if (this.resolved.size >= MAX_RESOLVED) this.resolved.delete(this.resolved.keys().next().value as string);
    this.resolved.set(rel, real);
  }

  private insert(real: string, entry: CacheEntry): void {
    // The file changed while it was read: do not cache a possibly torn copy.
    if (entry.data.length !== entry.size || entry.size > this.cacheBytes) return;
    if (this.cache.has(real)) this.evict(real);
    while (this.bytes + entry.size > this.cacheBytes && this.cache.size > 0) {
      this.evict(this.cache.keys().next().value as string);
    }
    this.cache.set(real, entry);
    this.bytes += entry.size;
  }

  private evict(real: string): void {
    const e = this.cache.get(real);
    if (!e) return;
    this.cache.delete(real);
    this.bytes -= e.size;
  }
}

/**
 * The file at `path`, stat'ed at `size` bytes, in a SharedArrayBuffer (postMessage shares it
 * instead of copying it). A file that is no longer `size` bytes long is read again as it is now:
 * its length then differs from the stat and insert() does not cache it.
 */
async function readShared(path: string, size: number): Promise<Buffer> {
  const fh = await fsp.open(path, 'r');
  try {
    const out = Buffer.from(new SharedArrayBuffer(size));
    let at = 0;
    while (at < size) {
      const { bytesRead } = await fh.read(out, at, size - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    const { bytesRead: more } = await fh.read(Buffer.alloc(1), 0, 1, size);
    if (at === size && more === 0) return out;
  } finally {
    await fh.close();
  }
  return fsp.readFile(path);
}

function fsError(err: unknown): Refusal {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, code: TftpErrorCode.FILE_NOT_FOUND, reason: 'not-found' };
  if (code === 'ELOOP') return { ok: false, code: TftpErrorCode.ACCESS_VIOLATION, reason: 'symlink-loop' };
  return { ok: false, code: TftpErrorCode.ACCESS_VIOLATION, reason: code === 'EACCES' || code === 'EPERM' ? 'permission-denied' : `io-error:${code ?? 'unknown'}` };
}
