/**
 * DHCPv6 policy (RFC 8415 section 18.3): one client message in (with the relays it came
 * through), one decision out: a reply or nothing, lease changes and the reason, from the config,
 * the inventory, the BootTable and the lease table as they are at request time. Pure: no sockets,
 * no clock of its own (ctx.now), no randomness; the server applies the decision.
 *
 * Addresses (IA_NA only; IA_TA and IA_PD are not served): the host's reservation
 * (hosts[].ipv6, found by the MAC its DUID or its relay's option 79 reveals) first, else an
 * optional pool per prefix that never hands out a reserved address, 3rc's own, or one another
 * client holds. A client keeps its previous pool address. Unknown clients are ignored unless
 * their prefix has a pool (Information-request is answered for everyone).
 *
 * Boot (RFC 5970): option 59 is the booter's answer for the client's architecture (option 61)
 * as a URL, `tftp://[server]/path` for a PXE loader or the booter's http:// URL (UEFI HTTP Boot,
 * iPXE's script); option 60 carries the install's kernel arguments when asked for, never to boot
 * firmware (option 61): edk2's PXE (NetworkPkg/UefiPxeBcDxe PxeBcBoot.c, PxeBcDhcp6BootInfo)
 * reads option 60's first parameter as the boot file's size in 512-byte blocks and gives up when
 * it is not 1 to 5 digits, with "PXE-E53: No boot filename received" (seen in the lab, issue 23).
 * UEFI HTTP Boot over IPv6 (edk2 NetworkPkg/HttpBootDxe HttpBootDhcp6.c, HttpBootParseDhcp6Packet)
 * takes an Advertise as an HTTP offer only when it carries option 16 whose first class (after the
 * 4-byte enterprise number and its 2-byte length) starts with `HTTPClient`, and then needs option
 * 59; without option 16 the offer is "DHCP only" and the firmware boots nothing. So a client whose
 * vendor class is `HTTPClient…` and whose answer is an http(s) URL gets option 16 `HTTPClient`
 * under its own enterprise number (as DHCPv4 answers with option 60 `HTTPClient`). A PXEClient
 * never does: for edk2's PXE a vendor class in the answer means "ask the boot server on port 4011".
 * The trace names the options of the request (`asked`) and of the answer (`sent`).
 */
import { bootSpec } from '../boot/booter.js';
import { dhcpClient, type BootClient } from '../boot/client.js';
import type { Lease } from '../domain/lease.js';
import type { DhcpEventData } from '../events/kinds.js';
import type { Host } from '../inventory/inventory.js';
import { ipv6FromBigInt, ipv6ToBigInt, prefixContains } from '../lib/net6.js';
import type { Decision6, Lease6Action, Policy6Context, PrefixInfo } from './context.js';
import { clientMac6, duidHex, sameDuid } from './duid.js';
import {
  all, decodeIaNa, decodeU16List, decodeUserClass, decodeVendorClass, encodeAddresses, encodeBootParams, encodeDomainList, encodeIaNa, encodeStatus, encodeVendorClass, first,
  Opt6, Status6, type IaAddress, type IaNa, type Option6,
} from './options.js';
import { Msg6, msgName, unwrap, type Dhcp6Message, type Dhcp6Packet, type Dhcp6Relay } from './packet.js';

export * from './context.js';

/** Pool addresses examined for one allocation at most (a /64 pool cannot be scanned whole). */
const MAX_SCAN = 4096;

/** Who a lease belongs to: its owner (MAC, else `duid:<hex>`) and its identity (DUID/IAID). */
interface Who {
  owner: string;
  clientId: string;
}

/** A lease's owner: the client's MAC when known (so a host's firmware and OS share it), else its DUID. */
export function ownerOf(mac: string | null, duid: Uint8Array): string {
  return mac ?? `duid:${duidHex(duid)}`;
}

