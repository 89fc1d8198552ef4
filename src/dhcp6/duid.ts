/**
 * DUIDs (RFC 8415 section 11) and the MAC a client's identity reveals: from a DUID-LLT or DUID-LL
 * of an Ethernet interface, or, when relayed, from the relay's client link-layer address option
 * (RFC 6939, option 79). Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import { macFromBytes } from '../lib/net.js';
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
 * The client's MAC: from its DUID when it is link-layer based, else from option 79 of the relay
 * next to it. A DUID-EN or DUID-UUID without a relay option says nothing of the MAC.
 */
export function clientMac6(clientId: Uint8Array | undefined, relays: readonly Dhcp6Relay[]): string | null {
  return (clientId && macFromDuid(clientId)) || macFromRelays(relays);
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
