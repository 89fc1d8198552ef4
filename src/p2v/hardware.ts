/**
 * P2V hardware report: what the busybox capture environment says about the physical host
 * (CPUs, memory, firmware, NICs, disks), parsed and checked, and the VM shape derived from it.
 * Pure: text in, a report or a list of problems out.
 *
 * The report is line-oriented (`KEY VALUE...`) because the capture side is a busybox shell
 * script reading /proc and /sys: no JSON encoder there. Unknown keys are ignored so that a
 * newer capture script can report more than this server reads.
 */
import { normalizeMac } from '../lib/net.js';

/** Largest report accepted, in bytes: a real one is a few hundred. */
export const MAX_REPORT_BYTES = 64 * 1024;
const MAX_NICS = 32;
const MAX_DISKS = 16;
const MAX_CPUS = 1024;

export interface HardwareReport {
  cpus: number;
  /** MemTotal from /proc/meminfo: installed RAM less what firmware and kernel keep. */
  memoryKb: number;
  firmware: 'bios' | 'uefi';
  /** MACs in canonical form (lower case, colon separated). */
  nics: { name: string; mac: string }[];
  /** In report order, which is the order the VM gets them (vda, vdb, ...). */
  disks: { name: string; bytes: number }[];
}

/** Kernel block device names as the capture script reports them (sda, vda, nvme0n1, ...). */
const DISK_NAME_RE = /^[a-z][a-z0-9]{1,31}$/;
const UINT_RE = /^[0-9]+$/;

/** A decimal integer that is exact as a JS number, or null. */
function uint(s: string | undefined): number | null {
  if (s === undefined || !UINT_RE.test(s)) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * Parses and checks a hardware report. Problems name the line (`line 4: ...`) or, for something
 * missing, the key; every problem found is listed, not only the first.
 */
export function parseHardwareReport(text: string): { report: HardwareReport } | { problems: string[] } {
  if (Buffer.byteLength(text, 'utf8') > MAX_REPORT_BYTES) return { problems: [`report larger than ${MAX_REPORT_BYTES} bytes`] };
  const problems: string[] = [];
  let cpus: number | null = null;
  let memoryKb: number | null = null;
  let firmware: 'bios' | 'uefi' | null = null;
  const nics: HardwareReport['nics'] = [];
  const disks: HardwareReport['disks'] = [];
  const seen = new Map<string, number>(); // single-valued key -> line it was first given on
  let diskLines = 0;

  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const at = `line ${i + 1}`;
    const words = lines[i]!.trim().split(/\s+/);
    const key = words[0]!;
    if (key === '') continue;
    const args = words.slice(1);
    const arity = (n: number, form: string): boolean => {
      if (args.length === n) return true;
      problems.push(`${at}: ${key}: expected \`${form}\``);
      return false;
    };
    const once = (): boolean => {
      const first = seen.get(key);
      if (first === undefined) return seen.set(key, i + 1), true;
      problems.push(`${at}: ${key}: given again (first on line ${first})`);
      return false;
    };
    switch (key) {
      case 'cpus': {
        if (!arity(1, 'cpus N') || !once()) break;
        const n = uint(args[0]);
        if (n === null || n < 1 || n > MAX_CPUS) problems.push(`${at}: cpus: expected an integer 1..${MAX_CPUS}, got "${args[0]}"`);
        else cpus = n;
        break;
      }
      case 'memory_kb': {
        if (!arity(1, 'memory_kb N') || !once()) break;
        const n = uint(args[0]);
        if (n === null || n < 1) problems.push(`${at}: memory_kb: expected a positive integer, got "${args[0]}"`);
        else memoryKb = n;
        break;
      }
      case 'firmware': {
        if (!arity(1, 'firmware bios|uefi') || !once()) break;
        if (args[0] === 'bios' || args[0] === 'uefi') firmware = args[0];
        else problems.push(`${at}: firmware: expected bios or uefi, got "${args[0]}"`);
        break;
      }
      case 'nic': {
        if (!arity(2, 'nic NAME MAC')) break;
        const [name, raw] = args as [string, string];
        const mac = normalizeMac(raw);
        if (mac === null) problems.push(`${at}: nic ${name}: "${raw}" is not a MAC address`);
        else if (nics.some((n) => n.name === name)) problems.push(`${at}: nic ${name}: given twice`);
        else if (nics.length >= MAX_NICS) problems.push(`${at}: nic ${name}: more than ${MAX_NICS} NICs`);
        else nics.push({ name, mac });
        break;
      }
      case 'disk': {
        diskLines++;
        if (!arity(2, 'disk NAME BYTES')) break;
        const [name, raw] = args as [string, string];
        const bytes = uint(raw);
        if (!DISK_NAME_RE.test(name)) problems.push(`${at}: disk: "${name}" is not a block device name (${DISK_NAME_RE.source})`);
        else if (bytes === null || bytes === 0 || bytes % 512 !== 0) problems.push(`${at}: disk ${name}: size must be a positive multiple of 512 bytes, got "${raw}"`);
        else if (disks.some((d) => d.name === name)) problems.push(`${at}: disk ${name}: given twice`);
        else if (disks.length >= MAX_DISKS) problems.push(`${at}: disk ${name}: more than ${MAX_DISKS} disks`);
        else disks.push({ name, bytes });
        break;
      }
      default:
        break; // a newer capture script's key
    }
  }
  // Report missing keys only when the line is absent; a present but bad line is already listed.
  if (!seen.has('cpus')) problems.push('cpus: missing (expected a line `cpus N`)');
  if (!seen.has('memory_kb')) problems.push('memory_kb: missing (expected a line `memory_kb N`)');
  if (!seen.has('firmware')) problems.push('firmware: missing (expected a line `firmware bios|uefi`)');
  if (diskLines === 0) problems.push('disk: no disks reported (expected 1..16 lines `disk NAME BYTES`)');
  if (problems.length > 0 || cpus === null || memoryKb === null || firmware === null || disks.length === 0) {
    return { problems: problems.length > 0 ? problems : ['report incomplete'] };
  }
  return { report: { cpus, memoryKb, firmware, nics, disks } };
}

const MIB_STEP = 256;

/**
 * The VM to build for a report: as many vCPUs, and MemTotal rounded up to a step of 1/16 of
 * its power of two (at least 256 MiB). MemTotal is a little below installed RAM (firmware, the
 * kernel and crash-kernel reservations keep some: 1-3 %), so rounding up gives back the installed
 * size: 1014236 kB -> 1024 MiB, 16.3 million kB (a 16 GiB host) -> 16384 MiB, not 16128.
 */
export function vmShape(report: HardwareReport): { cpus: number; memoryMb: number } {
  const mib = Math.max(1, report.memoryKb / 1024);
  const step = Math.max(MIB_STEP, 2 ** (Math.floor(Math.log2(mib)) - 4));
  return { cpus: report.cpus, memoryMb: Math.max(MIB_STEP, Math.ceil(mib / step) * step) };
}