/** Decides what to do with one message. Never throws for a decoded message. */
export function decide6(packet: Dhcp6Packet, ctx: Policy6Context): Decision6 {
  const { boot: _boot, ...d } = decideWithBoot(packet, ctx);
  return d.reply ? { ...d, data: { ...d.data, sent: optionCodes(unwrap(d.reply).message) } } : d;
}

/** The option codes of a message, in order (`1 2 3 23 24 59`): what the trace shows of a request and its answer. */
function optionCodes(m: Dhcp6Message): string {
  return m.options.map((x) => x.code).join(' ');
}

function decideWithBoot(packet: Dhcp6Packet, ctx: Policy6Context): Decision6 & { boot?: BootAnswer } {
  const { message: req, relays } = unwrap(packet);
  const type = msgName(req.type);
  const o = req.options;
  const clientId = first(o, Opt6.CLIENTID);
  const serverId = first(o, Opt6.SERVERID);
  const mac = clientMac6(clientId, relays, ctx.source);
  const host = mac ? ctx.hostByMac(mac) : undefined;
  const boot = bootAnswer(req, ctx, mac);
  const base: Base = { type, mac, host: host?.name ?? null, data: { xid: req.xid, ...(clientId ? { duid: duidHex(clientId) } : {}), asked: optionCodes(req) }, leases: [], boot };
  const ignore = (reason: string, data: DhcpEventData = {}): Decision6 => ({ ...base, reason, reply: null, data: { ...base.data, ...data } });

  // RFC 8415 section 16: which messages a server accepts, and with which identifiers.
  const ours = serverId !== undefined && sameDuid(serverId, ctx.settings.serverId);
  switch (req.type) {
    case Msg6.SOLICIT: case Msg6.CONFIRM: case Msg6.REBIND:
      if (!clientId) return ignore('no-client-id');
      if (serverId) return ignore('server-id-not-allowed');
      break;
    case Msg6.REQUEST: case Msg6.RENEW: case Msg6.RELEASE: case Msg6.DECLINE:
      if (!clientId) return ignore('no-client-id');
      if (!serverId) return ignore('server-id-missing');
      if (!ours) return ignore('other-server');
      break;
    case Msg6.INFORMATION_REQUEST:
      if (serverId && !ours) return ignore('other-server');
      if (o.some((x) => x.code === Opt6.IA_NA || x.code === Opt6.IA_TA || x.code === Opt6.IA_PD)) return ignore('information-request-with-ia');
      return { ...base, reason: 'reply-information', reply: reply(req, relays, ctx, base, Msg6.REPLY, []), data: { ...base.data, ...boot.data } };
    default:
      return ignore('not-a-client-message');
  }

  const link = linkFor(relays, host, ctx);
  if (!link) return ignore(relays.length > 0 ? 'no-prefix-for-relay' : 'no-prefix');
  const reserved = host?.ipv6;
  if (reserved !== undefined && !prefixContains(link.prefix, ipv6ToBigInt(reserved)!)) return ignore('reservation-outside-prefix', { ip: reserved, prefix: link.prefix.text });
  if (reserved === undefined && !link.pool) return ignore(host ? 'no-ipv6-reservation' : 'unknown-client');
  const ias = all(o, Opt6.IA_NA).map(decodeIaNa);
  const duid = clientId!;
  const owner = ownerOf(mac, duid);
  const who = (ia: IaNa): Who => ({ owner, clientId: `${duidHex(duid)}/${ia.iaid}` });

  switch (req.type) {
    case Msg6.SOLICIT:
      return solicit(req, relays, ctx, link, host, ias, who, base);
    case Msg6.REQUEST: case Msg6.RENEW: case Msg6.REBIND:
      return bind(req, relays, ctx, link, host, ias, who, base, `reply-${type}`);
    case Msg6.CONFIRM:
      return confirm(req, relays, ctx, link, ias, base);
    case Msg6.RELEASE:
      return release(req, relays, ctx, host, ias, who, base);
    default:
      return decline(req, relays, ctx, host, ias, who, base);
  }
}

