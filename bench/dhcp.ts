/**
 * DHCP: perfdhcp (Kea) full DORA exchanges/s and drops, in two network namespaces (10.77.0.0/16,
 * no route out), same inventory and pools for every server, two pairs:
 * - 3rc with store.sync full (every ACKed lease fsynced) against dnsmasq with its lease file;
 * - 3rc with store.sync normal (no fsync per commit) against ISC Kea's kea-dhcp4 with its memfile
 *   lease file (written, not fsynced): Kea is the anchor for DHCP throughput (issue 26).
 *
 * perfdhcp speaks DHCPv4 only as a relay agent: it sends from port 67 with giaddr set to its own
 * address, and the server unicasts every answer back to giaddr:67. So the three scenarios are:
 * - pool, giaddr on the server's link (10.77.0.2, subnet 10.77.0.0/18: what a relay on the
 *   server's own segment looks like), 800 simulated clients on a 919-address pool;
 * - reserved hosts, same link: perfdhcp -M with 800 MACs of the inventory, so every exchange is
 *   a reservation lookup among 10,000;
 * - pool, through a relay on a remote subnet: giaddr 10.77.64.1 (10.77.64.0/22, reached through
 *   a route), so the server picks the subnet by giaddr and replies through its router.
 * Then a rate sweep (1,000, 2,000, 4,000, 8,000 and 16,000/s offered; not in --quick) on a small inventory
 * (50 reservations and the pool, 200 simulated clients), so that the comparison is not only the
 * case where dnsmasq's linear search of 10,000 reservations loses, and so that what happens past
 * each server's ceiling shows (goodput should level off, not collapse).
 * Each (scenario, server, round) starts a fresh server with an empty lease store and offers
 * exchanges at a fixed rate; exchanges still in flight when the period ends count as drops (a few
 * per run). dnsmasq runs with --no-ping (by default it pings every new address for up to 3 s).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeLabConfig, type LabConfig } from '../test/lib/serve.js';
import { startBaseBuild, udpRcvbufErrors } from './lib/base-build.js';
import { netnsUnavailable, type Lab } from '../test/lib/netns.js';
import { openLab } from './lib/cleanup.js';
import { PEAK_RSS_TARGET, type Figure } from './lib/figures.js';
import { benchHosts, labProfiles } from './lib/hosts.js';
import type { BenchOptions } from './lib/options.js';
import { findTool, idleRssMb, peakRssMb, run } from './lib/proc.js';
import { DNSMASQ, KEA_DHCP4, start3rc, startDnsmasqNs, startKeaNs, type Running } from './lib/servers.js';
import { alternate } from './lib/stats.js';

export const PERFDHCP = '/usr/sbin/perfdhcp';

export function dhcpUnavailable(): string | undefined {
  return netnsUnavailable()
    ?? (findTool(PERFDHCP) ? undefined : `needs ${PERFDHCP} (apt-get install kea-admin)`)
    ?? (findTool(DNSMASQ) ? undefined : `needs ${DNSMASQ} (apt-get install dnsmasq-base)`)
    ?? (findTool(KEA_DHCP4) ? undefined : `needs ${KEA_DHCP4} (apt-get install kea-dhcp4-server)`);
}

const LINK = { server: '10.77.0.1', client: '10.77.0.2', prefix: 18, pool: { start: '10.77.60.1', end: '10.77.63.150' } };
const REMOTE = { cidr: '10.77.64.0/22', relay: '10.77.64.1', pool: { start: '10.77.64.100', end: '10.77.67.250' } };

interface Scenario {
  key: string;
  name: string;
  local: string;
  macFile: boolean;
  /** Offered exchanges/s. */
  rate: number;
  /** Simulated clients (-R) when not from the MAC file. */
  clients: number;
  inventory: 'large' | 'small';
}

/** The servers of one run, each pair compared: 3rc (sync full) with dnsmasq, 3rc (sync normal) with Kea. */
type ServerName = '3rc' | '3rc normal' | 'dnsmasq' | 'kea-dhcp4' | '3rc base normal' | '3rc base';
const SERVER_NAMES: ServerName[] = ['3rc', '3rc normal', 'dnsmasq', 'kea-dhcp4', '3rc base normal', '3rc base'];

