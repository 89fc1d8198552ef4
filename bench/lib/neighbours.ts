/**
 * Room in the kernel's IPv4 neighbour (ARP) table for a storm of N clients. The limits
 * (net.ipv4.neigh.default.gc_thresh1/2/3; 128/512/1024 by default) are global, not per namespace,
 * and past gc_thresh3 the kernel drops the first datagram to every new address ("neighbour table
 * overflow" in dmesg): with 2,000 clients about half of the TFTP first blocks never leave, for
 * any server. A data-center segment with that many hosts needs the same setting. Raised for the
 * run only, restored by the returned function (also on Ctrl-C).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { onCleanup } from './cleanup.js';

const path = (n: 1 | 2 | 3) => `/proc/sys/net/ipv4/neigh/default/gc_thresh${n}`;
const read = (n: 1 | 2 | 3) => Number(readFileSync(path(n), 'utf8').trim());

/** Makes room for `clients` neighbours (4x, so that garbage collection never starts mid-storm). */
export function neighbourRoom(clients: number, log: (line: string) => void): () => Promise<void> {
  const before = [read(1), read(2), read(3)] as const;
  const want = [clients, clients * 2, clients * 4] as const;
  if (before[2] >= want[2]) return async () => {};
  const set = (v: readonly [number, number, number]) => {
    // Raise the top first and lower it last, so that thresh1 <= thresh2 <= thresh3 throughout.
    for (const n of [3, 2, 1] as const) if (v[n - 1] > read(n)) writeFileSync(path(n), String(v[n - 1]));
    for (const n of [1, 2, 3] as const) if (v[n - 1] < read(n)) writeFileSync(path(n), String(v[n - 1]));
  };
  set([Math.max(before[0], want[0]), Math.max(before[1], want[1]), want[2]]);
  log(`bench: the kernel's neighbour table limits (gc_thresh1/2/3) raised from ${before.join('/')} to ${[read(1), read(2), read(3)].join('/')} for ${clients} clients; restored after`);
  return onCleanup(() => set(before));
}