/** What every decision carries, and the boot answer computed once per message. */
type Base = Pick<Decision6, 'type' | 'mac' | 'host' | 'data' | 'leases'> & { boot: BootAnswer };

/**
 * The link of a client: the prefix holding the link-address of the relay nearest to it (RFC 8415
 * section 13.1; a lightweight relay leaves it unspecified, the next relay out fills it), else,
 * for a client on 3rc's own link, its reservation's prefix or the prefix of 3rc's own address.
 */
function linkFor(relays: readonly Dhcp6Relay[], host: Host | undefined, ctx: Policy6Context): PrefixInfo | undefined {
  const find = (ip: string) => {
    const n = ipv6ToBigInt(ip);
    return n === null ? undefined : ctx.settings.prefixes.find((p) => prefixContains(p.prefix, n));
  };
  for (let i = relays.length - 1; i >= 0; i--) {
    if (relays[i]!.linkAddress !== '::') return find(relays[i]!.linkAddress);
  }
  if (relays.length > 0) return undefined;
  if (host?.ipv6) return find(host.ipv6);
  return find(ctx.settings.serverIp);
}

/** Does lease `l` keep its address away from `who` now? Reservations compare owners only. */
function blocks(l: Lease | undefined, who: Who, now: number, reservation: boolean): boolean {
  if (!l || l.expiresAt <= now || l.state === 'released') return false;
  if (l.state === 'declined') return !reservation;
  return l.mac !== who.owner || (!reservation && l.clientId !== who.clientId);
}

type Allocation = { ip: string; how: string; cursor?: bigint } | { ip: null; how: string };

function poolFree(n: bigint, who: Who, link: PrefixInfo, ctx: Policy6Context): boolean {
  if (n === link.prefix.network) return false; // the Subnet-Router anycast address
  const ip = ipv6FromBigInt(n);
  if (ip === ctx.settings.serverIp || ctx.hostByIpv6(ip)) return false;
  return !blocks(ctx.leases.byAddress(ip), who, ctx.now, false);
}

function inPool(n: bigint | null, link: PrefixInfo): n is bigint {
  return n !== null && !!link.pool && n >= link.pool.start && n <= link.pool.end && prefixContains(link.prefix, n);
}

/**
 * The address for one IA: the reservation; else this IA's previous lease in the pool; else the
 * address it asks for when free; else a new one (never leased first, from the pool's cursor),
 * else one whose lease expired. `taken`: addresses already given to other IAs of this message.
 */
function addressFor(ia: IaNa, who: Who, host: Host | undefined, link: PrefixInfo, ctx: Policy6Context, taken: ReadonlySet<string>): Allocation {
  if (host?.ipv6) {
    const l = ctx.leases.byAddress(host.ipv6);
    if (taken.has(host.ipv6)) return { ip: null, how: 'no-address' };
    if (blocks(l, who, ctx.now, true)) return { ip: null, how: 'reserved-address-in-use' };
    return { ip: host.ipv6, how: 'reservation' };
  }
  const free = (n: bigint) => !taken.has(ipv6FromBigInt(n)) && poolFree(n, who, link, ctx);
  for (const l of ctx.leases.forMac(who.owner)) {
    const n = ipv6ToBigInt(l.ip);
    if (l.clientId === who.clientId && l.state !== 'declined' && inPool(n, link) && free(n)) return { ip: l.ip, how: 'pool-previous' };
  }
  for (const a of ia.addresses) {
    const n = ipv6ToBigInt(a.address);
    if (inPool(n, link) && free(n)) return { ip: ipv6FromBigInt(n), how: 'pool-requested' };
  }
  const pool = link.pool!;
  const size = pool.end - pool.start + 1n;
  const cursor = ctx.poolCursor?.(link.prefix.text);
  const from = cursor !== undefined && cursor >= pool.start && cursor <= pool.end ? cursor : pool.start;
  let expired: bigint | null = null;
  const scan = size < BigInt(MAX_SCAN) ? Number(size) : MAX_SCAN;
  for (let i = 0; i < scan; i++) {
    const n = pool.start + ((from - pool.start + BigInt(i)) % size);
    if (!free(n)) continue;
    if (!ctx.leases.byAddress(ipv6FromBigInt(n))) return { ip: ipv6FromBigInt(n), how: 'pool-new', cursor: n + 1n > pool.end ? pool.start : n + 1n };
    expired ??= n;
  }
  if (expired !== null) return { ip: ipv6FromBigInt(expired), how: 'pool-reused' };
  return { ip: null, how: 'no-address' };
}

