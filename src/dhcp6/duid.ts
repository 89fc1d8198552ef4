/**
 * DUIDs (RFC 8415 section 11) and the MAC a client's identity reveals: from a DUID-LLT or DUID-LL
 * of an Ethernet interface, or, when relayed, from the relay's client link-layer address option
 * (RFC 6939, option 79), else from the client's own link-local source address when it is the
 * modified EUI-64 of a MAC (as Kea's `mac-sources: ipv6-link-local`). The last one matters for
 * iPXE: its DUID is a DUID-UUID (RFC 6355, the SMBIOS UUID), which names no MAC, and it sends
 * from `fe80::` + the EUI-64 of its MAC (issue 23: UEFI HTTP Boot over IPv6 chains into iPXE).
 * None of these is proof: a client can claim any DUID and any source address on its link, as it
 * can claim any chaddr in DHCPv4. Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import { macFromBytes } from '../lib/net.js';
import { ipv6ToBytes } from '../lib/net6.js';
import { decodeLinkLayer, first, Opt6 } from './options.js';
import type { Dhcp6Relay } from './packet.js';

export const DuidType = { LLT: 1, EN: 2, LL: 3, UUID: 4 } as const;

/** IANA hardware type of Ethernet (RFC 826). */
const HW_ETHERNET = 1;

/** The MAC in a DUID-LLT or DUID-LL of an Ethernet interface, else null. */
export function macFromDuid(duid: Uint8Array): string | null {
  if (duid.length < 4) return null;
  const type = (duid[0]! << 8) | duid[1]!;
  const hw = (duid[2]! << 8) | duid[3]!;
  if (hw !== HW_ETHERNET) return null;
  if (type === DuidType.LLT && duid.length === 14) return macFromBytes(duid, 8);
  if (type === DuidType.LL && duid.length === 10) return macFromBytes(duid, 4);
  return null;
}

/** The MAC option 79 of the relay next to the client names (the innermost relay), else null. */
export function macFromRelays(relays: readonly Dhcp6Relay[]): string | null {
  const nearest = relays[relays.length - 1];
  const ll = nearest ? first(nearest.options, Opt6.CLIENT_LINKLAYER_ADDR) : undefined;
  if (!ll) return null;
  const { type, address } = decodeLinkLayer(ll);
  return type === HW_ETHERNET && address.length === 6 ? macFromBytes(address) : null;
}

/**
 * The MAC whose modified EUI-64 (RFC 4291 appendix A: `ff:fe` in the middle, the
 * universal/local bit flipped) makes the link-local address `ip` (`fe80::5054:ff:fe77:10` ->
 * `52:54:00:77:00:10`), else null (not fe80::/64, or an interface id of another kind).
 */
export function macFromLinkLocal(ip: string): string | null {
  const b = ipv6ToBytes(ip);
  if (!b || b[0] !== 0xfe || b[1] !== 0x80 || b.subarray(2, 8).some((x) => x !== 0) || b[11] !== 0xff || b[12] !== 0xfe) return null;
  return macFromBytes(Uint8Array.of(b[8]! ^ 0x02, b[9]!, b[10]!, b[13]!, b[14]!, b[15]!));
}

/**
 * The client's MAC: from its DUID when it is link-layer based, else from option 79 of the relay
 * next to it, else from the client's link-local address (`source`, the packet's source when not
 * relayed; the nearest relay's peer-address when relayed). A DUID-EN or DUID-UUID from any
 * other address, without a relay option, says nothing of the MAC.
 */
export function clientMac6(clientId: Uint8Array | undefined, relays: readonly Dhcp6Relay[], source?: string): string | null {
  const from = relays.length > 0 ? relays[relays.length - 1]!.peerAddress : source;
  return (clientId && macFromDuid(clientId)) || macFromRelays(relays) || (from ? macFromLinkLocal(from) : null);
}

/**
 * The server's DUID: a DUID-UUID (RFC 6355) derived from `seed`, so that it is the same across
 * restarts and on every instance of a redundant 3rc (a client renewing with the server identifier
 * it was given must still be answered after a fail-over).
 */
export function serverDuid(seed: string): Uint8Array {
  const out = new Uint8Array(18);
  out[1] = DuidType.UUID;
  out.set(createHash('sha256').update(`3rc-dhcp6:${seed}`).digest().subarray(0, 16), 2);
  return out;
}

/** A DUID as hex (lease client ids, logs). */
export function duidHex(duid: Uint8Array): string {
  return Buffer.from(duid).toString('hex');
}

/** Are two DUIDs the same (an absent one is no match)? */
export function sameDuid(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return !!a && a.length === b.length && a.every((x, i) => x === b[i]);
}
