/**
 * DHCP: perfdhcp (Kea) full DORA exchanges/s and drops, 3rc against dnsmasq, same inventory
 * (10,000 reservations), same pools, in two network namespaces (10.77.0.0/16, no route out).
 *
 * perfdhcp speaks DHCPv4 only as a relay agent: it sends from port 67 with giaddr set to its own
 * address, and the server unicasts every answer back to giaddr:67. So the three scenarios are:
 * - pool, giaddr on the server's link (10.77.0.2, subnet 10.77.0.0/18: what a relay on the
 *   server's own segment looks like), 800 simulated clients on a 919-address pool;
 * - reserved hosts, same link: perfdhcp -M with 800 MACs of the inventory, so every exchange is
 *   a reservation lookup among 10,000;
 * - pool, through a relay on a remote subnet: giaddr 10.77.64.1 (10.77.64.0/22, reached through
 *   a route), so the server picks the subnet by giaddr and replies through its router.
 * Each (scenario, server, round) starts a fresh server with an empty lease store and offers
 * exchanges at a fixed rate (above what either server sustains here, so the achieved rate is the
 * ceiling); exchanges still in flight when the period ends count as drops (a few per run).
 * 3rc runs with store.sync full (every ACKed lease fsynced), dnsmasq with its lease file (its
 * durable mode) and --no-ping (by default it pings every new address for up to 3 s).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeLabConfig } from '../test/lib/serve.js';
import { netnsUnavailable } from '../test/lib/netns.js';
import { openLab } from './lib/cleanup.js';
import type { Figure } from './lib/figures.js';
import { benchHosts, labProfiles } from './lib/hosts.js';
import type { BenchOptions } from './lib/options.js';
import { findTool, peakRssMb, run } from './lib/proc.js';
import { DNSMASQ, start3rc, startDnsmasqNs, type Running } from './lib/servers.js';
import { alternate } from './lib/stats.js';

export const PERFDHCP = '/usr/sbin/perfdhcp';

export function dhcpUnavailable(): string | undefined {
  return netnsUnavailable() ?? (findTool(PERFDHCP) ? undefined : `needs ${PERFDHCP} (apt-get install kea-admin)`) ?? (findTool(DNSMASQ) ? undefined : `needs ${DNSMASQ} (apt-get install dnsmasq-base)`);
}

const LINK = { server: '10.77.0.1', client: '10.77.0.2', prefix: 18, pool: { start: '10.77.60.1', end: '10.77.63.150' } };
const REMOTE = { cidr: '10.77.64.0/22', relay: '10.77.64.1', pool: { start: '10.77.64.100', end: '10.77.67.250' } };

interface Scenario {
  key: string;
  name: string;
  local: string;
  macFile: boolean;
}

const SCENARIOS: Scenario[] = [
  { key: 'pool', name: 'pool, giaddr on the server link', local: LINK.client, macFile: false },
  { key: 'reserved', name: 'reserved hosts, giaddr on the server link', local: LINK.client, macFile: true },
  { key: 'relay', name: 'pool, relayed from a remote subnet', local: REMOTE.relay, macFile: false },
];

export interface PerfdhcpRun {
  rate: number;
  sent: number;
  drops: number;
}

/** Runs perfdhcp inside ns for `seconds` and reads its summary. */
export async function perfdhcp(ns: string, args: string[], seconds: number): Promise<PerfdhcpRun> {
  const r = await run('ip', ['netns', 'exec', ns, PERFDHCP, '-4', ...args, '-p', String(seconds)], { timeoutMs: (seconds + 30) * 1000 });
  const out = r.stdout + r.stderr;
  const m = /Rate: ([\d.]+) 4-way exchanges\/second/.exec(out);
  if (!m) throw new Error(`perfdhcp output not understood (exit ${r.code}):\n${out}`);
  const sum = (re: RegExp) => [...out.matchAll(re)].reduce((a, x) => a + Number(x[1]), 0);
  return { rate: Number(m[1]), sent: sum(/sent packets: (\d+)/g), drops: sum(/drops: (\d+)/g) };
}

