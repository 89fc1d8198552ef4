/**
 * The authoritative data of 3rc, derived from the config and the inventory. Pure: no I/O, no
 * clock (the caller passes `now` for the SOA serial).
 *
 * Zones: the configured domain, and one reverse zone per managed subnet (RFC 1035 §3.5), on the
 * octet boundary that encloses it: 10.77.0.0/24 -> 0.77.10.in-addr.arpa, 10.77.0.0/16 ->
 * 77.10.in-addr.arpa, 10.77.0.0/20 -> 77.10.in-addr.arpa, 10.77.0.128/25 -> 0.77.10.in-addr.arpa
 * (names of that zone outside the subnet are NXDOMAIN); and one per IPv6 prefix (network.ipv6), on
 * the nibble boundary that encloses it (RFC 3596 §2.5): fd77::/64 ->
 * 0.0.0.0.0.0.0.0.0.0.0.0.7.7.d.f.ip6.arpa.
 *
 * Records:
 * - every host: A (ip), AAAA (ipv6, when set), HINFO, and a PTR in its reverse zone for each
 *   address (in-addr.arpa, and ip6.arpa when its IPv6 address is inside a served prefix);
 * - every hypervisor: the same, from its address (a hypervisor with a MAC and a profile is a host;
 *   one without is named all the same, HINFO os `hypervisor` when it has no profile);
 * - HINFO (RFC 1035 §3.3.2): `cpu` and `os` from the host's `hinfo` when set; else cpu = the
 *   host's role (or `none` when it has none) and os = its profile name. The post-install script
 *   (kickstarts/post-install/role.sh) reads the role from the cpu string;
 * - every zone apex: SOA and NS. The name server is the host whose ip is network.serverIp if
 *   there is one, else `ns.<domain>` (or `ns-3rc`, `ns-3rc-2`, ... when a host is called ns)
 *   with an A record of network.serverIp (and an AAAA of network.ipv6.serverIp), and a PTR for
 *   serverIp when no host has it;
 * - SOA: mname = the NS name, rname = hostmaster.<domain>, serial = Unix seconds of the build,
 *   kept while the content stays the same and strictly increased (RFC 1982) when it changes.
 *
 * Every answer is encoded once (dns-packet), on the first query for its name and type; the server
 * only prepends header and question.
 */
import { createHash } from 'node:crypto';
import dnsPacket from 'dns-packet';
import type { Inventory } from '../inventory/inventory.js';
import { parseCidr } from '../lib/net.js';
import { ipv6ToBytes, parsePrefix6 } from '../lib/net6.js';
import { nameKey, parentKey, Rcode, Type, type Sections } from './wire.js';

/** What the zone needs from the config. */
export interface ZoneSource {
  /** The forward domain, e.g. lab.test. */
  domain: string;
  /** Address of the name server (3rc itself). */
  serverIp: string;
  /** Managed subnets (CIDR); each gets its enclosing reverse zone. */
  subnets: readonly string[];
  /** IPv6 prefixes (network.ipv6.prefixes); each gets its enclosing ip6.arpa zone. */
  prefixes6?: readonly string[];
  /** The name server's IPv6 address (network.ipv6.serverIp), when 3rc serves IPv6. */
  serverIp6?: string | undefined;
  /** TTL of every record, and the negative-caching TTL (RFC 2308), in seconds. */
  ttl: number;
}

/** A ZoneSource from a loaded config (servers.dns.ttl is in milliseconds there). */
export function zoneSourceFromConfig(config: {
  network: { domain: string; serverIp: string; subnets: readonly { cidr: string }[]; ipv6?: { serverIp: string; prefixes: readonly { prefix: string }[] } | undefined };
  servers: { dns: { ttl: number } };
}): ZoneSource {
  return {
    domain: config.network.domain,
    serverIp: config.network.serverIp,
    subnets: config.network.subnets.map((s) => s.cidr),
    prefixes6: config.network.ipv6?.prefixes.map((p) => p.prefix) ?? [],
    serverIp6: config.network.ipv6?.serverIp,
    ttl: Math.max(0, Math.floor(config.servers.dns.ttl / 1000)),
  };
}

