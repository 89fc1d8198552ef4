/**
 * Addresses of the fuzz network and the sources packets claim to come from. The server namespace
 * holds 10.77.0.1/24 (3rc) and routes the rest of 10.77.0.0/16 to the client namespace
 * (10.77.0.2, plus the reserved addresses of vm10 and vm14, so that "from the host's own address"
 * paths are reached). Sources the kernel would drop as martians when they arrive over a link
 * (0.0.0.0/8, broadcast, multicast, 3rc's own address) are sent from inside the server's namespace
 * instead, where loopback delivers them to the sockets as they are.
 */
import type { Rng } from './random.js';

export const SERVER = '10.77.0.1';
export const CLIENT = '10.77.0.2';
/** Addresses of the client namespace that TCP and real UDP sockets bind to. */
export const CLIENT_ADDRS = [CLIENT, '10.77.0.10', '10.77.0.14'] as const;

export interface Source {
  address: string;
  port: number;
}

/** A source the kernel would not deliver over a link: sent through the server namespace's loopback. */
export function isMartian(address: string): boolean {
  const [a, b, c, d] = address.split('.').map(Number) as [number, number, number, number];
  return a === 0 || a === 127 || a >= 224 || address === SERVER || (a === 10 && b === 77 && c === 0 && d === 255);
}

const SPECIAL = ['0.0.0.0', '255.255.255.255', '10.77.0.255', '10.77.255.255', '224.0.0.1', '239.255.255.250', SERVER, '10.77.0.10', '10.77.0.0'];

/**
 * A random source: mostly any address in 10.77.0.0/16 and any port, some port 0, some special
 * addresses (broadcast, multicast, unspecified, 3rc's own address) with ports that matter
 * (`ports`: the protocol's own, 0, 68, 53...).
 */
export function randomSource(rng: Rng, ports: readonly number[]): Source {
  const r = rng.next();
  const port = () => (rng.chance(0.3) ? rng.pick(ports) : rng.range(1, 65535));
  if (r < 0.75) return { address: `10.77.${rng.int(256)}.${rng.range(1, 254)}`, port: port() };
  if (r < 0.85) return { address: `10.77.${rng.int(256)}.${rng.range(1, 254)}`, port: 0 };
  return { address: rng.pick(SPECIAL), port: rng.chance(0.3) ? 0 : port() };
}

export function ipBytes(address: string): Buffer {
  return Buffer.from(address.split('.').map(Number));
}

/** MAC as 6 bytes. */
export function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(/[:-]/).map((h) => parseInt(h, 16)));
}

/** MACs of the lab's hosts the fuzzers may use; never the liveness check's MAC. */
export const FUZZ_MACS = ['52:54:00:77:00:10', '52:54:00:77:00:11', '52:54:00:77:00:12', '52:54:00:77:00:14', '52:54:00:77:00:f1'];
/** The host only the real DHCP client of the liveness check uses (udhcpc in the client namespace). */
export const CHECK_HOST = { name: 'fzcheck', mac: '52:54:00:77:00:c1', ip: '10.77.0.193' };
/** The host fuzzed API calls with the valid token may change (never the check host or vm10). */
export const FUZZ_HOST = { name: 'fz1', mac: '52:54:00:77:00:f1', ip: '10.77.0.241' };

/** What a generator asks the packet executor to do. */
export type Job =
  | { type: 'udp'; src: Source; dport: number; payload: Buffer; dst?: string }
  | { type: 'tcp'; bind: string; dport: number; payload: Buffer; halfClose: boolean; split: boolean; waitMs: number; messages: number };
