/**
 * DHCP policy: one request in, one decision out (a reply or nothing, a lease change, and the
 * reason), from the config, the inventory, the BootTable and the lease table as they are at
 * request time. Pure: no sockets, no clock of its own (ctx.now), no randomness; the server
 * applies the decision.
 *
 * Address rules (RFC 2131 section 4.3): reservations from the inventory first; an optional pool
 * per subnet that never hands out a reserved address, the server's own, the router's, or an
 * address another client holds (offered, bound or declined, until it expires). The same client
 * gets its previous address back. Unknown MACs are ignored unless their subnet has a pool.
 */
import type { DhcpEventData } from '../events/kinds.js';
import type { Host } from '../inventory/inventory.js';
import { cidrBroadcast, cidrContains, formatIpv4, parseIpv4 } from '../lib/net.js';
import type { Lease } from '../domain/lease.js';
import { F, getField, MessageType, messageTypeName, Opt } from './options.js';
import { BOOTREQUEST, clientMac, type DhcpPacket } from './packet.js';
import { subnetFor, ZERO, type Base, type Decision, type PolicyContext, type SubnetInfo } from './context.js';
import { proxy } from './proxy.js';
import { buildNak, buildReply } from './reply.js';

export * from './context.js';
export { isIpxe } from './reply.js';

/** Decides what to do with one request. Never throws for a decoded packet. */
export function decide(req: DhcpPacket, ctx: PolicyContext): Decision {
  const type = messageTypeName(getField(req.options, F.messageType));
  const mac = clientMac(req);
  const host = mac ? ctx.hostByMac(mac) : undefined;
  const base = { type, mac, host: host?.name ?? null, data: { xid: req.xid } as DhcpEventData };
  const ignore = (reason: string, extra: Partial<Decision> = {}): Decision => ({ ...base, reason, reply: null, ...extra });

  if (req.op !== BOOTREQUEST) return ignore('not-a-request');
  if (type === 'bootp') return ignore('bootp-not-served');
  if (!mac) return ignore('not-ethernet');
  if (ctx.settings.mode === 'proxy' || ctx.via === 'pxe') return proxy(req, ctx, mac, host, base);

  const subnet = subnetFor(req, host, ctx);
  if (!subnet) return ignore(req.giaddr !== ZERO ? 'no-subnet-for-relay' : 'no-subnet');
  if (!host && !subnet.pool) return ignore('unknown-mac');
  if (host && !cidrContains(subnet.cidr, parseIpv4(host.ip)!)) return ignore('reservation-outside-subnet', { data: { ...base.data, ip: host.ip, subnet: subnet.cidr.text } });

  const mt = getField(req.options, F.messageType)!;
  switch (mt) {
    case MessageType.DISCOVER:
      return discover(req, ctx, subnet, mac, host, base);
    case MessageType.REQUEST:
      return request(req, ctx, subnet, mac, host, base);
    case MessageType.DECLINE:
      return decline(req, ctx, mac, host, base);
    case MessageType.RELEASE:
      return release(req, ctx, mac, base);
    case MessageType.INFORM:
      return inform(req, ctx, subnet, mac, host, base);
    default:
      return ignore('not-a-client-message');
  }
}

/** Does a lease keep its address away from `mac` at time `now`? */
function blocks(l: Lease | undefined, mac: string, now: number): boolean {
  if (!l || l.expiresAt <= now) return false;
  if (l.state === 'released') return false;
  return l.mac !== mac || l.state === 'declined';
}

/** May the pool give `ip` to `mac`? */
function poolFree(ip: number, mac: string, subnet: SubnetInfo, ctx: PolicyContext): boolean {
  const text = formatIpv4(ip);
  if (ip === subnet.cidr.network || ip === cidrBroadcast(subnet.cidr)) return false;
  if (text === ctx.settings.serverIp || text === subnet.router) return false;
  if (ctx.hostByIp(text)) return false;
  return !blocks(ctx.leases.byAddress(text), mac, ctx.now);
}

function inPool(ip: number | null, subnet: SubnetInfo): boolean {
  return ip !== null && !!subnet.pool && ip >= subnet.pool.start && ip <= subnet.pool.end && cidrContains(subnet.cidr, ip);
}

/**
 * The address for a client: its reservation; else its previous lease in this pool; else the
 * address it asks for (option 50) when free; else the first free one, preferring addresses never
 * leased (so that a returning client's old address stays available to it as long as possible).
 */
type Allocation = { ip: string; how: string; cursor?: number } | { ip: null; how: string };