/** SOA timers (seconds): refresh, retry, expire. Nothing transfers the zone; these are customary. */
const SOA_TIMERS = { refresh: 3600, retry: 600, expire: 1_209_600 };

/** One record before encoding. */
interface Rr {
  name: string;
  type: number;
  answer: dnsPacket.Answer;
}

/**
 * One owner name: its records by type, the zone it belongs to, and the encoded answers, made on
 * the first query for each type and kept for the life of this zone build. Encoding lazily keeps
 * a rebuild of a large inventory short (it happens on every host change, on the event loop);
 * every later query for the same name and type only copies bytes.
 */
interface Node {
  zone: ApexInfo;
  records: Map<number, dnsPacket.Answer[]>;
  prepared: Map<number, Sections>;
}

interface ApexInfo {
  name: string;
  nxdomain: Sections;
  nodata: Sections;
}

/** The answers of one zone build. Immutable: a rebuild makes a new Zone. */
export interface Zone {
  /** SOA serial (the same for every apex). */
  readonly serial: number;
  /** Hash of the content without the serial; equal digests mean equal zones. */
  readonly digest: string;
  /** Apex names (forward domain first, then reverse zones). */
  readonly apexes: readonly string[];
  /** Number of records. */
  readonly records: number;
  /** Name of the NS (and SOA mname). */
  readonly nsName: string;
  /**
   * The prepared answer for a name (wire key, see nameKey) and qtype, or null when the name is
   * outside every zone. In-zone misses give NXDOMAIN or NODATA with the SOA in the authority
   * section (RFC 2308 §2.1, §2.2).
   */
  lookup(key: string, qtype: number): Sections | null;
}

/** The reverse zones (names) enclosing a subnet; several only for prefixes shorter than /8. */
export function reverseZones(cidrText: string): string[] {
  const c = parseCidr(cidrText);
  if (!c) return [];
  const octets = Math.max(1, Math.floor(c.prefix / 8));
  const count = c.prefix >= 8 ? 1 : 2 ** (8 - c.prefix);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const net = (c.network + i * 2 ** 24) >>> 0;
    const bytes = [net >>> 24, (net >>> 16) & 255, (net >>> 8) & 255, net & 255].slice(0, octets);
    out.push(`${bytes.reverse().join('.')}.in-addr.arpa`);
  }
  return out;
}

/** The ip6.arpa zone enclosing an IPv6 prefix, on a nibble boundary (a /62 is in its /60's zone). */
export function reverseZone6(prefixText: string): string | null {
  const p = parsePrefix6(prefixText);
  if (!p) return null;
  const nibbles = p.network.toString(16).padStart(32, '0').slice(0, Math.floor(p.length / 4));
  return [...nibbles].reverse().concat('ip6.arpa').join('.');
}

/** PTR owner of an IPv6 address: fd77::10 -> 0.1.0.0.(...).7.7.d.f.ip6.arpa (32 nibbles). */
export function ptrName6(ip: string): string | null {
  const b = ipv6ToBytes(ip);
  if (!b) return null;
  const hex = Buffer.from(b).toString('hex');
  return [...hex].reverse().concat('ip6.arpa').join('.');
}