/**
 * Knobs for measuring one change (issue 26), from the environment so that `npm run bench` is
 * unchanged without them:
 * - DHCP_BENCH_RATES=4000,8000: only the rate sweep, at these rates;
 * - DHCP_BENCH_SERVERS=3rc normal,kea-dhcp4: only these servers;
 * - DHCP_BENCH_BASE=/path/to/other/bin/3rc.js: adds "3rc base normal" and "3rc base", another build
 *   of 3rc (the code before a change) with store.sync normal and full, run in the same rounds as
 *   the others (DHCP_BENCH_SERVERS picks among them too);
 * - DHCP_BENCH_RAW=1: perfdhcp's whole summary (drops per exchange, delays) goes to the log;
 * - DHCP_BENCH_EXIT_WAIT=µs: perfdhcp -W, it waits that long for the answers still in flight when
 *   the period ends instead of counting them as drops (tells those drops from lost packets);
 * - DHCP_BENCH_PROF=dir: 3rc runs with --cpu-prof, profiles written to dir;
 * - DHCP_BENCH_METRICS=1: 3rc serves HTTP on the server link (port 8080) and each 3rc run's log
 *   line gives its DHCP drops by reason (threerc_packets_dropped_total, read from /metrics).
 * Every run's log line gives the server namespace's kernel UDP receive-buffer drops (RcvbufErrors).
 */
function tuning(): { rates?: number[]; servers?: ServerName[]; base?: string; prof?: string; raw: boolean; exitWait?: string; metrics: boolean } {
  const e = process.env;
  const servers = e.DHCP_BENCH_SERVERS?.split(',').map((x) => x.trim()) as ServerName[] | undefined;
  const bad = servers?.filter((x) => !SERVER_NAMES.includes(x));
  if (bad?.length) throw new Error(`DHCP_BENCH_SERVERS: unknown ${bad.join(', ')} (known: ${SERVER_NAMES.join(', ')})`);
  return { rates: e.DHCP_BENCH_RATES?.split(',').map(Number), servers, base: e.DHCP_BENCH_BASE, prof: e.DHCP_BENCH_PROF, raw: !!e.DHCP_BENCH_RAW, exitWait: e.DHCP_BENCH_EXIT_WAIT, metrics: !!e.DHCP_BENCH_METRICS };
}

/**
 * CPU time (user + system, every thread) a process has used, in ms (Linux clock ticks of 10 ms):
 * CPU per exchange is a figure that a loaded machine disturbs less than exchanges/s.
 */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** 3rc's DHCP drops by reason (DHCP_BENCH_METRICS), from its /metrics on the server link. */
function dhcpDrops(lab: Lab, ns: string): Record<string, number> {
  const text = lab.exec(ns, 'curl', ['-s', '--max-time', '5', `http://${LINK.server}:${METRICS_PORT}/metrics`]);
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^threerc_packets_dropped_total\{([^}]*)\} (\d+)/gm)) {
    if (!/server="dhcp"/.test(m[1]!)) continue;
    out[/reason="([^"]*)"/.exec(m[1]!)?.[1] ?? '?'] = Number(m[2]);
  }
  return out;
}
const METRICS_PORT = 8080;

const PAIRS: Array<{ ours: ServerName; ref: ServerName; label: string }> = [
  { ours: '3rc', ref: 'dnsmasq', label: '3rc store.sync full' },
  { ours: '3rc normal', ref: 'kea-dhcp4', label: '3rc store.sync normal' },
];

export interface PerfdhcpRun {
  rate: number;
  sent: number;
  drops: number;
  /** perfdhcp's output. */
  raw: string;
}