function lease6(ctx: Policy6Context, who: Who, host: Host | undefined, ip: string, state: Lease['state'], ms: number): Lease {
  return { ip, mac: who.owner, state, expiresAt: ctx.now + ms, clientId: who.clientId, hostname: host?.name ?? null, updatedAt: ctx.now };
}

/** T1 and T2 (RFC 8415 section 21.4: 0.5 and 0.8 of the preferred lifetime). */
function iaFor(ia: IaNa, t: number, addresses: IaAddress[], status?: { code: number; message: string }): IaNa {
  return { iaid: ia.iaid, t1: status ? 0 : Math.floor(t / 2), t2: status ? 0 : Math.floor((t * 4) / 5), addresses, ...(status ? { status } : {}) };
}

/** The IAs of an answer that gives addresses: each IA's address, and lifetimes 0 for any other it listed. */
function assign(ias: readonly IaNa[], who: (ia: IaNa) => Who, host: Host | undefined, link: PrefixInfo, ctx: Policy6Context): { out: IaNa[]; got: { ia: IaNa; ip: string; how: string }[]; cursor?: bigint; failed: string | null } {
  const t = ctx.settings.leaseTime;
  const taken = new Set<string>();
  const out: IaNa[] = [];
  const got: { ia: IaNa; ip: string; how: string }[] = [];
  let cursor: bigint | undefined;
  let failed: string | null = null;
  for (const ia of ias) {
    const a = addressFor(ia, who(ia), host, link, { ...ctx, poolCursor: (p) => cursor ?? ctx.poolCursor?.(p) }, taken);
    const stale = ia.addresses.filter((x) => x.address !== a.ip).map((x) => ({ address: x.address, preferred: 0, valid: 0 }));
    if (a.ip === null) {
      failed ??= a.how;
      out.push(iaFor(ia, t, stale, { code: Status6.NO_ADDRS_AVAIL, message: a.how === 'reserved-address-in-use' ? 'the reserved address is in use' : 'no address available' }));
      continue;
    }
    taken.add(a.ip);
    if ('cursor' in a && a.cursor !== undefined) cursor = a.cursor;
    got.push({ ia, ip: a.ip, how: a.how });
    out.push(iaFor(ia, t, [{ address: a.ip, preferred: t, valid: t }, ...stale]));
  }
  return { out, got, ...(cursor !== undefined ? { cursor } : {}), failed };
}

function solicit(req: Dhcp6Message, relays: Dhcp6Relay[], ctx: Policy6Context, link: PrefixInfo, host: Host | undefined, ias: IaNa[], who: (ia: IaNa) => Who, base: Base): Decision6 {
  const a = assign(ias, who, host, link, ctx);
  const rapid = ctx.settings.rapidCommit && first(req.options, Opt6.RAPID_COMMIT) !== undefined && a.got.length > 0;
  const ms = rapid ? ctx.settings.leaseTime * 1000 : ctx.settings.offerHold;
  const leases: Lease6Action[] = a.got.map((g) => ({ op: rapid ? 'commit' : 'hold', lease: lease6(ctx, who(g.ia), host, g.ip, rapid ? 'bound' : 'offered', ms) }));
  const extra: Option6[] = [...a.out.map(encodeIaNa)];
  // RFC 8415 18.3.1: no address for any IA: an Advertise saying so (the client may try others).
  if (ias.length === 0 || a.got.length === 0) extra.push(encodeStatus({ code: Status6.NO_ADDRS_AVAIL, message: 'no address available' }));
  if (rapid) extra.push({ code: Opt6.RAPID_COMMIT, data: new Uint8Array(0) });
  // Preference 255: the client takes this Advertise at once instead of waiting a second for others.
  else extra.push({ code: Opt6.PREFERENCE, data: Uint8Array.of(255) });
  const data = { ...base.data, ...(a.got[0] ? { ip: a.got[0].ip } : {}), ...base.boot.data };
  const reason = a.got.length === 0 ? 'advertise-no-address' : rapid ? 'reply-rapid-commit' : `advertise-${a.got[0]!.how}`;
  return {
    ...base, reason, leases, data,
    reply: reply(req, relays, ctx, base, rapid ? Msg6.REPLY : Msg6.ADVERTISE, extra),
    ...(a.cursor !== undefined ? { cursor: { prefix: link.prefix.text, next: a.cursor } } : {}),
  };
}

