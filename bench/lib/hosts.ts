/**
 * Synthetic inventories for the benchmarks: host i has a stable name, MAC and address in
 * 10.77.0.0/16 (10.77.1.10 upwards, 200 per /24, so 10,000 hosts end in 10.77.50.x), and its
 * HINFO set explicitly so that the reference servers can be given the very same records.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { LAB_YAML } from '../../test/lib/serve.js';

export interface BenchHost {
  name: string;
  mac: string;
  ip: string;
  profile: string;
  role: string;
  hinfo: { cpu: string; os: string };
  boot?: 'install' | 'local';
}

const hex = (n: number) => n.toString(16).padStart(2, '0');

export function hostAt(i: number, opts: { boot?: 'install' | 'local' } = {}): BenchHost {
  const profile = i % 2 ? 'rocky9' : 'debian12';
  const role = i % 3 ? 'services' : 'middleware';
  return {
    name: `h${String(i).padStart(5, '0')}`,
    mac: `52:54:01:${hex(i >> 16)}:${hex((i >> 8) & 255)}:${hex(i & 255)}`,
    ip: `10.77.${1 + Math.floor(i / 200)}.${10 + (i % 200)}`,
    profile,
    role,
    hinfo: { cpu: role, os: profile },
    ...(opts.boot ? { boot: opts.boot } : {}),
  };
}

export function benchHosts(n: number, opts: { boot?: 'install' | 'local' } = {}): BenchHost[] {
  return Array.from({ length: n }, (_, i) => hostAt(i, opts));
}

/** The lab example's profiles (debian12 preseed, rocky9 kickstart), for synthetic configs. */
export function labProfiles(): unknown {
  return (parse(readFileSync(LAB_YAML, 'utf8')) as { profiles: unknown }).profiles;
}

/** `52:54:01:00:00:0a` -> `52-54-01-00-00-0a` (pxelinux.cfg and /ks/ spelling). */
export const dashed = (mac: string) => mac.toLowerCase().replace(/:/g, '-');