export async function runDhcp(opts: BenchOptions): Promise<Figure[]> {
  const nHosts = opts.quick ? 500 : 10_000;
  const rate = opts.quick ? 200 : 3000;
  const seconds = opts.quick ? 2 : 5;
  const clients = opts.quick ? 100 : 800;
  const hosts = benchHosts(nHosts);
  const cfg = await writeLabConfig({
    log: { level: 'info' },
    store: { sync: 'full' },
    network: {
      serverIp: LINK.server,
      nameServers: [LINK.server],
      subnets: [
        { cidr: `10.77.0.0/${LINK.prefix}`, router: LINK.server, pool: LINK.pool },
        { cidr: REMOTE.cidr, router: REMOTE.relay, pool: REMOTE.pool },
      ],
    },
    servers: { dhcp: { listen: '0.0.0.0', port: 67, ratePerMac: 100_000 }, tftp: { enabled: false }, http: { enabled: false }, dns: { enabled: false } },
    profiles: labProfiles(),
    hypervisors: [],
    hosts,
  });
  const hostsFile = join(cfg.dir, 'dnsmasq.hosts');
  writeFileSync(hostsFile, hosts.map((h) => `${h.mac},${h.ip},${h.name}`).join('\n') + '\n');
  const macFile = join(cfg.dir, 'macs.txt');
  writeFileSync(macFile, hosts.slice(0, clients).map((h) => h.mac).join('\n') + '\n');
  const leaseFile = join(cfg.dir, 'dnsmasq.leases');

  const { lab, close } = openLab('bd');
  const ours: Record<string, PerfdhcpRun[]> = {};
  const ref: Record<string, PerfdhcpRun[]> = {};
  const rss: Record<string, number[]> = { '3rc': [], dnsmasq: [] };
  try {
    const srv = lab.netns('srv');
    const cli = lab.netns('cli');
    const { ifB } = lab.link(srv, `${LINK.server}/${LINK.prefix}`, cli, `${LINK.client}/${LINK.prefix}`);
    lab.exec(cli, 'ip', ['addr', 'add', `${REMOTE.relay}/22`, 'dev', ifB]);
    lab.exec(srv, 'ip', ['route', 'add', REMOTE.cidr, 'via', LINK.client]);

    const servers: Array<{ name: '3rc' | 'dnsmasq'; start: () => Promise<Running> }> = [
      { name: '3rc', start: () => start3rc(cfg, { lab, ns: srv }) },
      {
        name: 'dnsmasq',
        start: () => {
          writeFileSync(leaseFile, '');
          return startDnsmasqNs(lab, srv, [
            '-p', '0', '--no-ping', '--dhcp-authoritative', '--quiet-dhcp', '--dhcp-lease-max=50000',
            `--dhcp-range=set:link,${LINK.pool.start},${LINK.pool.end},255.255.192.0,1h`, `--dhcp-option=tag:link,3,${LINK.server}`,
            `--dhcp-range=set:relay,${REMOTE.pool.start},${REMOTE.pool.end},255.255.252.0,1h`, `--dhcp-option=tag:relay,3,${REMOTE.relay}`,
            `--dhcp-hostsfile=${hostsFile}`, `--dhcp-leasefile=${leaseFile}`,
          ], 67);
        },
      },
    ];
    for (const sc of SCENARIOS) {
      ours[sc.key] = [];
      ref[sc.key] = [];
      for (let round = 0; round < opts.rounds; round++) {
        for (const s of alternate(servers, round)) {
          const server = await s.start();
          try {
            const args = ['-r', String(rate), '-l', sc.local, ...(sc.macFile ? ['-M', macFile] : ['-R', String(clients)]), LINK.server];
            const r = await perfdhcp(cli, args, seconds);
            (s.name === '3rc' ? ours : ref)[sc.key]!.push(r);
            rss[s.name]!.push(peakRssMb(server.pid));
            opts.log(`dhcp ${sc.key} round ${round + 1} ${s.name}: ${r.rate.toFixed(0)} DORA/s, ${r.drops} drops of ${r.sent} sent`);
          } finally {
            await server.stop();
          }
        }
      }
    }
  } finally {
    await close();
    cfg.cleanup();
  }
  const figures: Figure[] = [];
  for (const sc of SCENARIOS) {
    const cond = `${sc.name}, ${rate}/s offered${opts.quick ? '' : `, ${nHosts} reservations`}`;
    figures.push({ bench: 'dhcp', name: `DORA/s, ${cond}`, unit: 'exchanges/s', better: 'higher', ours: ours[sc.key]!.map((r) => r.rate), ref: ref[sc.key]!.map((r) => r.rate), refName: 'dnsmasq' });
    figures.push({ bench: 'dhcp', name: `drops, ${cond}`, unit: '% of sent', better: 'lower', ours: ours[sc.key]!.map(pct), ref: ref[sc.key]!.map(pct), refName: 'dnsmasq' });
  }
  figures.push({
    bench: 'dhcp', name: `server peak RSS (VmHWM) after a run, ${nHosts} reservations`, unit: 'MB', better: 'lower', ours: rss['3rc']!, ref: rss.dnsmasq!, refName: 'dnsmasq',
    target: nHosts >= 10_000 ? { max: 300, text: 'RSS under 300 MB with a 10,000-host inventory' } : undefined,
  });
  return figures;
}

const pct = (r: PerfdhcpRun) => (100 * r.drops) / Math.max(1, r.sent);