/** Request, Renew and Rebind: each IA gets its address (kept, or new) for a full lease. */
function bind(req: Dhcp6Message, relays: Dhcp6Relay[], ctx: Policy6Context, link: PrefixInfo, host: Host | undefined, ias: IaNa[], who: (ia: IaNa) => Who, base: Base, ok: string): Decision6 {
  const a = assign(ias, who, host, link, ctx);
  const leases: Lease6Action[] = a.got.map((g) => ({ op: 'commit', lease: lease6(ctx, who(g.ia), host, g.ip, 'bound', ctx.settings.leaseTime * 1000) }));
  const extra = a.out.map(encodeIaNa);
  if (ias.length === 0) extra.push(encodeStatus({ code: Status6.NO_ADDRS_AVAIL, message: 'no IA_NA in the request' }));
  const data = { ...base.data, ...(a.got[0] ? { ip: a.got[0].ip } : {}), ...base.boot.data };
  return {
    ...base, leases, data,
    reason: a.got.length === 0 ? 'reply-no-address' : ok,
    reply: reply(req, relays, ctx, base, Msg6.REPLY, extra),
    ...(a.cursor !== undefined ? { cursor: { prefix: link.prefix.text, next: a.cursor } } : {}),
  };
}

/** RFC 8415 18.3.3: are the client's addresses on its link? Nothing is bound or changed. */
function confirm(req: Dhcp6Message, relays: Dhcp6Relay[], ctx: Policy6Context, link: PrefixInfo, ias: IaNa[], base: Base): Decision6 {
  const addresses = ias.flatMap((ia) => ia.addresses.map((x) => x.address));
  if (addresses.length === 0) return { ...base, reason: 'confirm-without-address', reply: null };
  const onLink = addresses.every((x) => prefixContains(link.prefix, ipv6ToBigInt(x)!));
  const status = onLink ? { code: Status6.SUCCESS, message: 'all addresses are on link' } : { code: Status6.NOT_ON_LINK, message: 'an address is not on this link' };
  return { ...base, reason: onLink ? 'reply-confirm' : 'reply-not-on-link', reply: reply(req, relays, ctx, base, Msg6.REPLY, [encodeStatus(status)]), data: { ...base.data, ip: addresses[0] } };
}

/** Leases the client names in its IAs that are its own (any of its IAs' reservations included). */
function ownLeases(ias: IaNa[], who: (ia: IaNa) => Who, host: Host | undefined, ctx: Policy6Context): { mine: { ia: IaNa; lease: Lease }[]; unknown: IaNa[] } {
  const mine: { ia: IaNa; lease: Lease }[] = [];
  const unknown: IaNa[] = [];
  for (const ia of ias) {
    const w = who(ia);
    const found = ia.addresses
      .map((x) => ctx.leases.byAddress(x.address))
      .filter((l): l is Lease => !!l && l.state !== 'declined' && l.mac === w.owner && (l.clientId === w.clientId || l.ip === host?.ipv6));
    if (found.length === 0) unknown.push(ia);
    for (const l of found) mine.push({ ia, lease: l });
  }
  return { mine, unknown };
}

