/**
 * TFTP: aggregate MB/s and failures of 3rc against tftpd-hpa and dnsmasq's TFTP server, in the
 * same run, alternating. The three servers run in one namespace (10.77.250.1), the clients in
 * another (10.77.250.2) across a veth: a namespace because dnsmasq's TFTP port is fixed at 69,
 * and two of them because in.tftpd resolves its -a address with AI_ADDRCONFIG, which fails in a
 * namespace that has only loopback.
 *
 * The client is atftp (Debian 12's atftp 0.8 is the only packaged client with RFC 7440
 * windowsize; curl and tftp-hpa have blksize only), one process per transfer, asking for tsize
 * and the blksize of the scenario, and for windowsize 16 in the windowed scenarios. A server
 * that does not know windowsize leaves it out of its OACK and the transfer runs lock-step
 * (what each one negotiated is probed and written under the table). Files: a generated 30 MB
 * file (a kernel + initrd class file) and /usr/lib/PXELINUX/pxelinux.0 (42 KB; each client
 * fetches it 10, 5 or 2 times in a row with 1, 20 or 100 clients, so the figure says something about the server and not only
 * about process start-up). Aggregate MB/s = bytes delivered by all clients / wall time of the
 * slowest client; a failure is a transfer whose client exited non-zero.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { netnsUnavailable } from '../test/lib/netns.js';
import { writeLabConfig } from '../test/lib/serve.js';
import { startBaseBuild } from './lib/base-build.js';
import { openLab } from './lib/cleanup.js';
import type { Figure } from './lib/figures.js';
import type { BenchOptions } from './lib/options.js';
import { findTool, run } from './lib/proc.js';
import { DNSMASQ, IN_TFTPD, start3rc, startDnsmasqNs, startTftpdHpa, type Running } from './lib/servers.js';
import { alternate } from './lib/stats.js';

export const PXELINUX = '/usr/lib/PXELINUX/pxelinux.0';
const FANOUT = fileURLToPath(new URL('./lib/fanout.js', import.meta.url));
const SRV = '10.77.250.1';
const CLI = '10.77.250.2';

export function tftpUnavailable(): string | undefined {
  const why = netnsUnavailable();
  if (why) return why;
  for (const [tool, pkg] of [['atftp', 'atftp'], [IN_TFTPD, 'tftpd-hpa'], [DNSMASQ, 'dnsmasq-base'], [PXELINUX, 'pxelinux']] as const) {
    if (!findTool(tool)) return `needs ${tool} (apt-get install ${pkg})`;
  }
  return undefined;
}

interface Scenario {
  file: string;
  label: string;
  bytes: number;
  clients: number;
  blksize: number;
  windowsize: number;
  repeat: number;
}

let negotiated = '';

/**
 * Knobs for measuring one change (issue 26), from the environment so that `npm run bench` is
 * unchanged without them:
 * - TFTP_BENCH_MATCH=regex: only the scenarios whose figure name matches (e.g. `windowsize 1$`);
 * - TFTP_BENCH_BASE=/path/to/other/bin/3rc.js: adds "3rc base", another build of 3rc (the code
 *   before a change) on port 6970, run in the same rounds, each figure also compared with it;
 * - TFTP_BENCH_PROF=dir: 3rc (and 3rc base) run with --cpu-prof, profiles written to dir;
 * - TFTP_BENCH_WORKERS=n: servers.tftp.workers of 3rc (not of 3rc base); default: its default.
 */
function tuning(): { match?: RegExp; base?: string; prof?: string; workers?: number } {
  const e = process.env;
  return {
    match: e.TFTP_BENCH_MATCH ? new RegExp(e.TFTP_BENCH_MATCH) : undefined, base: e.TFTP_BENCH_BASE, prof: e.TFTP_BENCH_PROF,
    workers: e.TFTP_BENCH_WORKERS ? Number(e.TFTP_BENCH_WORKERS) : undefined,
  };
}

/** Resident memory of a process now and at its peak (VmRSS, VmHWM), in MB, for the log. */
function rssOf(pid: number): string {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(/^\s*(\d+)/.exec(status.split(`${field}:`)[1] ?? '')?.[1] ?? NaN);
  return `RSS ${(kb('VmRSS') / 1024).toFixed(1)} MB, peak ${(kb('VmHWM') / 1024).toFixed(1)} MB`;
}

export function tftpNote(): string {
  return `**TFTP**: atftp clients (one process per transfer, tsize + blksize, plus windowsize 16 where the figure says so) in one namespace, the three servers in another, across a veth; 3rc (its file cache on), tftpd-hpa 5.2 (\`in.tftpd -L\`, a forked child per transfer) and dnsmasq's TFTP (single process, --tftp-max 1000). Aggregate MB/s over all clients (bytes delivered / wall time of the slowest client), median of the rounds; failures are summed over every scenario and round. ${negotiated}`;
}

