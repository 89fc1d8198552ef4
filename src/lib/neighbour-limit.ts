/**
 * The kernel's IPv4 neighbour (ARP) table against the inventory. Its hard limit
 * (net.ipv4.neigh.default.gc_thresh3, 1,024 by default) is global to the host; past it the kernel
 * drops the first datagram to every further address ("neighbor table overflow" in dmesg). A boot
 * storm of more reserved hosts than that loses the first TFTP block or DHCP reply of the rest (the
 * 2,000-client bench storm lost about half of its clients to it, with 3rc and dnsmasq alike).
 * 3rc cannot raise it itself in every setup (containers, read-only /proc), so it says so at start-up.
 */
import { readFileSync } from 'node:fs';

export const GC_THRESH3 = '/proc/sys/net/ipv4/neigh/default/gc_thresh3';

/** A warning when `hosts` reserved IPv4 hosts do not fit in a neighbour table of `limit` entries. Pure. */
export function neighbourTableWarning(hosts: number, limit: number | undefined): string | undefined {
  if (limit === undefined || !Number.isFinite(limit) || hosts <= limit) return undefined;
  const want = 2 ** Math.ceil(Math.log2(hosts * 2));
  return `the kernel's neighbour (ARP) table holds at most ${limit} addresses (net.ipv4.neigh.default.gc_thresh3) and the inventory has ${hosts} hosts: when more than ${limit} of them boot at once, the kernel drops the first reply to the others (dmesg: "neighbor table overflow"). Raise it, e.g. sysctl -w net.ipv4.neigh.default.gc_thresh1=${want / 4} net.ipv4.neigh.default.gc_thresh2=${want / 2} net.ipv4.neigh.default.gc_thresh3=${want} (and in /etc/sysctl.d/ to keep it)`;
}

/** gc_thresh3 as the kernel has it, or undefined when it cannot be read (not Linux, no /proc). */
export function readNeighbourLimit(file = GC_THRESH3): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