function noBinding(ia: IaNa): Option6 {
  return encodeIaNa({ iaid: ia.iaid, t1: 0, t2: 0, addresses: [], status: { code: Status6.NO_BINDING, message: 'no binding for this IA' } });
}

function release(req: Dhcp6Message, relays: Dhcp6Relay[], ctx: Policy6Context, host: Host | undefined, ias: IaNa[], who: (ia: IaNa) => Who, base: Base): Decision6 {
  const { mine, unknown } = ownLeases(ias, who, host, ctx);
  const leases: Lease6Action[] = mine.map(({ lease: l }) => ({ op: 'commit', lease: { ...l, state: 'released', expiresAt: ctx.now, updatedAt: ctx.now } }));
  const extra = [encodeStatus({ code: Status6.SUCCESS, message: 'released' }), ...unknown.map(noBinding)];
  return { ...base, reason: 'reply-release', leases, reply: reply(req, relays, ctx, base, Msg6.REPLY, extra), data: { ...base.data, ...(mine[0] ? { ip: mine[0].lease.ip } : {}) } };
}

/**
 * RFC 8415 18.3.8: the client found its address in use. A reserved address is never marked (as in
 * DHCPv4: a Decline proves nothing, and no other address could be given to the host instead);
 * the decision is recorded and the server logs a warning.
 */
function decline(req: Dhcp6Message, relays: Dhcp6Relay[], ctx: Policy6Context, host: Host | undefined, ias: IaNa[], who: (ia: IaNa) => Who, base: Base): Decision6 {
  const { mine, unknown } = ownLeases(ias, who, host, ctx);
  const marked = mine.filter(({ lease: l }) => !ctx.hostByIpv6(l.ip) && l.ip !== host?.ipv6);
  const leases: Lease6Action[] = marked.map(({ lease: l }) => ({ op: 'commit', lease: { ...l, state: 'declined', expiresAt: ctx.now + ctx.settings.declineHold, updatedAt: ctx.now } }));
  const extra = [encodeStatus({ code: Status6.SUCCESS, message: 'declined' }), ...unknown.map(noBinding)];
  const reason = marked.length < mine.length ? 'decline-reserved' : 'reply-decline';
  return { ...base, reason, leases, reply: reply(req, relays, ctx, base, Msg6.REPLY, extra), data: { ...base.data, ...(mine[0] ? { ip: mine[0].lease.ip } : {}) } };
}

/**
 * The client as the booter sees it: option 61, iPXE's user class, UEFI's vendor class; and the
 * enterprise number of its vendor class when that is `HTTPClient…` (UEFI HTTP Boot), else null.
 */
function bootClient(req: Dhcp6Message): { client: BootClient; httpClient: number | null } {
  const archOpt = first(req.options, Opt6.CLIENT_ARCH_TYPE);
  const arch = archOpt ? decodeU16List(Opt6.CLIENT_ARCH_TYPE, archOpt)[0]! : null;
  const uc = first(req.options, Opt6.USER_CLASS);
  const ipxe = !!uc && decodeUserClass(uc).includes('iPXE');
  const vc = first(req.options, Opt6.VENDOR_CLASS);
  const vendor = vc ? decodeVendorClass(vc) : undefined;
  const vendorClass = vendor?.classes.find((c) => c.startsWith('PXEClient') || c.startsWith('HTTPClient'));
  return { client: { ...dhcpClient(arch, ipxe, vendorClass), family: 'ipv6' }, httpClient: vendorClass?.startsWith('HTTPClient') ? vendor!.enterprise : null };
}

/** Boot URL and parameters for a client (null: nothing to boot), and the trace's boot facts. */
interface BootAnswer {
  url: string | null;
  params: string | null;
  /** Send option 16 `HTTPClient` under this enterprise number: an HTTP Boot client given an http(s) URL (see the header). */
  httpVendor?: number;
  data: DhcpEventData;
}