function scenarios(quick: boolean): Scenario[] {
  const big = quick ? 2_000_000 : 30_000_000;
  const bigLabel = quick ? '2 MB' : '30 MB';
  const bf = { file: 'big.bin', label: bigLabel, bytes: big, repeat: 1 };
  // pxelinux.0: each client fetches it several times in a row (fewer with more clients, to keep
  // the number of atftp processes per run near 200).
  const pxe = (clients: number, repeat: number) => ({ file: 'pxelinux.0', label: `pxelinux.0 (42 KB) x${repeat} per client`, bytes: 0, repeat, clients });
  if (quick) {
    return [
      { ...bf, clients: 4, blksize: 1468, windowsize: 1 },
      { ...bf, clients: 4, blksize: 1468, windowsize: 16 },
      { ...pxe(4, 2), blksize: 512, windowsize: 1 },
    ];
  }
  const out: Scenario[] = [];
  for (const [clients, repeat] of [[1, 10], [20, 5], [100, 2]] as const) {
    for (const blksize of [512, 1468]) for (const windowsize of [1, 16]) out.push({ ...pxe(clients, repeat), blksize, windowsize });
  }
  // 30 MB: the whole matrix would move 3 GB per run at 100 clients; keep what tells something.
  for (const [clients, blksize, windowsize] of [[1, 512, 1], [1, 1468, 1], [1, 1468, 16], [20, 1468, 1], [20, 1468, 16], [100, 1468, 1]] as const) {
    out.push({ ...bf, clients, blksize, windowsize });
  }
  return out;
}

/** One clock tick: CPU times at or below it are the reading's resolution, not a difference (figures' floor). */
const CPU_TICK_MS = 10;

/**
 * CPU time (user + system, every thread, and children it waited for) a server has used, in ms
 * (Linux clock ticks of 10 ms).
 */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()!.split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10;
}

function scenarioKey(s: Scenario): string {
  return `${s.label}, ${s.clients} client${s.clients > 1 ? 's' : ''}, blksize ${s.blksize}, windowsize ${s.windowsize}`;
}

function atftpArgv(s: Scenario, port: number, extra: string[] = []): string[] {
  return ['atftp', '--tftp-timeout', '1', '--option', 'tsize 0', '--option', `blksize ${s.blksize}`, ...(s.windowsize > 1 ? ['--option', `windowsize ${s.windowsize}`] : []), ...extra, '-g', '-r', s.file, '-l', '/dev/null', SRV, String(port)];
}

