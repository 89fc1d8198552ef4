/**
 * DHCPv6 messages (RFC 8415 sections 8 and 9): decode(bytes) and encode(message). Pure: no I/O,
 * no clock. decode raises only Dhcp6CodecError, whatever the input, and checks every option it
 * knows (options.ts checkOption), so that handlers read options without try/catch.
 *
 * ```
 * client/server:  msg-type (1) | transaction-id (3) | options
 * relay:          msg-type (1) | hop-count (1) | link-address (16) | peer-address (16) | options
 * ```
 * A relay message carries the message it relays in option 9 (RELAY_MSG), itself possibly a relay
 * message (one level per relay agent on the way): decoded here down to the client's message.
 */
import { Dhcp6CodecError, Dhcp6ErrorCodes } from './errors.js';
import { ipv6FromBytes, ipv6ToBytes } from '../lib/net6.js';
import { checkOption, Opt6, readOptions, writeOptions, type Option6 } from './options.js';

/** Message types (RFC 8415 section 7.3). */
export const Msg6 = {
  SOLICIT: 1,
  ADVERTISE: 2,
  REQUEST: 3,
  CONFIRM: 4,
  RENEW: 5,
  REBIND: 6,
  REPLY: 7,
  RELEASE: 8,
  DECLINE: 9,
  RECONFIGURE: 10,
  INFORMATION_REQUEST: 11,
  RELAY_FORW: 12,
  RELAY_REPL: 13,
} as const;

const NAMES: Record<number, string> = {
  1: 'solicit', 2: 'advertise', 3: 'request', 4: 'confirm', 5: 'renew', 6: 'rebind', 7: 'reply', 8: 'release', 9: 'decline',
  10: 'reconfigure', 11: 'information-request', 12: 'relay-forward', 13: 'relay-reply',
};

/** `solicit`, `request`, ... or `type-N` for a type RFC 8415 does not name. */
export function msgName(type: number): string {
  return NAMES[type] ?? `type-${type}`;
}

/** RFC 8415 section 7.6: HOP_COUNT_LIMIT. */
export const HOP_COUNT_LIMIT = 8;

/** A client or server message. */
export interface Dhcp6Message {
  relay: false;
  type: number;
  /** The 24-bit transaction id. */
  xid: number;
  options: Option6[];
}

/** A Relay-forward or Relay-reply message, with the message it carries decoded. */
export interface Dhcp6Relay {
  relay: true;
  type: typeof Msg6.RELAY_FORW | typeof Msg6.RELAY_REPL;
  hopCount: number;
  linkAddress: string;
  peerAddress: string;
  /** Options other than RELAY_MSG (interface-id, link-layer address, ...). */
  options: Option6[];
  message: Dhcp6Packet;
}

export type Dhcp6Packet = Dhcp6Message | Dhcp6Relay;

const RELAY_HEADER = 34;

function isRelayType(t: number): t is typeof Msg6.RELAY_FORW | typeof Msg6.RELAY_REPL {
  return t === Msg6.RELAY_FORW || t === Msg6.RELAY_REPL;
}

/** Decodes one DHCPv6 message (relay messages down to the client's). */
export function decode(bytes: Uint8Array): Dhcp6Packet {
  return decodeAt(bytes, 0);
}

function decodeAt(bytes: Uint8Array, depth: number): Dhcp6Packet {
  if (bytes.length < 4) throw new Dhcp6CodecError(Dhcp6ErrorCodes.SHORT, `message of ${bytes.length} bytes is shorter than the 4-byte header`);
  const type = bytes[0]!;
  if (!isRelayType(type)) {
    const options = readOptions(bytes, 4, bytes.length, 'options');
    for (const o of options) checkOption(o);
    return { relay: false, type, xid: (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!, options };
  }
  if (depth >= HOP_COUNT_LIMIT + 1) throw new Dhcp6CodecError(Dhcp6ErrorCodes.TOO_DEEP, `relay messages nested more than ${HOP_COUNT_LIMIT + 1} deep`);
  if (bytes.length < RELAY_HEADER) throw new Dhcp6CodecError(Dhcp6ErrorCodes.SHORT, `relay message of ${bytes.length} bytes is shorter than the ${RELAY_HEADER}-byte relay header`);
  const all = readOptions(bytes, RELAY_HEADER, bytes.length, 'relay options');
  const inner = all.filter((o) => o.code === Opt6.RELAY_MSG);
  if (inner.length !== 1) throw new Dhcp6CodecError(Dhcp6ErrorCodes.OPTION_VALUE, `relay message with ${inner.length} relay-message options (expected 1)`, { option: Opt6.RELAY_MSG });
  const options = all.filter((o) => o.code !== Opt6.RELAY_MSG);
  for (const o of options) checkOption(o);
  return {
    relay: true,
    type,
    hopCount: bytes[1]!,
    linkAddress: ipv6FromBytes(bytes, 2),
    peerAddress: ipv6FromBytes(bytes, 18),
    options,
    message: decodeAt(inner[0]!.data, depth + 1),
  };
}

/** Encodes a message (a relay message with the message it carries as its last option). */
export function encode(p: Dhcp6Packet): Uint8Array {
  if (!p.relay) {
    if (!Number.isInteger(p.type) || p.type < 0 || p.type > 255) throw new Dhcp6CodecError(Dhcp6ErrorCodes.ENCODE, `message type ${p.type} is not a byte`);
    if (!Number.isInteger(p.xid) || p.xid < 0 || p.xid > 0xffffff) throw new Dhcp6CodecError(Dhcp6ErrorCodes.ENCODE, `transaction id ${p.xid} is not 24-bit`);
    const opts = writeOptions(p.options);
    const out = new Uint8Array(4 + opts.length);
    out.set([p.type, p.xid >> 16, (p.xid >> 8) & 255, p.xid & 255]);
    out.set(opts, 4);
    return out;
  }
  if (!Number.isInteger(p.hopCount) || p.hopCount < 0 || p.hopCount > 255) throw new Dhcp6CodecError(Dhcp6ErrorCodes.ENCODE, `hop count ${p.hopCount} is not a byte`);
  const link = ipv6ToBytes(p.linkAddress);
  const peer = ipv6ToBytes(p.peerAddress);
  if (!link || !peer) throw new Dhcp6CodecError(Dhcp6ErrorCodes.ENCODE, `relay addresses ${p.linkAddress} / ${p.peerAddress} are not IPv6 addresses`);
  const opts = writeOptions([...p.options, { code: Opt6.RELAY_MSG, data: encode(p.message) }]);
  const out = new Uint8Array(RELAY_HEADER + opts.length);
  out[0] = p.type;
  out[1] = p.hopCount;
  out.set(link, 2);
  out.set(peer, 18);
  out.set(opts, RELAY_HEADER);
  return out;
}

/** The client's own message inside any relay messages, and the relays from the server inwards. */
export function unwrap(p: Dhcp6Packet): { message: Dhcp6Message; relays: Dhcp6Relay[] } {
  const relays: Dhcp6Relay[] = [];
  let cur = p;
  while (cur.relay) {
    relays.push(cur);
    cur = cur.message;
  }
  return { message: cur, relays };
}