/** Runs perfdhcp inside ns for `seconds` and reads its summary. */
export async function perfdhcp(ns: string, args: string[], seconds: number): Promise<PerfdhcpRun> {
  const r = await run('ip', ['netns', 'exec', ns, PERFDHCP, '-4', ...args, '-p', String(seconds)], { timeoutMs: (seconds + 30) * 1000 });
  const out = r.stdout + r.stderr;
  const m = /Rate: ([\d.]+) 4-way exchanges\/second/.exec(out);
  if (!m) throw new Error(`perfdhcp output not understood (exit ${r.code}):\n${out}`);
  const sum = (re: RegExp) => [...out.matchAll(re)].reduce((a, x) => a + Number(x[1]), 0);
  return { rate: Number(m[1]), sent: sum(/sent packets: (\d+)/g), drops: sum(/drops: (\d+)/g), raw: out };
}

/** One inventory as every server is given it: 3rc's configs (both sync modes), dnsmasq's hosts file, Kea's reservations. */
interface Inventory {
  n: number;
  full: LabConfig;
  normal: LabConfig;
  hostsFile: string;
  macFile: string;
  kea: object;
  cleanup(): void;
}

async function inventory(n: number, macClients: number, metrics: boolean): Promise<Inventory> {
  const hosts = benchHosts(n);
  const base = {
    log: { level: 'info' },
    network: {
      serverIp: LINK.server,
      nameServers: [LINK.server],
      subnets: [
        { cidr: `10.77.0.0/${LINK.prefix}`, router: LINK.server, pool: LINK.pool },
        { cidr: REMOTE.cidr, router: REMOTE.relay, pool: REMOTE.pool },
      ],
    },
    servers: {
      dhcp: { listen: '0.0.0.0', port: 67, ratePerMac: 100_000 }, tftp: { enabled: false }, dns: { enabled: false },
      http: metrics ? { listen: LINK.server, port: METRICS_PORT } : { enabled: false },
    },
    profiles: labProfiles(),
    hypervisors: [],
    hosts,
  };
  const full = await writeLabConfig({ ...base, store: { sync: 'full' } });
  const normal = await writeLabConfig({ ...base, store: { sync: 'normal' } });
  const hostsFile = join(full.dir, 'dnsmasq.hosts');
  writeFileSync(hostsFile, hosts.map((h) => `${h.mac},${h.ip},${h.name}`).join('\n') + '\n');
  const macFile = join(full.dir, 'macs.txt');
  writeFileSync(macFile, hosts.slice(0, macClients).map((h) => h.mac).join('\n') + '\n');
  const kea = {
    'interfaces-config': { interfaces: ['*'], 'dhcp-socket-type': 'udp' },
    'lease-database': { type: 'memfile', persist: true, name: join(full.dir, 'kea-leases4.csv'), 'lfc-interval': 0 },
    'valid-lifetime': 3600,
    'host-reservation-identifiers': ['hw-address'],
    subnet4: [
      {
        id: 1, subnet: `10.77.0.0/${LINK.prefix}`, pools: [{ pool: `${LINK.pool.start} - ${LINK.pool.end}` }],
        'option-data': [{ name: 'routers', data: LINK.server }],
        reservations: hosts.map((h) => ({ 'hw-address': h.mac, 'ip-address': h.ip, hostname: h.name })),
      },
      { id: 2, subnet: REMOTE.cidr, pools: [{ pool: `${REMOTE.pool.start} - ${REMOTE.pool.end}` }], 'option-data': [{ name: 'routers', data: REMOTE.relay }] },
    ],
  };
  return { n, full, normal, hostsFile, macFile, kea, cleanup: () => { full.cleanup(); normal.cleanup(); } };
}

