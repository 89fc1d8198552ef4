/**
 * Router advertisements as a 3rc service: servers.ra -> the links to advertise on (their
 * ifindex and MAC from /sys/class/net), the advertiser (policy) and the ICMPv6 helper (I/O).
 *
 * Interfaces are read once at start: by default every interface that holds an IPv4 address
 * inside one of network.subnets, i.e. the networks 3rc serves. An interface named in the config
 * that does not exist is logged and skipped; a start with no link logs it and sends nothing.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces as osInterfaces, type NetworkInterfaceInfo } from 'node:os';
import type { Config } from '../config/load.js';
import type { Clock } from '../lib/clock.js';
import { processGuard, type PacketGuard } from '../lib/guard.js';
import type { Logger } from '../lib/log.js';
import { cidrContains, parseCidr, parseIpv4 } from '../lib/net.js';
import type { Service } from '../lib/service.js';
import { RouterAdvertiser, type RaLink } from './advertiser.js';
import { Icmp6Helper } from './helper.js';
import { formatIpv6, parseIpv6, parseIpv6Prefix } from './ipv6.js';
import type { RouterAdvertisement } from './ndp.js';

type RaConfig = Config['servers']['ra'];
type RaInterface = NonNullable<RaConfig['interfaces']>[number];

/** Cur Hop Limit advertised to hosts (radvd's default too). */
const CUR_HOP_LIMIT = 64;

/** The interfaces to advertise on, with their per-interface overrides. */
export function servedInterfaces(config: Pick<Config, 'network' | 'servers'>, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = osInterfaces()): RaInterface[] {
  const ra = config.servers.ra;
  if (ra.interfaces) return ra.interfaces;
  const subnets = config.network.subnets.map((s) => parseCidr(s.cidr)!);
  const names: RaInterface[] = [];
  for (const [name, list] of Object.entries(interfaces)) {
    const served = (list ?? []).some((i) => {
      if (i.family !== 'IPv4' || i.internal) return false;
      const ip = parseIpv4(i.address);
      return ip !== null && subnets.some((c) => cidrContains(c, ip));
    });
    if (served) names.push({ name });
  }
  return names;
}

/** The advertisement of one interface: servers.ra with the interface's overrides. */
export function advertisementFor(ra: RaConfig, iface: RaInterface): Omit<RouterAdvertisement, 'sourceLinkLayer'> {
  const s = (ms: number) => Math.round(ms / 1000);
  const dns = iface.dnsServers ?? ra.dnsServers;
  return {
    curHopLimit: CUR_HOP_LIMIT,
    managed: iface.managed ?? ra.managed,
    otherConfig: iface.otherConfig ?? ra.otherConfig,
    routerLifetime: s(iface.routerLifetime ?? ra.routerLifetime),
    reachableTime: 0,
    retransTimer: 0,
    mtu: iface.mtu ?? ra.mtu,
    prefixes: (iface.prefixes ?? ra.prefixes).map((p) => {
      const parsed = parseIpv6Prefix(p.prefix)!;
      return { prefix: parsed.network, length: parsed.length, onLink: p.onLink, autonomous: p.autonomous, validLifetime: s(p.validLifetime), preferredLifetime: s(p.preferredLifetime) };
    }),
    // RFC 8106 section 5.1: a lifetime of at least 3 x MaxRtrAdvInterval.
    rdnss: dns.length ? { lifetime: s(3 * ra.maxInterval), servers: dns.map((a) => parseIpv6(a)!) } : undefined,
  };
}

/** ifindex and MAC of an interface of this network namespace, or null when there is none. */
function linkOf(name: string): { ifindex: number; mac?: Buffer } | null {
  if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(name)) return null;
  try {
    const ifindex = Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim());
    const macText = readFileSync(`/sys/class/net/${name}/address`, 'utf8').trim();
    const mac = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(macText) ? Buffer.from(macText.replace(/:/g, ''), 'hex') : undefined;
    return Number.isInteger(ifindex) && ifindex > 0 ? { ifindex, mac } : null;
  } catch {
    return null;
  }
}

export interface RaServer extends Service {
  readonly advertiser: RouterAdvertiser;
}

export function createRaServer(deps: { config: Config; clock: Clock; log: Logger; guard?: PacketGuard; command?: string[]; random?: () => number }): RaServer {
  const ra = deps.config.servers.ra;
  const log = deps.log.child({ server: 'ra' });
  const guard = deps.guard ?? processGuard;
  let links: RaLink[] = [];
  const helper: Icmp6Helper = new Icmp6Helper({
    clock: deps.clock,
    log,
    command: deps.command,
    events: {
      ready: guard.boundary('ra', log, () => 'helper', () => advertiser.transportReady()),
      packet: guard.boundary('ra', log, (p) => formatIpv6(p.source), (p) => void advertiser.solicitation(p.ifindex, p.source, p.hopLimit, p.message)),
    },
  });
  const advertiser = new RouterAdvertiser({ clock: deps.clock, random: deps.random, out: helper, log, guard });
  const maxInterval = ra.maxInterval;
  const minInterval = ra.minInterval ?? Math.max(3000, Math.round(maxInterval / 3));
  return {
    name: 'ra',
    advertiser,
    async start() {
      links = [];
      for (const iface of servedInterfaces(deps.config)) {
        const l = linkOf(iface.name);
        if (!l) {
          log.warn({ link: iface.name }, 'ra: no such interface here; no router advertisements on it');
          continue;
        }
        links.push({ ifindex: l.ifindex, name: iface.name, mac: l.mac, advertisement: advertisementFor(ra, iface), maxInterval, minInterval });
      }
      if (links.length === 0) {
        log.warn('ra: no interface to advertise on (none holds an address in network.subnets); router advertisements are off');
        return;
      }
      for (const link of links) {
        helper.join(link.ifindex);
        advertiser.add(link);
        log.info({ link: link.name, routerLifetime: link.advertisement.routerLifetime, prefixes: link.advertisement.prefixes.length, managed: link.advertisement.managed, otherConfig: link.advertisement.otherConfig }, 'ra: advertising');
      }
      helper.start();
    },
    async stop() {
      advertiser.stop(true);
      await helper.stop();
    },
    addresses: () => links.map((l) => `${l.name}/icmpv6`),
  };
}
