/**
 * IPv6 in the namespaces of a {@link Lab}: on the ULA prefix fd77::/48 only (the lab's IPv6
 * addresses, as 10.77.0.0/16 for IPv4).
 */
import type { Lab } from './netns.js';

/** A namespace whose new interfaces have IPv6 on and skip duplicate address detection (no 1-2 s wait). */
export function netns6(lab: Lab, name: string): string {
  const ns = lab.netns(name);
  for (const key of ['all.disable_ipv6=0', 'default.disable_ipv6=0', 'all.accept_dad=0', 'default.accept_dad=0']) lab.exec(ns, 'sysctl', ['-qw', `net.ipv6.conf.${key}`]);
  return ns;
}

/**
 * Adds an address in fd77::/48 to an interface. `deprecated`: preferred lifetime 0, so that the
 * kernel never picks it as a source by itself (RFC 6724 rule 3), only a client that binds it.
 */
export function addr6(lab: Lab, ns: string, ifname: string, cidr: string, opts: { deprecated?: boolean } = {}): void {
  if (!cidr.startsWith('fd77:')) throw new Error(`lab IPv6 addresses must be in fd77::/48, got ${cidr}`);
  lab.exec(ns, 'ip', ['-6', 'addr', 'add', cidr, 'dev', ifname, 'nodad', ...(opts.deprecated ? ['preferred_lft', '0'] : [])]);
}

/**
 * Waits until the kernel gave `ifname` its link-local address (it does so when the link comes up,
 * asynchronously): a DHCPv6 client started before that fails ("no address for interface").
 */
export async function linkLocalReady(lab: Lab, ns: string, ifname: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = lab.exec(ns, 'ip', ['-6', '-o', 'addr', 'show', 'dev', ifname, 'scope', 'link']);
    const m = /inet6 (fe80::[0-9a-f:]+)\/64/.exec(out);
    if (m && !/tentative/.test(out)) return m[1]!;
    if (Date.now() > deadline) throw new Error(`${ifname} in ${ns} has no usable link-local address after ${timeoutMs} ms: ${out.trim() || '(none)'}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
