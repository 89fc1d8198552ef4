/**
 * What `3rc import` reads out of another DHCP server's config, whatever the format: one model
 * that the dnsmasq, ISC dhcpd and Kea parsers (one file each, pure) fill and that map.ts turns
 * into 3rc's inventory. Every item keeps where it came from (file, line, the line's text), so
 * that whatever cannot be carried over is reported against the operator's own line, never
 * dropped silently.
 */
import { ErrorCodes, ThreeRcError } from '../lib/errors.js';

/** Where an item came from: the file, its 1-based line and that line's text (trimmed). */
export interface Source {
  file: string;
  line: number;
  text: string;
}

/** A line (or item) that is not carried over, and why. */
export interface Note {
  source: Source;
  /** Default: "has no 3rc equivalent, left out". */
  message?: string;
}

export const NO_EQUIVALENT = 'has no 3rc equivalent, left out';

/** `file:line: <the line> has no 3rc equivalent, left out` (or the note's own message). */
export function formatNote(n: Note): string {
  return `${n.source.file}:${n.source.line}: ${n.source.text} ${n.message ?? NO_EQUIVALENT}`;
}

export interface ImportedPool {
  start: string;
  end: string;
  source: Source;
}

export interface ImportedSubnet {
  /** As written (`10.77.0.0/24`), or built from address and netmask. */
  cidr: string;
  router?: string;
  nameServers?: string[];
  pools: ImportedPool[];
  /** Seconds. */
  leaseTime?: number;
  source: Source;
}

/** A reservation: a MAC (or a client id, which 3rc cannot match) and what it is given. */
export interface ImportedHost {
  name?: string;
  /** As written; map.ts normalizes it (and refuses what is not a 48-bit MAC). */
  mac?: string;
  /** A DHCP client identifier instead of a MAC: 3rc reserves by MAC only. */
  clientId?: string;
  ip?: string;
  bootFile?: string;
  nextServer?: string;
  source: Source;
}

/**
 * A boot file given to every client (arch null) or to the clients of one architecture
 * (DHCP option 93: dnsmasq's dhcp-match on client-arch, Kea's client classes, ...).
 */
export interface BootRule {
  arch: number | null;
  file: string;
  nextServer?: string;
  source: Source;
}

/** A name for an address without a MAC (dnsmasq host-record, addn-hosts). */
export interface NameRecord {
  name: string;
  ip: string;
  source: Source;
}

export interface Valued<T> {
  value: T;
  source: Source;
}

export interface ImportModel {
  domain?: Valued<string>;
  /** Server-wide options (every subnet that does not set its own). */
  router?: Valued<string>;
  nameServers?: Valued<string[]>;
  /** Seconds. */
  leaseTime?: Valued<number>;
  nextServer?: Valued<string>;
  subnets: ImportedSubnet[];
  hosts: ImportedHost[];
  bootRules: BootRule[];
  names: NameRecord[];
  /** Lines that have no 3rc equivalent (or that are wrong), in file order. */
  notes: Note[];
}

export function emptyModel(): ImportModel {
  return { subnets: [], hosts: [], bootRules: [], names: [], notes: [] };
}

/**
 * The parsers' only access to files (included ones too): the CLI passes the file system in,
 * tests a map. Both throw when the path cannot be read.
 */
export interface InputFiles {
  read(path: string): string;
  /** The names of the entries in a directory (dnsmasq conf-dir). */
  list(dir: string): string[];
}

/** An input file that cannot be read or parsed at all (exit 1). */
export class ImportError extends ThreeRcError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.IMPORT, message, options);
  }
}

/** Reads `path`, turning a failure into an ImportError naming the line that included it. */
export function readInput(fs: InputFiles, path: string, from?: Source): string {
  return attempt(() => fs.read(path), path, from);
}

/** Lists a directory, as readInput reads a file. */
export function listInput(fs: InputFiles, dir: string, from?: Source): string[] {
  return attempt(() => fs.list(dir), dir, from);
}

function attempt<T>(fn: () => T, path: string, from: Source | undefined): T {
  try {
    return fn();
  } catch (err) {
    const where = from ? `${from.file}:${from.line}: ` : '';
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new ImportError(`${where}cannot read ${path}: ${why}`, { cause: err });
  }
}

/** `255.255.255.0` -> 24, or null when it is not a contiguous netmask. */
export function prefixOfNetmask(mask: string): number | null {
  const parts = mask.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return null;
  const bits = parts.map((p) => Number(p).toString(2).padStart(8, '0')).join('');
  return /^1*0*$/.test(bits) ? bits.indexOf('0') === -1 ? 32 : bits.indexOf('0') : null;
}

/** Seconds in a dnsmasq/dhcpd lease time (`3600`, `12h`, `45m`, `2d`, `1w`), or null (`infinite`, junk). */
export function leaseSeconds(text: string): number | null {
  const m = /^(\d+)([smhdw]?)$/i.exec(text.trim());
  if (!m) return null;
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2]!.toLowerCase() as '' | 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * unit;
}

/** Several files' models as one (`3rc import dhcpd a.conf b.conf`): lists joined, the first file's settings win. */
export function combine(models: ImportModel[]): ImportModel {
  const out = emptyModel();
  for (const m of models) {
    out.domain ??= m.domain;
    out.router ??= m.router;
    out.nameServers ??= m.nameServers;
    out.leaseTime ??= m.leaseTime;
    out.nextServer ??= m.nextServer;
    out.subnets.push(...m.subnets);
    out.hosts.push(...m.hosts);
    out.bootRules.push(...m.bootRules);
    out.names.push(...m.names);
    out.notes.push(...m.notes);
  }
  return out;
}

/** The `note(source, message?)` a parser adds its notes to `model` with. */
export function noter(model: ImportModel): (source: Source, message?: string) => void {
  return (source, message) => void model.notes.push(message ? { source, message } : { source });
}