export async function runDhcp(opts: BenchOptions): Promise<Figure[]> {
  const nHosts = opts.quick ? 500 : 10_000;
  const rate = opts.quick ? 200 : 3000;
  const seconds = opts.quick ? 2 : 5;
  const clients = opts.quick ? 100 : 800;
  const tune = tuning();
  const sweep = tune.rates ?? (opts.quick ? [] : [1000, 2000, 4000, 8000, 16000]);
  const fixed: Scenario[] = [
    { key: 'pool', name: 'pool, giaddr on the server link', local: LINK.client, macFile: false, rate, clients, inventory: 'large' },
    { key: 'reserved', name: 'reserved hosts, giaddr on the server link', local: LINK.client, macFile: true, rate, clients, inventory: 'large' },
    { key: 'relay', name: 'pool, relayed from a remote subnet', local: REMOTE.relay, macFile: false, rate, clients, inventory: 'large' },
  ];
  const scenarios: Scenario[] = [
    ...(tune.rates ? [] : fixed),
    ...sweep.map((r): Scenario => ({ key: `sweep-${r}`, name: 'pool, 200 clients, 50 reservations', local: LINK.client, macFile: false, rate: r, clients: 200, inventory: 'small' })),
  ];
  const large = await inventory(nHosts, clients, tune.metrics);
  const small = sweep.length ? await inventory(50, 50, tune.metrics) : large;
  const results: Record<string, Record<ServerName, PerfdhcpRun[]>> = {};
  const empty = (): Record<ServerName, number[]> => ({ '3rc': [], '3rc normal': [], dnsmasq: [], 'kea-dhcp4': [], '3rc base normal': [], '3rc base': [] });
  const rss = empty();
  const idle = empty();
  const nodeArgs = tune.prof ? (mkdirSync(tune.prof, { recursive: true }), ['--cpu-prof', `--cpu-prof-dir=${tune.prof}`]) : [];

  const { lab, close } = openLab('bd');
  try {
    const srv = lab.netns('srv');
    const cli = lab.netns('cli');
    const { ifB } = lab.link(srv, `${LINK.server}/${LINK.prefix}`, cli, `${LINK.client}/${LINK.prefix}`);
    lab.exec(cli, 'ip', ['addr', 'add', `${REMOTE.relay}/22`, 'dev', ifB]);
    lab.exec(srv, 'ip', ['route', 'add', REMOTE.cidr, 'via', LINK.client]);

    const starters = (inv: Inventory): Array<{ name: ServerName; start: () => Promise<Running> }> => [
      { name: '3rc', start: () => start3rc(inv.full, { lab, ns: srv, nodeArgs }) },
      { name: '3rc normal', start: () => start3rc(inv.normal, { lab, ns: srv, nodeArgs }) },
      ...(tune.base ? [
        { name: '3rc base normal' as const, start: () => startBaseBuild(tune.base!, lab, srv, inv.normal) },
        { name: '3rc base' as const, start: () => startBaseBuild(tune.base!, lab, srv, inv.full) },
      ] : []),
      {
        name: 'dnsmasq',
        start: () => {
          const leaseFile = join(inv.full.dir, 'dnsmasq.leases');
          writeFileSync(leaseFile, '');
          return startDnsmasqNs(lab, srv, [
            '-p', '0', '--no-ping', '--dhcp-authoritative', '--quiet-dhcp', '--dhcp-lease-max=50000',
            `--dhcp-range=set:link,${LINK.pool.start},${LINK.pool.end},255.255.192.0,1h`, `--dhcp-option=tag:link,3,${LINK.server}`,
            `--dhcp-range=set:relay,${REMOTE.pool.start},${REMOTE.pool.end},255.255.252.0,1h`, `--dhcp-option=tag:relay,3,${REMOTE.relay}`,
            `--dhcp-hostsfile=${inv.hostsFile}`, `--dhcp-leasefile=${leaseFile}`,
          ], 67);
        },
      },
      {
        name: 'kea-dhcp4',
        start: () => {
          rmSync(join(inv.full.dir, 'kea-leases4.csv'), { force: true });
          return startKeaNs(lab, srv, inv.kea, inv.full.dir);
        },
      },
    ];
    for (const sc of scenarios) {
      const inv = sc.inventory === 'large' ? large : small;
      results[sc.key] = { '3rc': [], '3rc normal': [], dnsmasq: [], 'kea-dhcp4': [], '3rc base normal': [], '3rc base': [] };
      for (let round = 0; round < opts.rounds; round++) {
        for (const s of alternate(starters(inv).filter((x) => !tune.servers || tune.servers.includes(x.name)), round)) {
          const server = await s.start();
          try {
            // Resident set at idle after start-up (issue 26), a second after it answers, before any packet.
            if (inv === large) idle[s.name].push(await idleRssMb(server.pid));
            const args = ['-r', String(sc.rate), '-l', sc.local, ...(sc.macFile ? ['-M', inv.macFile] : ['-R', String(sc.clients)]), ...(tune.exitWait ? ['-W', tune.exitWait] : []), LINK.server];
            const ours = s.name.startsWith('3rc') && tune.metrics;
            const drops0 = ours ? dhcpDrops(lab, cli) : {};
            const kernel0 = udpRcvbufErrors(lab, srv);
            const cpu0 = cpuMs(server.pid);
            const r = await perfdhcp(cli, args, seconds);
            const cpu = cpuMs(server.pid) - cpu0;
            const kernel = udpRcvbufErrors(lab, srv) - kernel0;
            const drops = ours ? Object.entries(dhcpDrops(lab, cli)).map(([k, v]) => [k, v - (drops0[k] ?? 0)] as const).filter(([, v]) => v > 0) : [];
            results[sc.key]![s.name].push(r);
            if (inv === large) rss[s.name].push(peakRssMb(server.pid));
            opts.log(`dhcp ${sc.key} round ${round + 1} ${s.name}: ${r.rate.toFixed(0)} DORA/s, ${r.drops} drops of ${r.sent} sent, ${((1000 * cpu) / Math.max(1, r.rate * seconds)).toFixed(0)} ms CPU per 1,000 DORA, ${kernel} kernel receive-buffer drops${ours ? `, dropped by 3rc: ${drops.map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}` : ''}`);
            if (tune.raw) opts.log(r.raw);
          } finally {
            await server.stop();
          }
        }
      }
    }
  } finally {
    await close();
    large.cleanup();
    if (small !== large) small.cleanup();
  }
  const figures: Figure[] = [];
  for (const sc of scenarios) {
    const cond = `${sc.name}, ${sc.rate}/s offered${sc.inventory === 'large' && !opts.quick ? `, ${nHosts} reservations` : ''}`;
    const got = results[sc.key]!;
    const basePairs = [
      { ours: '3rc normal' as const, ref: '3rc base normal' as const, label: '3rc store.sync normal against the base build' },
      { ours: '3rc' as const, ref: '3rc base' as const, label: '3rc store.sync full against the base build' },
    ];
    for (const pair of tune.base ? [...PAIRS, ...basePairs] : PAIRS) {
      if (!got[pair.ours].length || !got[pair.ref].length) continue;
      figures.push({ bench: 'dhcp', name: `DORA/s, ${cond} (${pair.label})`, unit: 'exchanges/s', better: 'higher', ours: got[pair.ours].map((r) => r.rate), ref: got[pair.ref].map((r) => r.rate), refName: pair.ref });
      figures.push({ bench: 'dhcp', name: `drops, ${cond} (${pair.label})`, unit: '% of sent', better: 'lower', ours: got[pair.ours].map(pct), ref: got[pair.ref].map(pct), refName: pair.ref, floor: DROPS_FLOOR });
    }
  }
  for (const pair of PAIRS) {
    if (idle[pair.ours].length && idle[pair.ref].length) {
      figures.push({ bench: 'dhcp', name: `server RSS (VmRSS) at idle after start-up, ${nHosts} reservations (${pair.label})`, unit: 'MB', better: 'lower', ours: idle[pair.ours], ref: idle[pair.ref], refName: pair.ref });
    }
    if (!rss[pair.ours].length || !rss[pair.ref].length) continue;
    figures.push({
      bench: 'dhcp', name: `server peak RSS (VmHWM) after a run, ${nHosts} reservations (${pair.label})`, unit: 'MB', better: 'lower', ours: rss[pair.ours], ref: rss[pair.ref], refName: pair.ref,
      target: nHosts >= 10_000 ? PEAK_RSS_TARGET : undefined,
    });
  }
  return figures;
}

/** Drops at or below 0.1 % of sent (10 of 10,000) are perfdhcp's exchanges in flight at its end: noise. */
const DROPS_FLOOR = 0.1;
const pct = (r: PerfdhcpRun) => (100 * r.drops) / Math.max(1, r.sent);