async function fanout(ns: string, s: Scenario, port: number): Promise<{ seconds: number; failures: number; error?: string }> {
  const spec = { clients: s.clients, repeat: s.repeat, argv: atftpArgv(s, port), timeoutMs: 120_000 };
  const r = await run('ip', ['netns', 'exec', ns, process.execPath, FANOUT, JSON.stringify(spec)], { timeoutMs: 600_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as { seconds: number; failures: number; error?: string };
  } catch {
    throw new Error(`fanout failed (exit ${r.code}): ${r.stderr}`);
  }
}

export async function runTftp(opts: BenchOptions): Promise<Figure[]> {
  const tune = tuning();
  const nodeArgs = tune.prof ? (mkdirSync(tune.prof, { recursive: true }), ['--cpu-prof', `--cpu-prof-dir=${tune.prof}`]) : [];
  // Every atftp runs from the one client address: per-client cap as high as the global one.
  const labConfig = (port: number, paths: Record<string, string> = {}, workers?: number) => writeLabConfig({
    log: { level: 'info' },
    servers: { tftp: { listen: '0.0.0.0', port, maxTransfers: 1000, maxTransfersPerClient: 1000, ...(workers === undefined ? {} : { workers }) }, dhcp: { enabled: false }, http: { enabled: false }, dns: { enabled: false } },
    hypervisors: [],
    hosts: [],
    paths,
  });
  const cfg = await labConfig(6969, {}, tune.workers);
  const root = join(cfg.dir, 'boot');
  const baseCfg = tune.base ? await labConfig(6970, { boot: root }) : undefined;
  mkdirSync(root, { recursive: true });
  const all = scenarios(opts.quick);
  const big = all.find((s) => s.file === 'big.bin')!.bytes;
  const list = all.filter((s) => !tune.match || tune.match.test(scenarioKey(s)));
  if (list.length === 0) throw new Error(`TFTP_BENCH_MATCH=${tune.match?.source}: no scenario matches`);
  writeFileSync(join(root, 'big.bin'), randomBytes(big));
  copyFileSync(PXELINUX, join(root, 'pxelinux.0'));
  const pxeBytes = statSync(PXELINUX).size;
  for (const s of list) if (s.file === 'pxelinux.0') s.bytes = pxeBytes;

  const { lab, close } = openLab('bt');
  const mbps: Record<string, Record<string, number[]>> = {};
  /** The server's CPU time (ms) per scenario run: less disturbed by a busy machine than MB/s. */
  const cpu: Record<string, Record<string, number[]>> = {};
  const refs = ['tftpd-hpa', 'dnsmasq', ...(baseCfg ? ['3rc base'] : [])];
  const failures: Record<string, number> = Object.fromEntries(['3rc', ...refs].map((n) => [n, 0]));
  const errors: string[] = [];
  const running: Running[] = [];
  try {
    const srv = lab.netns('srv');
    const cli = lab.netns('cli');
    lab.link(srv, `${SRV}/24`, cli, `${CLI}/24`);
    const started = async (name: string, port: number, r: Promise<Running>) => {
      running.push(await r);
      return { name, port, pid: running.at(-1)!.pid };
    };
    const servers = [
      await started('3rc', 6969, start3rc(cfg, { lab, ns: srv, nodeArgs })),
      await started('tftpd-hpa', 7069, startTftpdHpa(lab, srv, SRV, 7069, root)),
      await started('dnsmasq', 69, startDnsmasqNs(lab, srv, ['-p', '0', '--enable-tftp', `--tftp-root=${root}`, '--tftp-max=1000'], 69)),
      ...(baseCfg ? [await started('3rc base', 6970, startBaseBuild(tune.base!, lab, srv, baseCfg, nodeArgs))] : []),
    ];
    // What each server grants when asked for windowsize 16 (atftp --trace prints the OACK).
    const granted: string[] = [];
    for (const s of servers) {
      const probe = await run('ip', ['netns', 'exec', cli, ...atftpArgv({ ...list[0]!, file: 'pxelinux.0', windowsize: 16 }, s.port, ['--trace', '--verbose'])], { timeoutMs: 60_000 });
      const oack = (probe.stdout + probe.stderr).split('\n').find((l) => /OACK/.test(l)) ?? '';
      granted.push(`${s.name} ${/windowsize/i.test(oack) ? 'grants windowsize 16' : 'ignores windowsize (lock-step transfer)'}`);
    }
    negotiated = `Asked for windowsize 16: ${granted.join('; ')}.`;
    opts.log(`tftp: ${negotiated}`);
    // Warm-up: every server reads every file once (3rc's cache, the page cache for the others).
    for (const s of servers) for (const file of ['big.bin', 'pxelinux.0']) await fanout(cli, { ...list[0]!, file, clients: 1, repeat: 1 }, s.port);
    for (const sc of list) {
      const key = scenarioKey(sc);
      mbps[key] = Object.fromEntries(servers.map((s) => [s.name, []]));
      cpu[key] = Object.fromEntries(servers.map((s) => [s.name, []]));
      for (let round = 0; round < opts.rounds; round++) {
        for (const s of alternate(servers, round)) {
          const cpu0 = cpuMs(s.pid);
          const r = await fanout(cli, sc, s.port);
          cpu[key]![s.name]!.push(cpuMs(s.pid) - cpu0);
          const delivered = (sc.clients * sc.repeat - r.failures) * sc.bytes;
          const v = delivered / 1e6 / r.seconds;
          mbps[key]![s.name]!.push(v);
          failures[s.name]! += r.failures;
          if (r.error) errors.push(`${s.name}: ${r.error}`);
          opts.log(`tftp ${key} round ${round + 1} ${s.name}: ${v.toFixed(1)} MB/s, ${r.failures} failures${r.error ? ` (${r.error})` : ''}`);
        }
      }
    }
    for (const s of servers) if (s.name.startsWith('3rc')) opts.log(`tftp ${s.name}: ${rssOf(s.pid)}`);
  } finally {
    for (const r of running.reverse()) await r.stop();
    await close();
    cfg.cleanup();
    baseCfg?.cleanup();
  }
  const figures: Figure[] = [];
  for (const [key, m] of Object.entries(mbps)) {
    for (const ref of refs) figures.push({ bench: 'tftp', name: `MB/s, ${key}`, unit: 'MB/s', better: 'higher', ours: m['3rc']!, ref: m[ref]!, refName: ref });
    const c = cpu[key]!;
    // Not tftpd-hpa: its children are reaped without being counted in its own times (0 ms read).
    for (const ref of refs.filter((r) => r !== 'tftpd-hpa')) figures.push({ bench: 'tftp', name: `server CPU ms, ${key}`, unit: 'ms', better: 'lower', ours: c['3rc']!, ref: c[ref]!, refName: ref, floor: CPU_TICK_MS });
  }
  for (const ref of refs) {
    figures.push({ bench: 'tftp', name: 'failed transfers, every scenario and round', unit: 'transfers', better: 'lower', ours: [failures['3rc']!], ref: [failures[ref]!], refName: ref, note: errors.length ? `first error: ${errors[0]}` : undefined });
  }
  return figures;
}

