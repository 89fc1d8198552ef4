/**
 * Helpers shared by the DHCP unit tests (not used by the server): a lab config, requests as real
 * clients build them, and a policy context over an in-memory lease table.
 */
import { parseConfig, type Config } from '../config/load.js';
import { Inventory } from '../inventory/inventory.js';
import type { BootEntry } from '../domain/boot-entry.js';
import { MemoryStore } from '../store/memory.js';
import { LeaseTable } from './lease-table.js';
import { DhcpOptions, F, setField } from './options.js';
import { BOOTREQUEST, emptyPacket, type DhcpPacket } from './packet.js';
import { policySettings, type PolicyContext } from './policy.js';

/** A small lab config: one reserved subnet, one relayed subnet with a 4-address pool. */
export const LAB = `
network:
  domain: lab.test
  serverIp: 10.77.0.1
  nameServers: [10.77.0.1]
  leaseTime: 1h
  subnets:
    - { cidr: 10.77.0.0/24, router: 10.77.0.1 }
    - { cidr: 10.77.1.0/24, router: 10.77.1.1, pool: { start: 10.77.1.100, end: 10.77.1.103 }, leaseTime: 10m }
servers: { dhcp: { offerHold: 30s, declineHold: 10m, ratePerMac: 5 }, http: { port: 8080 } }
profiles:
  - { name: debian12, installer: image, kernel: k, initrd: i }
hosts:
  - { name: vm10, mac: "52:54:00:77:00:10", ip: 10.77.0.10, profile: debian12 }
  - { name: vm11, mac: "52:54:00:77:00:11", ip: 10.77.1.101, profile: debian12 }
store: { path: /nonexistent/3rc.db }
`;

/** The lab config, with `pool` set on the first subnet when given. */
export function labConfig(pool?: { start: string; end: string }): Config {
  const text = pool ? LAB.replace('{ cidr: 10.77.0.0/24, router: 10.77.0.1 }', `{ cidr: 10.77.0.0/24, router: 10.77.0.1, pool: { start: ${pool.start}, end: ${pool.end} } }`) : LAB;
  return parseConfig(text, '/tmp/lab-test.yaml');
}

/** A 16-byte chaddr from a MAC. */
export function macBytes(mac: string): Uint8Array {
  const b = new Uint8Array(16);
  b.set(mac.split(':').map((x) => parseInt(x, 16)));
  return b;
}

/** What request() builds. */
export interface RequestSpec {
  type: number;
  mac: string;
  xid?: number;
  ciaddr?: string;
  giaddr?: string;
  flags?: number;
  requested?: string;
  serverId?: string;
  /** Extra raw options. */
  options?: [number, number[]][];
}

/** A client request. */
export function request(s: RequestSpec): DhcpPacket {
  const p = emptyPacket(BOOTREQUEST);
  p.xid = s.xid ?? 0x1234;
  p.flags = s.flags ?? 0;
  p.ciaddr = s.ciaddr ?? '0.0.0.0';
  p.giaddr = s.giaddr ?? '0.0.0.0';
  if (s.giaddr) p.hops = 1;
  p.chaddr = macBytes(s.mac);
  p.options = new DhcpOptions();
  setField(p.options, F.messageType, s.type);
  if (s.requested) setField(p.options, F.requestedIp, s.requested);
  if (s.serverId) setField(p.options, F.serverId, s.serverId);
  for (const [c, v] of s.options ?? []) p.options.set(c, Uint8Array.from(v));
  return p;
}

/** A policy context over mutable state that tests change between requests. */
export interface Harness {
  config: Config;
  leases: LeaseTable;
  store: MemoryStore;
  boot: Map<string, BootEntry>;
  now: number;
  /** Pool cursors, kept as the server keeps them when `useCursor` is set. */
  cursors: Map<string, number>;
  useCursor: boolean;
  ctx(): PolicyContext;
}

/** A policy context over the lab config, an empty lease table and boot entries for every host. */
export async function harness(pool?: { start: string; end: string }): Promise<Harness> {
  const config = labConfig(pool);
  const inventory = Inventory.fromConfig(config);
  const store = new MemoryStore();
  const leases = await LeaseTable.load(store);
  const settings = policySettings(config);
  const boot = new Map<string, BootEntry>(config.hosts.map((h) => [h.mac, { mac: h.mac, mode: 'local', profile: h.profile, token: null, since: 0 }]));
  const h: Harness = {
    config, leases, store, boot,
    now: Date.UTC(2026, 0, 1),
    cursors: new Map(),
    useCursor: false,
    ctx: () => ({
      now: h.now,
      settings,
      hostByMac: (m) => inventory.hostByMac(m),
      hostByIp: (ip) => inventory.hostByIp(ip),
      bootEntry: (m) => boot.get(m),
      leases,
      poolCursor: (s) => (h.useCursor ? h.cursors.get(s) : undefined),
    }),
  };
  return h;
}
