/**
 * Query in, outcome out: the whole DNS policy without a socket. Pure and synchronous; its time
 * is linear in the size of the message (parseQuery), so no packet can stall the event loop.
 */
import { BADVERS, buildHeaderReply, buildReply, CLASS_ANY, CLASS_IN, parseQuery, Rcode, Type, udpLimit, type Query, type Sections } from './wire.js';
import type { Zone } from './zone.js';

/** What the policy needs to know about whoever sent the query. */
export interface Client {
  transport: 'udp' | 'tcp';
  /**
   * May this client have names outside the zone resolved through the forwarders? True only when
   * forwarders are configured and the client's address is in a managed subnet: 3rc is never an
   * open resolver.
   */
  mayForward: boolean;
}

export type Outcome =
  /** Nothing is sent (no readable header, or a response instead of a query). */
  | { kind: 'drop'; reason: string }
  | { kind: 'reply'; bytes: Buffer; rcode: number; reason?: string; query?: Query }
  /** Outside the zone, for a client allowed to recurse: the server relays it upstream. */
  | { kind: 'forward'; query: Query };

const empty = Buffer.alloc(0);
const refused: Sections = { rcode: Rcode.REFUSED, aa: false, ancount: 0, nscount: 0, arcount: 0, body: empty };
const badvers: Sections = { rcode: BADVERS, aa: false, ancount: 0, nscount: 0, arcount: 0, body: empty };
const formerr: Sections = { rcode: Rcode.FORMERR, aa: false, ancount: 0, nscount: 0, arcount: 0, body: empty };

/** Largest DNS message over TCP (RFC 7766 §8: two-byte length). */
export const TCP_LIMIT = 65535;

/** The outcome for one message. Never throws. */
export function respond(msg: Buffer, zone: Zone, client: Client): Outcome {
  const parsed = parseQuery(msg);
  if (!parsed.ok) {
    if (parsed.rcode === undefined) return { kind: 'drop', reason: parsed.reason };
    return { kind: 'reply', bytes: buildHeaderReply(parsed), rcode: parsed.rcode, reason: parsed.reason };
  }
  const q = parsed.query;
  const limit = client.transport === 'tcp' ? TCP_LIMIT : udpLimit(q);
  const reply = (s: Sections, reason?: string): Outcome => ({ kind: 'reply', bytes: buildReply(msg, q, s, limit), rcode: s.rcode, reason, query: q });

  // RFC 6891 §6.1.3: an EDNS version we do not implement gets BADVERS.
  if (q.edns && q.edns.version !== 0) return reply(badvers, 'bad-edns-version');
  if (q.qtype === Type.OPT) return reply(formerr, 'opt-as-qtype');
  // Only class IN data exists here (CHAOS version.bind and the like are refused).
  if (q.qclass !== CLASS_IN && q.qclass !== CLASS_ANY) return reply(refused, 'class-not-in');
  const s = zone.lookup(q.key, q.qtype);
  if (s === null) {
    if (client.mayForward && q.rd) return { kind: 'forward', query: q };
    return reply(refused, 'outside-zone');
  }
  // No zone transfers: nothing is a secondary of 3rc.
  if (q.qtype === Type.AXFR || q.qtype === Type.IXFR) return reply(refused, 'zone-transfer');
  return reply(s);
}

/** A SERVFAIL for a query whose forwarding failed (timeout, no upstream answer). */
export function servfail(msg: Buffer, q: Query, limit: number): Buffer {
  return buildReply(msg, q, { rcode: Rcode.SERVFAIL, aa: false, ancount: 0, nscount: 0, arcount: 0, body: empty }, limit);
}
