/**
 * Boot storm: N PXE clients at once (bench/storm/client.ts) against 3rc and against dnsmasq, in
 * two namespaces linked by a veth (server 10.77.0.1/16, clients 10.77.255.254/16, no route out).
 *
 * Inventory: N hosts in 10.77.0.0/16 (10.77.1.10 upwards), all installing, reservation-only.
 * For every N and round, three runs, each with a fresh server and empty lease store:
 * - 3rc, DHCP + TFTP only (pxelinux.0, ldlinux.c32, pxelinux.cfg/01-<mac>);
 * - dnsmasq, the same: dhcp-host lines for the same MACs and addresses, dhcp-boot pxelinux.0, its
 *   own TFTP server over a root holding the two files and one pxelinux.cfg/01-<mac> per host
 *   (dnsmasq has no virtual files: they are written beforehand);
 * - 3rc, the whole boot: the same plus the HTTP kickstart/preseed named in the config (with its
 *   install token). 3rc's peak RSS (VmHWM) is read at the end of this run.
 * The ratio compares the first two. 3rc runs with servers.tftp.maxTransfers 4096 and dnsmasq with
 * --tftp-max 4096 (their defaults, 512 and 50, would refuse part of a 2,000-client storm);
 * dnsmasq with --no-ping (else it pings every address for 3 s before offering it).
 * The kernel's neighbour table is given room for N clients for the run (lib/neighbours.ts).
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { netnsUnavailable } from '../../test/lib/netns.js';
import { writeLabConfig } from '../../test/lib/serve.js';
import { startBaseBuild, udpRcvbufErrors } from '../lib/base-build.js';
import { openLab } from '../lib/cleanup.js';
import { neighbourRoom } from '../lib/neighbours.js';
import type { Figure } from '../lib/figures.js';
import { benchHosts, dashed, labProfiles } from '../lib/hosts.js';
import type { BenchOptions } from '../lib/options.js';
import { findTool, peakRssMb, run } from '../lib/proc.js';
import { DNSMASQ, start3rc, startDnsmasqNs, waitUdp, type Running } from '../lib/servers.js';
import type { Report, StormSpec } from './client.js';

export const PXELINUX = '/usr/lib/PXELINUX/pxelinux.0';
export const LDLINUX = '/usr/lib/syslinux/modules/bios/ldlinux.c32';
const CLIENT = fileURLToPath(new URL('./client.js', import.meta.url));
const SERVER = '10.77.0.1';
const LOCAL = '10.77.255.254';
/** Relay addresses of the client namespace (one per "rack"): LOCAL and 10.77.255.200-214. */
const RELAYS = [LOCAL, ...Array.from({ length: 15 }, (_, i) => `10.77.255.${200 + i}`)];

export function stormUnavailable(): string | undefined {
  const why = netnsUnavailable();
  if (why) return why;
  if (!findTool(DNSMASQ)) return `needs ${DNSMASQ} (apt-get install dnsmasq-base)`;
  if (!findTool(PXELINUX)) return `needs ${PXELINUX} (apt-get install pxelinux)`;
  if (!findTool(LDLINUX)) return `needs ${LDLINUX} (apt-get install syslinux-common)`;
  return undefined;
}

export const STORM_NOTE = '**Boot storm**: our load generator (bench/storm/client.ts) plays N PXE clients at once from one namespace: DHCP DORA with the PXE options (vendor class PXEClient, arch 0), through 16 relay addresses (giaddr; bench/storm/client.ts says why), then TFTP (blksize 1408) of pxelinux.0, ldlinux.c32 and pxelinux.cfg/01-<mac>, then (3rc only) the HTTP kickstart URL from the config with its token. Time to all-done is from the first DISCOVER to the last client finished; a failure is a client that ran out of retries, got a NAK or a TFTP error, a wrong-sized file or a non-200. The ratio compares 3rc and dnsmasq on DHCP+TFTP (dnsmasq has no kickstarts); the full boot with HTTP is 3rc alone. Fresh server and empty lease store for every run; 3rc keeps store.sync full (every lease fsynced). All clients start in the same millisecond, so both servers drop DHCP packets (socket buffers) and the clients retransmit; the listen-queue row counts the TCP connections the kernel refused while 3rc\'s HTTP accept queue (backlog 4096, capped by net.core.somaxconn) was full. The kernel\'s neighbour (ARP) table limits, global and 1,024 entries by default, are raised to 4x N for the run (past them the kernel drops the first datagram to each new client: with 2,000 clients about half of the TFTP first blocks, for either server).';