/** The booter's answer for a client, as a URL (PXE loaders over TFTP at [serverIp]). */
function bootAnswer(req: Dhcp6Message, ctx: Policy6Context, mac: string | null): BootAnswer {
  if (!mac) return { url: null, params: null, data: { boot: 'none' } };
  const { client, httpClient } = bootClient(req);
  const spec = bootSpec({ settings: ctx.settings.boot, hostByMac: ctx.hostByMac, profile: ctx.profile, bootEntry: ctx.bootEntry }, mac, client);
  if (!spec.entry) return { url: null, params: null, data: { boot: 'none' } };
  const data: DhcpEventData = { boot: spec.entry.mode };
  // Boot firmware (option 61, iPXE) asking: a boot attempt; an installed system's client asks too.
  if (first(req.options, Opt6.CLIENT_ARCH_TYPE) || client.firmware === 'ipxe') data.pxe = true;
  if (client.firmware === 'ipxe' || client.firmware === 'uefi-http') data.client = client.firmware;
  data.arch = client.arch ?? 'none';
  const file = spec.loader.file;
  if (file === null) return { url: null, params: null, data: { ...data, bootFile: spec.loader.why } };
  const http = /^https?:\/\//.test(file);
  const url = http ? file : `tftp://[${ctx.settings.serverIp}]/${file}`;
  return { url, params: spec.args, ...(http && httpClient !== null ? { httpVendor: httpClient } : {}), data: { ...data, file: url } };
}

/**
 * A reply to `req`: client and server identifiers, the given options, name servers and search
 * list, the boot file URL when asked (ORO) or when the client is boot firmware (option 61), the
 * vendor class `HTTPClient` to an HTTP Boot client given an http(s) URL (see the header), the
 * boot parameters when asked by a client that is not boot firmware, then each
 * relay's Relay-reply around it (interface-id echoed, RFC 8415 section 19.3).
 */
function reply(req: Dhcp6Message, relays: readonly Dhcp6Relay[], ctx: Policy6Context, base: Base, type: number, extra: Option6[]): Dhcp6Packet {
  const s = ctx.settings;
  const options: Option6[] = [];
  const cid = first(req.options, Opt6.CLIENTID);
  if (cid) options.push({ code: Opt6.CLIENTID, data: cid });
  options.push({ code: Opt6.SERVERID, data: s.serverId }, ...extra);
  const oroBytes = first(req.options, Opt6.ORO);
  const oro = oroBytes ? decodeU16List(Opt6.ORO, oroBytes) : [];
  if (s.nameServers.length > 0) options.push(encodeAddresses(Opt6.DNS_SERVERS, s.nameServers));
  options.push(encodeDomainList(Opt6.DOMAIN_LIST, [s.domain]));
  const firmware = first(req.options, Opt6.CLIENT_ARCH_TYPE) !== undefined;
  const boot = base.boot;
  if (boot.url && (firmware || oro.includes(Opt6.BOOTFILE_URL))) options.push({ code: Opt6.BOOTFILE_URL, data: Buffer.from(boot.url, 'utf8') });
  if (boot.httpVendor !== undefined) options.push(encodeVendorClass(boot.httpVendor, ['HTTPClient']));
  // The kernel's arguments are no firmware's parameters (see the header: edk2 refuses to boot).
  if (boot.url && boot.params && !firmware && oro.includes(Opt6.BOOTFILE_PARAM)) options.push(encodeBootParams([boot.params]));
  let out: Dhcp6Packet = { relay: false, type, xid: req.xid, options };
  for (let i = relays.length - 1; i >= 0; i--) {
    const r = relays[i]!;
    const iface = first(r.options, Opt6.INTERFACE_ID);
    out = { relay: true, type: Msg6.RELAY_REPL, hopCount: r.hopCount, linkAddress: r.linkAddress, peerAddress: r.peerAddress, options: iface ? [{ code: Opt6.INTERFACE_ID, data: iface }] : [], message: out };
  }
  return out;
}