function addressFor(req: DhcpPacket, mac: string, host: Host | undefined, subnet: SubnetInfo, ctx: PolicyContext): Allocation {
  if (host) {
    const l = ctx.leases.byAddress(host.ip);
    // A declined mark never keeps a reservation away from its host (see decline()); such a mark
    // can still be in a store written before that rule.
    // A reservation added (through the API) for an address a pool client still holds: the
    // address is not given twice; the host gets it once that lease ends.
    if (l?.state !== 'declined' && blocks(l, mac, ctx.now)) return { ip: null, how: 'reserved-address-in-use' };
    return { ip: host.ip, how: 'reservation' };
  }
  for (const l of ctx.leases.forMac(mac)) {
    const n = parseIpv4(l.ip);
    if (l.state !== 'declined' && inPool(n, subnet) && poolFree(n!, mac, subnet, ctx)) return { ip: l.ip, how: 'pool-previous' };
  }
  const asked = getField(req.options, F.requestedIp);
  const askedN = asked ? parseIpv4(asked) : null;
  if (inPool(askedN, subnet) && poolFree(askedN!, mac, subnet, ctx)) return { ip: asked!, how: 'pool-requested' };
  const pool = subnet.pool!;
  const from = Math.min(Math.max(pool.start, ctx.poolCursor?.(subnet.cidr.text) ?? pool.start), pool.end + 1);
  for (let ip = from; ip <= pool.end; ip++) {
    if (poolFree(ip, mac, subnet, ctx) && !ctx.leases.byAddress(formatIpv4(ip))) return { ip: formatIpv4(ip), how: 'pool-new', cursor: ip + 1 };
  }
  // Past the cursor everything was leased once: scan the whole pool (holes left by dropped
  // offers first, then the address whose lease expired).
  let expired: number | null = null;
  for (let ip = pool.start; ip <= pool.end; ip++) {
    if (!poolFree(ip, mac, subnet, ctx)) continue;
    if (!ctx.leases.byAddress(formatIpv4(ip))) return { ip: formatIpv4(ip), how: 'pool-new' };
    expired ??= ip;
  }
  if (expired !== null) return { ip: formatIpv4(expired), how: 'pool-reused' };
  return { ip: null, how: 'pool-exhausted' };
}

function lease(ctx: PolicyContext, req: DhcpPacket, mac: string, host: Host | undefined, ip: string, state: Lease['state'], ms: number): Lease {
  const cid = req.options.get(Opt.CLIENT_ID);
  return {
    ip, mac, state,
    expiresAt: ctx.now + ms,
    clientId: cid ? Buffer.from(cid).toString('hex') : null,
    hostname: host?.name ?? getField(req.options, F.hostName) ?? null,
    updatedAt: ctx.now,
  };
}

function discover(req: DhcpPacket, ctx: PolicyContext, subnet: SubnetInfo, mac: string, host: Host | undefined, base: Base): Decision {
  const a = addressFor(req, mac, host, subnet, ctx);
  if (a.ip === null) return { ...base, reason: a.how, reply: null };
  const existing = ctx.leases.byAddress(a.ip);
  // A client that DISCOVERs while it holds a bound lease keeps that lease as it is.
  const keep = existing && existing.mac === mac && existing.state === 'bound' && existing.expiresAt > ctx.now;
  const built = buildReply(req, ctx, subnet, mac, host, MessageType.OFFER, a.ip);
  return {
    ...base,
    ...(a.cursor !== undefined ? { cursor: { subnet: subnet.cidr.text, next: a.cursor } } : {}),
    reason: `offer-${a.how}`,
    reply: built.reply,
    lease: keep ? undefined : { op: 'hold', lease: lease(ctx, req, mac, host, a.ip, 'offered', ctx.settings.offerHold) },
    data: { ...base.data, ip: a.ip, ...built.data },
  };
}

/** Is `ip` this client's by our records (reservation, or a lease of its own)? */
function knownAddress(ip: string, mac: string, host: Host | undefined, subnet: SubnetInfo, ctx: PolicyContext): 'yes' | 'no' | 'unknown' {
  if (host) return ip === host.ip ? 'yes' : 'no';
  const n = parseIpv4(ip);
  if (n === null || !cidrContains(subnet.cidr, n)) return 'no';
  const l = ctx.leases.byAddress(ip);
  if (l && l.mac === mac && l.state !== 'declined' && inPool(n, subnet) && poolFree(n, mac, subnet, ctx)) return 'yes';
  if (ctx.leases.forMac(mac).some((x) => x.state !== 'declined')) return 'no';
  return 'unknown';
}