async function storm(lab: ReturnType<typeof openLab>['lab'], ns: string, dir: string, spec: StormSpec, tag: string): Promise<Report> {
  const file = join(dir, `spec-${tag}.json`);
  writeFileSync(file, JSON.stringify(spec));
  const r = await run('ip', ['netns', 'exec', ns, process.execPath, CLIENT, file], { timeoutMs: 600_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Report;
  } catch {
    throw new Error(`storm client failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  }
}

/** TCP listen-queue counters of a namespace (nstat, absolute values, history untouched). */
async function listenCounters(ns: string): Promise<number> {
  const r = await run('ip', ['netns', 'exec', ns, 'nstat', '-asz', 'TcpExtListenOverflows']);
  return Number(/TcpExtListenOverflows\s+(\d+)/.exec(r.stdout)?.[1] ?? NaN);
}

/**
 * Knobs for measuring one change (issue 26), from the environment (`npm run bench` is unchanged
 * without them): BENCH_STORM_SIZES=2000 overrides the sizes; BENCH_STORM_RUNS=3rc,dnsmasq runs only
 * these of 3rc, dnsmasq, 3rc-full (and 3rc-base); BENCH_STORM_BASE=/path/to/other/bin/3rc.js adds
 * "3rc-base", another build of 3rc on DHCP + TFTP, in the same rounds (figures against it too).
 */
function tuning(): { runs?: string[]; base?: string } {
  return { runs: process.env.BENCH_STORM_RUNS?.split(',').map((x) => x.trim()), base: process.env.BENCH_STORM_BASE };
}

export async function runStorm(opts: BenchOptions): Promise<Figure[]> {
  const tune = tuning();
  const sizes = process.env.BENCH_STORM_SIZES ? process.env.BENCH_STORM_SIZES.split(',').map(Number) : opts.quick ? [20] : [500, 2000];
  const maxN = Math.max(...sizes);
  const hosts = benchHosts(maxN, { boot: 'install' });
  const cfg = await writeLabConfig({
    log: { level: 'info' },
    network: { domain: 'lab.test', serverIp: SERVER, nameServers: [SERVER], subnets: [{ cidr: '10.77.0.0/16', router: SERVER }] },
    servers: {
      dhcp: { listen: '0.0.0.0', port: 67 },
      tftp: { listen: '0.0.0.0', port: 69, maxTransfers: 4096 },
      http: { listen: '0.0.0.0', port: 80 },
      dns: { enabled: false },
    },
    store: { sync: 'full' },
    profiles: labProfiles(),
    hypervisors: [],
    hosts,
  });
  // 3rc serves hosts[0..maxN); each run uses the first N. The boot root is shared with dnsmasq.
  const root = join(cfg.dir, 'boot');
  mkdirSync(join(root, 'pxelinux.cfg'), { recursive: true });
  copyFileSync(PXELINUX, join(root, 'pxelinux.0'));
  copyFileSync(LDLINUX, join(root, 'ldlinux.c32'));
  const fileSizes = { 'pxelinux.0': statSync(PXELINUX).size, 'ldlinux.c32': statSync(LDLINUX).size };
  // dnsmasq's files live outside 3rc's state directory: 3rc keeps that one owner-only at start-up,
  // and dnsmasq reads its TFTP root as nobody.
  const dm = mkdtempSync(join(tmpdir(), '3rc-bench-dnsmasq-'));
  chmodSync(dm, 0o755);
  mkdirSync(join(dm, 'pxelinux.cfg'), { recursive: true });
  copyFileSync(PXELINUX, join(dm, 'pxelinux.0'));
  copyFileSync(LDLINUX, join(dm, 'ldlinux.c32'));
  for (const h of hosts) {
    // The same shape and size as 3rc's install entry, fixed text (dnsmasq has no templates).
    writeFileSync(join(dm, 'pxelinux.cfg', `01-${dashed(h.mac)}`), `# ${h.name} (${h.mac})\nDEFAULT install\nPROMPT 0\nTIMEOUT 0\n\nLABEL install\n  MENU LABEL Install ${h.profile} on ${h.name}\n  KERNEL debian-installer/12/amd64/linux\n  INITRD debian-installer/12/amd64/initrd.gz\n  APPEND auto=true priority=critical console=ttyS0 url=http://${SERVER}/ks/${dashed(h.mac)}?token=0000000000000000 hostname=${h.name} domain=lab.test\n  IPAPPEND 2\n\nLABEL local\n  MENU LABEL Boot from the local disk\n  LOCALBOOT 0\n`);
  }
  const hostsFile = join(dm, 'dnsmasq.hosts');
  writeFileSync(hostsFile, hosts.map((h) => `${h.mac},${h.ip},${h.name}`).join('\n') + '\n');
  const leaseFile = join(dm, 'dnsmasq.leases');

  const { lab, close } = openLab('bs');
  const restoreNeighbours = neighbourRoom(maxN, opts.log);
  const figures: Figure[] = [];
  try {
    const srv = lab.netns('srv');
    const cli = lab.netns('cli');
    const { ifB } = lab.link(srv, `${SERVER}/16`, cli, `${LOCAL}/16`);
    for (const a of RELAYS.slice(1)) lab.exec(cli, 'ip', ['addr', 'add', `${a}/16`, 'dev', ifB]);
    // The hosts' addresses are local to the client namespace (a local route per /24, AnyIP): each
    // client speaks TFTP and HTTP from the address DHCP gave it, as a real one does.
    for (const net of new Set(hosts.map((h) => h.ip.split('.').slice(0, 3).join('.')))) lab.exec(cli, 'ip', ['route', 'add', 'local', `${net}.0/24`, 'dev', 'lo']);
    const startDm = (): Promise<Running> => {
      writeFileSync(leaseFile, '');
      return startDnsmasqNs(lab, srv, [
        '-p', '0', '--no-ping', '--dhcp-authoritative', '--quiet-dhcp', '--quiet-tftp', '--dhcp-lease-max=50000',
        '--dhcp-range=10.77.0.0,static,255.255.0.0,1h', `--dhcp-option=3,${SERVER}`, `--dhcp-hostsfile=${hostsFile}`, `--dhcp-leasefile=${leaseFile}`,
        '--dhcp-boot=pxelinux.0', '--enable-tftp', `--tftp-root=${dm}`, '--tftp-max=4096',
      ], 67);
    };
    const start3 = async (): Promise<Running> => {
      const s = await start3rc(cfg, { lab, ns: srv });
      await waitUdp(srv, 69, s.served.proc, '3rc', () => s.served.stderr());
      return s;
    };
    for (const n of sizes) {
      const macs = hosts.slice(0, n).map((h) => h.mac);
      const base = { server: SERVER, locals: RELAYS, macs, sizes: fileSizes, blksize: 1408 };
      const runs = [
        { key: '3rc', start: start3, http: false },
        { key: 'dnsmasq', start: startDm, http: false },
        { key: '3rc-full', start: start3, http: true },
        ...(tune.base ? [{ key: '3rc-base', start: async () => {
          const s = await startBaseBuild(tune.base!, lab, srv, cfg);
          await waitUdp(srv, 69, s.proc, '3rc base', () => '');
          return s;
        }, http: false }] : []),
      ].filter((r) => !tune.runs || tune.runs.includes(r.key));
      const res: Record<string, Report[]> = { '3rc': [], dnsmasq: [], '3rc-full': [], '3rc-base': [] };
      const rss: number[] = [];
      const overflows: number[] = [];
      for (let round = 0; round < opts.rounds; round++) {
        // Every other round in the reverse order (the first two swap places when three are run).
        const order = round % 2 === 0 ? runs : [...runs].reverse();
        for (const r of order) {
          const server = await r.start();
          const lo0 = await listenCounters(srv);
          const kernel0 = udpRcvbufErrors(lab, srv);
          try {
            const rep = await storm(lab, cli, cfg.dir, { ...base, http: r.http }, `${n}-${r.key}`);
            res[r.key]!.push(rep);
            if (r.key === '3rc-full') {
              rss.push(peakRssMb(server.pid));
              overflows.push((await listenCounters(srv)) - lo0);
            }
            opts.log(`storm N=${n} round ${round + 1} ${r.key}: all done in ${rep.seconds.toFixed(2)} s (DHCP ${rep.dhcpSeconds.toFixed(2)} s, TFTP ${rep.tftpSeconds.toFixed(2)} s), ${rep.failures} failures${rep.failures ? ` ${JSON.stringify(rep.failedIn)} (${rep.errors.join('; ')})` : ''}, retransmits dhcp ${rep.retransmits.dhcp} tftp ${rep.retransmits.tftp}, ${udpRcvbufErrors(lab, srv) - kernel0} kernel receive-buffer drops on the server`);
          } finally {
            await server.stop();
          }
        }
      }
      const a = res['3rc']!;
      const b = res.dnsmasq!;
      const c = res['3rc-full']!;
      const errs = [...a, ...b].flatMap((r) => r.errors);
      const fullErrs = c.flatMap((r) => r.errors);
      const d = res['3rc-base']!;
      if (a.length && d.length) {
        figures.push(
          { bench: 'storm', name: `N=${n}: time to all done, DHCP + TFTP, against the base build`, unit: 's', better: 'lower', ours: a.map((r) => r.seconds), ref: d.map((r) => r.seconds), refName: '3rc base' },
          { bench: 'storm', name: `N=${n}: time to every DHCP ACK, DHCP + TFTP, against the base build`, unit: 's', better: 'lower', ours: a.map((r) => r.dhcpSeconds), ref: d.map((r) => r.dhcpSeconds), refName: '3rc base' },
        );
      }
      if (a.length && b.length) {
        figures.push({ bench: 'storm', name: `N=${n}: time to every DHCP ACK, DHCP + TFTP`, unit: 's', better: 'lower', ours: a.map((r) => r.dhcpSeconds), ref: b.map((r) => r.dhcpSeconds), refName: 'dnsmasq' });
      }
      if (!a.length || !b.length || !c.length) continue;
      figures.push(
        { bench: 'storm', name: `N=${n}: time to all done, DHCP + TFTP`, unit: 's', better: 'lower', ours: a.map((r) => r.seconds), ref: b.map((r) => r.seconds), refName: 'dnsmasq' },
        { bench: 'storm', name: `N=${n}: failed clients, DHCP + TFTP (sum of rounds)`, unit: 'clients', better: 'lower', ours: [sum(a.map((r) => r.failures))], ref: [sum(b.map((r) => r.failures))], refName: 'dnsmasq', note: errs[0], target: { max: 0, text: 'zero failed clients in the storm' } },
        { bench: 'storm', name: `N=${n}: DHCP retransmissions, DHCP + TFTP`, unit: 'packets', better: 'lower', ours: a.map((r) => r.retransmits.dhcp), ref: b.map((r) => r.retransmits.dhcp), refName: 'dnsmasq' },
        { bench: 'storm', name: `N=${n}: TFTP retransmissions, DHCP + TFTP`, unit: 'packets', better: 'lower', ours: a.map((r) => r.retransmits.tftp), ref: b.map((r) => r.retransmits.tftp), refName: 'dnsmasq' },
        { bench: 'storm', name: `N=${n}: time to all done, full boot with HTTP kickstart`, unit: 's', better: 'lower', ours: c.map((r) => r.seconds) },
        { bench: 'storm', name: `N=${n}: failed clients, full boot with HTTP kickstart (sum of rounds)`, unit: 'clients', better: 'lower', ours: [sum(c.map((r) => r.failures))], note: fullErrs[0], target: { max: 0, text: 'zero failed clients in the storm' } },
        { bench: 'storm', name: `N=${n}: 3rc peak RSS (VmHWM), full boot`, unit: 'MB', better: 'lower', ours: rss },
        { bench: 'storm', name: `N=${n}: TCP listen-queue overflows on the server (nstat ListenOverflows), full boot`, unit: 'connections', better: 'lower', ours: overflows },
      );
    }
  } finally {
    await close();
    await restoreNeighbours();
    cfg.cleanup();
    rmSync(dm, { recursive: true, force: true });
  }
  return figures;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