/** PTR owner of an IPv4 address: 10.77.0.10 -> 10.0.77.10.in-addr.arpa. */
export function ptrName(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

/** HINFO os of a hypervisor that has no profile. */
export const HYPERVISOR_OS = 'hypervisor';

/** The HINFO strings of a host (see the module comment). */
export function hinfoOf(host: { role?: string | undefined; profile: string; hinfo?: { cpu: string; os: string } | undefined }): { cpu: string; os: string } {
  if (host.hinfo) return { cpu: characterString(host.hinfo.cpu), os: characterString(host.hinfo.os) };
  return { cpu: characterString(host.role ?? 'none'), os: characterString(host.profile) };
}

/** A <character-string> holds at most 255 bytes (RFC 1035 §3.3): cut longer UTF-8 text. */
function characterString(s: string): string {
  let out = s;
  while (Buffer.byteLength(out) > 255) out = out.slice(0, -1);
  return out;
}

function isUnder(name: string, apex: string): boolean {
  return name === apex || name.endsWith(`.${apex}`);
}

/** Encodes sections once; the body is everything after the (absent) question. */
function prepare(rcode: number, answers: dnsPacket.Answer[], authorities: dnsPacket.Answer[], additionals: dnsPacket.Answer[]): Sections {
  const wire = dnsPacket.encode({ type: 'response', id: 0, flags: 0, questions: [], answers, authorities, additionals });
  return { rcode, aa: true, ancount: answers.length, nscount: authorities.length, arcount: additionals.length, body: Buffer.from(wire.subarray(12)) };
}

/** Chooses the NS name: the host at serverIp, else ns (or a free variant) in the domain. */
function chooseNs(source: ZoneSource, inventory: Inventory): { name: string; needsA: boolean } {
  const atServer = inventory.hostByIp(source.serverIp);
  if (atServer) return { name: `${atServer.name}.${source.domain}`, needsA: false };
  for (let i = 1; ; i++) {
    const label = i === 1 ? 'ns' : i === 2 ? 'ns-3rc' : `ns-3rc-${i - 1}`;
    if (!inventory.hostByName(label)) return { name: `${label}.${source.domain}`, needsA: true };
  }
}

/**
 * Builds the zone. `previous` is the zone being replaced: its serial is kept when nothing
 * changed, and the new serial is always greater than it otherwise (even if the clock went back).
 */
export function buildZone(source: ZoneSource, inventory: Inventory, opts: { now: number; previous?: Zone }): Zone {
  const ttl = source.ttl;
  const domain = source.domain.toLowerCase().replace(/\.$/, '');
  const src = { ...source, domain };
  const reverse6 = (source.prefixes6 ?? []).map(reverseZone6).filter((z): z is string => z !== null);
  const apexNames = [domain, ...new Set([...source.subnets.flatMap(reverseZones), ...reverse6])];
  const addPtr = (ptr: string | null, target: string) => {
    if (ptr && apexNames.some((a) => isUnder(ptr, a))) add({ name: ptr, type: 'PTR', ttl, data: target }, Type.PTR);
  };
  const ns = chooseNs(src, inventory);
  const rrs: Rr[] = [];
  const add = (answer: dnsPacket.Answer & { name: string }, type: number) => rrs.push({ name: answer.name, type, answer });

  for (const h of inventory.hosts()) {
    const fqdn = `${h.name}.${domain}`;
    add({ name: fqdn, type: 'A', ttl, data: h.ip }, Type.A);
    if (h.ipv6) add({ name: fqdn, type: 'AAAA', ttl, data: h.ipv6 }, Type.AAAA);
    add({ name: fqdn, type: 'HINFO', ttl, data: hinfoOf(h) }, Type.HINFO);
    addPtr(ptrName(h.ip), fqdn);
    if (h.ipv6) addPtr(ptrName6(h.ipv6), fqdn);
  }
  // A hypervisor without a MAC is no host (nothing boots it), but it has a name and an address.
  for (const hv of inventory.hypervisorsWithoutHost()) {
    const fqdn = `${hv.name}.${domain}`;
    add({ name: fqdn, type: 'A', ttl, data: hv.address }, Type.A);
    if (hv.ipv6) add({ name: fqdn, type: 'AAAA', ttl, data: hv.ipv6 }, Type.AAAA);
    add({ name: fqdn, type: 'HINFO', ttl, data: hinfoOf({ role: hv.role, profile: hv.profile ?? HYPERVISOR_OS, hinfo: hv.hinfo }) }, Type.HINFO);
    addPtr(ptrName(hv.address), fqdn);
    if (hv.ipv6) addPtr(ptrName6(hv.ipv6), fqdn);
  }
  if (ns.needsA) {
    add({ name: ns.name, type: 'A', ttl, data: source.serverIp }, Type.A);
    addPtr(ptrName(source.serverIp), ns.name);
    if (source.serverIp6) {
      add({ name: ns.name, type: 'AAAA', ttl, data: source.serverIp6 }, Type.AAAA);
      addPtr(ptrName6(source.serverIp6), ns.name);
    }
  }
  const digest = createHash('sha256')
    .update(JSON.stringify([apexNames, ns.name, ttl, rrs.map((r) => [r.name, r.type, r.answer.type === 'OPT' ? null : r.answer.data])]))
    .digest('hex');
  const serial = nextSerial(opts.now, opts.previous, digest);
  const soaData = { mname: ns.name, rname: `hostmaster.${domain}`, serial, ...SOA_TIMERS, minimum: ttl };
  for (const apex of apexNames) {
    add({ name: apex, type: 'SOA', ttl, data: soaData }, Type.SOA);
    add({ name: apex, type: 'NS', ttl, data: ns.name }, Type.NS);
  }

  // Group by owner, then by type.
  const owners = new Map<string, Map<number, dnsPacket.Answer[]>>();
  for (const r of rrs) {
    const key = nameKey(r.name);
    let byType = owners.get(key);
    if (!byType) owners.set(key, (byType = new Map()));
    const list = byType.get(r.type);
    if (list) list.push(r.answer);
    else byType.set(r.type, [r.answer]);
  }

  const glue: dnsPacket.Answer[] = isUnder(ns.name, domain)
    ? [{ name: ns.name, type: 'A', ttl, data: source.serverIp }, ...(ns.needsA && source.serverIp6 ? [{ name: ns.name, type: 'AAAA' as const, ttl, data: source.serverIp6 }] : [])]
    : [];
  const apexes = new Map<string, ApexInfo>();
  for (const apex of apexNames) {
    const soa: dnsPacket.Answer = { name: apex, type: 'SOA', ttl, data: soaData };
    apexes.set(nameKey(apex), { name: apex, nxdomain: prepare(Rcode.NXDOMAIN, [], [soa], []), nodata: prepare(Rcode.NOERROR, [], [soa], []) });
  }
  const apexOf = (key: string): ApexInfo | null => {
    for (let k: string | null = key; k !== null; k = parentKey(k)) {
      const a = apexes.get(k);
      if (a) return a;
    }
    return null;
  };

  const nodes = new Map<string, Node>();
  for (const [key, records] of owners) {
    const zone = apexOf(key);
    if (!zone) continue; // a record outside every zone (cannot happen with the rules above)
    nodes.set(key, { zone, records, prepared: new Map() });
    // Empty non-terminals (e.g. 0.77.10.in-addr.arpa inside a /16 zone) exist: NODATA, not
    // NXDOMAIN (RFC 8020).
    // Walk up to the apex (never above it: the apex's parents belong to somebody else).
    for (let p = apexes.has(key) ? null : parentKey(key); p !== null && !apexes.has(p); p = parentKey(p)) {
      if (nodes.has(p) || owners.has(p)) break;
      nodes.set(p, { zone, records: new Map(), prepared: new Map() });
    }
  }

  /** The encoded answer of a node for a qtype, or undefined when it has no such records. */
  const answerOf = (node: Node, qtype: number): Sections | undefined => {
    const done = node.prepared.get(qtype);
    if (done) return done;
    let answers: dnsPacket.Answer[] | undefined;
    if (qtype === Type.ANY) {
      // ANY: every RRset of the name (RFC 8482 allows less; this zone's RRsets are small).
      answers = node.records.size > 0 ? [...node.records.values()].flat() : undefined;
    } else answers = node.records.get(qtype);
    if (!answers) return undefined;
    // An NS answer carries the address of the name server (RFC 1035 §3.3.11, additional section).
    const s = prepare(Rcode.NOERROR, answers, [], qtype === Type.NS ? glue : []);
    node.prepared.set(qtype, s);
    return s;
  };

  return {
    serial,
    digest,
    apexes: apexNames,
    records: rrs.length,
    nsName: ns.name,
    lookup(key: string, qtype: number): Sections | null {
      const node = nodes.get(key);
      if (node) return answerOf(node, qtype) ?? node.zone.nodata;
      return apexOf(key)?.nxdomain ?? null;
    },
  };
}

/** RFC 1982 comparison: is a after b in serial number arithmetic? */
function serialAfter(a: number, b: number): boolean {
  return a !== b && ((a - b) >>> 0) < 0x80000000;
}

function nextSerial(now: number, previous: Zone | undefined, digest: string): number {
  const clockSerial = Math.floor(now / 1000) >>> 0;
  if (!previous) return clockSerial;
  if (previous.digest === digest) return previous.serial;
  return serialAfter(clockSerial, previous.serial) ? clockSerial : (previous.serial + 1) >>> 0;
}