function request(req: DhcpPacket, ctx: PolicyContext, subnet: SubnetInfo, mac: string, host: Host | undefined, base: Base): Decision {
  const serverId = getField(req.options, F.serverId);
  const asked = getField(req.options, F.requestedIp);
  const ack = (ip: string, reason: string): Decision => {
    const built = buildReply(req, ctx, subnet, mac, host, MessageType.ACK, ip);
    return {
      ...base,
      reason,
      reply: built.reply,
      lease: { op: 'commit', lease: lease(ctx, req, mac, host, ip, 'bound', subnet.leaseTime * 1000) },
      data: { ...base.data, ip, ...built.data },
    };
  };
  const nak = (reason: string, ip: string | undefined): Decision => ({ ...base, reason, reply: buildNak(req, ctx, subnet), data: { ...base.data, ip } });

  if (serverId !== undefined) {
    // SELECTING (RFC 2131 4.3.2): the client chose the server named in option 54.
    if (serverId !== ctx.settings.serverIp) {
      const held = ctx.leases.forMac(mac).find((l) => l.state === 'offered');
      return { ...base, reason: 'other-server', reply: null, lease: held ? { op: 'unhold', ip: held.ip, mac } : undefined, data: { ...base.data, serverId } };
    }
    if (!asked) return { ...base, reason: 'selecting-without-requested-ip', reply: null };
    const a = addressFor(req, mac, host, subnet, ctx);
    if (a.ip === asked) return ack(asked, 'ack-selecting');
    return nak(a.ip === null ? `nak-${a.how}` : 'nak-not-offered', asked);
  }
  if (req.ciaddr === ZERO) {
    // INIT-REBOOT: the client asks to keep the address it remembers.
    if (!asked) return { ...base, reason: 'request-without-address', reply: null };
    const k = knownAddress(asked, mac, host, subnet, ctx);
    if (k === 'yes') {
      if (host) {
        const a = addressFor(req, mac, host, subnet, ctx);
        if (a.ip === null) return nak(`nak-${a.how}`, asked);
      }
      return ack(asked, 'ack-init-reboot');
    }
    // RFC 2131 4.3.2: NAK a wrong address; stay silent for a client we have no record of.
    if (k === 'no') return nak('nak-wrong-address', asked);
    return { ...base, reason: 'no-record', reply: null, data: { ...base.data, ip: asked } };
  }
  // RENEWING (unicast) or REBINDING (broadcast): ciaddr is the client's address. A socket bound to
  // 0.0.0.0 cannot tell the two apart, and the answer is the same.
  const k = knownAddress(req.ciaddr, mac, host, subnet, ctx);
  if (k === 'yes' && host && addressFor(req, mac, host, subnet, ctx).ip === null) return nak('nak-reserved-address-unavailable', req.ciaddr);
  if (k === 'yes') return ack(req.ciaddr, 'ack-renew');
  if (k === 'no') return nak('nak-wrong-address', req.ciaddr);
  return { ...base, reason: 'no-record', reply: null, data: { ...base.data, ip: req.ciaddr } };
}

function decline(req: DhcpPacket, ctx: PolicyContext, mac: string, host: Host | undefined, base: Base): Decision {
  const serverId = getField(req.options, F.serverId);
  if (serverId !== undefined && serverId !== ctx.settings.serverIp) return { ...base, reason: 'other-server', reply: null };
  const ip = getField(req.options, F.requestedIp);
  if (!ip) return { ...base, reason: 'decline-without-address', reply: null };
  // A reserved address is never marked unusable. The inventory says it is that host's and no
  // other address could be given to the host instead, so a mark would only keep the host off the
  // network; and a DECLINE proves nothing: anyone can send one with the victim's MAC in chaddr
  // and its address in option 50 (ten minutes without an address for one
  // spoofed packet). A real conflict is an operator's problem: the decision is recorded in the
  // trace (dhcp.decline, reason decline-reserved) and counted, and the server logs a warning.
  const reservedFor = ctx.hostByIp(ip);
  if (reservedFor || host?.ip === ip) return { ...base, reason: 'decline-reserved', reply: null, data: { ...base.data, ip, reservedFor: reservedFor?.name ?? host?.name } };
  const l = ctx.leases.byAddress(ip);
  if (l?.mac !== mac) return { ...base, reason: 'decline-not-ours', reply: null, data: { ...base.data, ip } };
  // RFC 2131 4.3.3: the address is in use by someone else; keep it out of use for a while.
  return {
    ...base,
    reason: 'declined',
    reply: null,
    lease: { op: 'commit', lease: lease(ctx, req, mac, host, ip, 'declined', ctx.settings.declineHold) },
    data: { ...base.data, ip },
  };
}

function release(req: DhcpPacket, ctx: PolicyContext, mac: string, base: Base): Decision {
  const serverId = getField(req.options, F.serverId);
  if (serverId !== undefined && serverId !== ctx.settings.serverIp) return { ...base, reason: 'other-server', reply: null };
  const l = ctx.leases.byAddress(req.ciaddr);
  if (!l || l.mac !== mac || l.state === 'declined') return { ...base, reason: 'release-not-ours', reply: null, data: { ...base.data, ip: req.ciaddr } };
  return {
    ...base,
    reason: 'released',
    reply: null,
    lease: { op: 'commit', lease: { ...l, state: 'released', expiresAt: ctx.now, updatedAt: ctx.now } },
    data: { ...base.data, ip: l.ip },
  };
}

function inform(req: DhcpPacket, ctx: PolicyContext, subnet: SubnetInfo, mac: string, host: Host | undefined, base: Base): Decision {
  if (req.ciaddr === ZERO) return { ...base, reason: 'inform-without-ciaddr', reply: null };
  const built = buildReply(req, ctx, subnet, mac, host, MessageType.ACK, ZERO);
  return { ...base, reason: 'ack-inform', reply: built.reply, data: { ...base.data, ip: req.ciaddr, ...built.data } };
}
