/**
 * DNS: dnsperf queries/s and average latency, over UDP and over TCP, 3rc against dnsmasq serving
 * the same zone on 127.0.0.1 (high ports), alternating, several rounds; a small zone (1,000 hosts,
 * where dnsmasq's linear searches cost little) and a large one (10,000 hosts). Each size has three
 * cases: UDP and TCP as fast as each server goes (the queries/s rows; their latencies are taken at
 * each server's own throughput, so they include its queueing delay), and TCP at a fixed offered
 * rate both servers sustain (dnsperf -Q): the like-for-like latency row.
 *
 * The query file is an A/PTR/HINFO mix over every host, a third each, in a fixed shuffled order
 * (the same file for both servers). dnsmasq gets the names and addresses from an addn-hosts file
 * (A and PTR), and every HINFO record as a dns-rr line (type 13, the same cpu/os strings 3rc
 * serves), so both answer every query with data. dnsmasq runs with -k (foreground; it forks a
 * process per TCP connection) and --local for the zone, so it answers NXDOMAIN itself and never
 * forwards. dnsperf: 4 clients, 128 outstanding queries each. A run in which dnsperf gives up
 * (dnsmasq closes TCP connections under pipelined load and dnsperf then stops with "Bad file
 * descriptor") is left out of the median and counted in the failed-runs figure.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, writeLabConfig } from '../test/lib/serve.js';
import { startDnsmasq } from '../test/dns/upstream.js';
import { onCleanup } from './lib/cleanup.js';
import type { Figure } from './lib/figures.js';
import { benchHosts, labProfiles } from './lib/hosts.js';
import type { BenchOptions } from './lib/options.js';
import { findTool, run, sleep } from './lib/proc.js';
import { DNSMASQ, start3rc } from './lib/servers.js';
import { alternate } from './lib/stats.js';

const DNSPERF_ARGS = ['-c', '4', '-q', '128'];

export function dnsUnavailable(): string | undefined {
  if (!findTool('dnsperf')) return 'needs dnsperf (apt-get install dnsperf)';
  if (!findTool(DNSMASQ)) return `needs ${DNSMASQ} (apt-get install dnsmasq-base)`;
  return undefined;
}

/** Offered rate of the like-for-like TCP latency row: one both servers keep up with (dnsmasq's TCP ceiling here is about 1,000-1,900 q/s). */
const TCP_RATE = 500;

export const DNS_NOTE = `**DNS**: dnsperf (${DNSPERF_ARGS.join(' ')}) on loopback against 3rc and dnsmasq (-k, --local for the zone), same zone of 1,000 or 10,000 hosts: A and PTR from an addn-hosts file and HINFO as dns-rr lines for dnsmasq, so both answer every query with data; queries are an A/PTR/HINFO mix, a third each, shuffled. For each zone: UDP and TCP at full speed (queries/s; the latency rows of those cases are taken at each server's own throughput, so they include queueing delay at very different rates), and TCP at ${TCP_RATE} q/s offered (dnsperf -Q ${TCP_RATE}), a rate both servers keep up with (dnsmasq still loses a few queries there, up to about 2 %, shown in its lost-queries row): the like-for-like latency; on a loaded machine it mostly measures how soon each server is scheduled. The CPU rows are the server's CPU time (user + system, with dnsmasq's reaped per-connection children) over the run divided by the queries answered: the work per query, which a loaded machine changes far less than the rates. Runs in which dnsperf gave up are left out of the medians and counted in "failed dnsperf runs". dnsmasq searches hosts files (for PTR) and dns-rr records linearly, so its rates fall with the size of the zone.`;

interface Run {
  qps: number;
  /** CPU time the server (and its reaped children: dnsmasq forks per TCP connection) used per answered query, in µs. */
  cpuUs: number;
  lost: number;
  sent: number;
  latencyMs: number;
  error?: string;
}

/** CPU seconds of a process and its reaped children: utime, stime, cutime, cstime of /proc/PID/stat (clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
}

async function dnsperf(port: number, data: string, seconds: number, c: Case, pid: number): Promise<Run> {
  const cpuBefore = cpuSeconds(pid);
  const rate = c.rate ? ['-Q', String(c.rate)] : [];
  const r = await run('dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', data, '-l', String(seconds), '-m', c.mode, '-t', '5', ...DNSPERF_ARGS, ...rate], { timeoutMs: (seconds + 30) * 1000 });
  await sleep(300); // dnsmasq reaps its TCP children when they exit
  const cpu = cpuSeconds(pid) - cpuBefore;
  const num = (re: RegExp) => Number(re.exec(r.stdout)?.[1] ?? NaN);
  const answered = num(/Queries completed:\s+(\d+)/);
  const out: Run = { cpuUs: (1e6 * cpu) / Math.max(1, answered), qps: num(/Queries per second:\s+([\d.]+)/), lost: num(/Queries lost:\s+(\d+)/), sent: num(/Queries sent:\s+(\d+)/), latencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000 };
  if (r.code !== 0 || Number.isNaN(out.qps)) {
    out.error = (r.stderr.split('\n').find((l) => l.startsWith('Error')) ?? r.error ?? 'no summary').trim();
  }
  return out;
}

/** A character-string pair (HINFO RDATA) as hex, for dnsmasq's dns-rr. */
function hinfoHex(cpu: string, os: string): string {
  const cs = (s: string) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]);
  return Buffer.concat([cs(cpu), cs(os)]).toString('hex');
}

/** One dnsperf case: the transport, and the offered rate (dnsperf -Q), or none for as fast as it goes. */
interface Case {
  mode: 'udp' | 'tcp';
  rate?: number;
}
const CASES: Case[] = [{ mode: 'udp' }, { mode: 'tcp' }, { mode: 'tcp', rate: TCP_RATE }];

function caseName(c: Case): string {
  return c.rate ? `${c.mode.toUpperCase()} at ${c.rate} q/s offered` : c.mode.toUpperCase();
}

export async function runDns(opts: BenchOptions): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const n of opts.quick ? [1000] : [1000, 10_000]) figures.push(...(await runZone(opts, n)));
  return figures;
}

/** Every case against both servers serving an n-host zone. */
async function runZone(opts: BenchOptions, n: number): Promise<Figure[]> {
  const seconds = opts.quick ? 2 : 5;
  const hosts = benchHosts(n);
  const cfg = await writeLabConfig({
    network: { subnets: [{ cidr: '10.77.0.0/16', router: '10.77.0.1' }] },
    profiles: labProfiles(),
    hosts,
    hypervisors: [],
    servers: { dhcp: { enabled: false }, tftp: { enabled: false }, http: { enabled: false }, dns: { ttl: '5m', tcpIdleTimeout: '10s', maxTcpConnections: 256 } },
    log: { level: 'info' },
  });
  const addnHosts = join(cfg.dir, 'hosts');
  writeFileSync(addnHosts, hosts.map((h) => `${h.ip} ${h.name}.lab.test`).join('\n') + '\n');
  const conf = join(cfg.dir, 'dnsmasq.conf');
  writeFileSync(conf, hosts.map((h) => `dns-rr=${h.name}.lab.test,13,${hinfoHex(h.hinfo.cpu, h.hinfo.os)}`).join('\n') + '\n');
  const lines: string[] = [];
  for (const h of hosts) lines.push(`${h.name}.lab.test A`, `${h.ip.split('.').reverse().join('.')}.in-addr.arpa PTR`, `${h.name}.lab.test HINFO`);
  let seed = 12345;
  for (let i = lines.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const j = seed % (i + 1);
    [lines[i], lines[j]] = [lines[j]!, lines[i]!];
  }
  const queries = join(cfg.dir, 'queries.txt');
  writeFileSync(queries, lines.join('\n') + '\n');

  const ours = await start3rc(cfg);
  const dmPort = await freePort();
  const dm = await startDnsmasq('127.0.0.1', dmPort, [`--addn-hosts=${addnHosts}`, `--conf-file=${conf}`, '--local=/lab.test/', '--local=/77.10.in-addr.arpa/', '--cache-size=10000', '--dns-forward-max=1000']);
  const stopDm = onCleanup(() => dm.stop());
  const targets = [{ name: '3rc', port: cfg.ports.dns, pid: ours.pid }, { name: 'dnsmasq', port: dmPort, pid: dm.proc.pid! }];
  const results = CASES.map(() => ({ '3rc': [] as Run[], dnsmasq: [] as Run[] }));
  try {
    // Both must answer HINFO with data, or the comparison is not like for like.
    for (const t of targets) {
      const r = await run('dig', ['+short', '-p', String(t.port), '@127.0.0.1', `${hosts[0]!.name}.lab.test`, 'HINFO'], { timeoutMs: 10_000 });
      if (r.code === 0 && !r.stdout.trim()) throw new Error(`${t.name} gave no HINFO data`);
    }
    for (const [i, c] of CASES.entries()) {
      for (const t of targets) await dnsperf(t.port, queries, 1, c, t.pid); // warm-up
      for (let round = 0; round < opts.rounds; round++) {
        for (const t of alternate(targets, round)) {
          const r = await dnsperf(t.port, queries, seconds, c, t.pid);
          results[i]![t.name as '3rc' | 'dnsmasq'].push(r);
          opts.log(`dns ${n} hosts, ${caseName(c)}, round ${round + 1} ${t.name}: ${r.qps.toFixed(0)} q/s, lost ${r.lost}, avg ${r.latencyMs.toFixed(3)} ms, ${r.cpuUs.toFixed(1)} µs CPU per query${r.error ? ` (${r.error})` : ''}`);
        }
      }
    }
  } finally {
    await ours.stop();
    await stopDm();
    cfg.cleanup();
  }
  const figures: Figure[] = [];
  const ok = (rs: Run[]) => rs.filter((r) => !r.error);
  for (const [i, c] of CASES.entries()) {
    const a = results[i]!['3rc'];
    const b = results[i]!.dnsmasq;
    const cond = `${caseName(c)}, A/PTR/HINFO mix, ${n} hosts`;
    // At a fixed offered rate the rate is not a result, only the latency and the losses are.
    if (!c.rate) figures.push({ bench: 'dns', name: `queries/s, ${cond}`, unit: 'q/s', better: 'higher', ours: ok(a).map((r) => r.qps), ref: ok(b).map((r) => r.qps), refName: 'dnsmasq' });
    figures.push({ bench: 'dns', name: `average latency, ${cond}`, unit: 'ms', better: 'lower', ours: ok(a).map((r) => r.latencyMs), ref: ok(b).map((r) => r.latencyMs), refName: 'dnsmasq' });
    figures.push({ bench: 'dns', name: `server CPU time per answered query, ${cond}`, unit: 'µs', better: 'lower', ours: ok(a).map((r) => r.cpuUs), ref: ok(b).map((r) => r.cpuUs), refName: 'dnsmasq' });
    figures.push({ bench: 'dns', name: `lost queries, ${cond}`, unit: '% of sent', better: 'lower', ours: ok(a).map((r) => (100 * r.lost) / Math.max(1, r.sent)), ref: ok(b).map((r) => (100 * r.lost) / Math.max(1, r.sent)), refName: 'dnsmasq' });
    figures.push({ bench: 'dns', name: `failed dnsperf runs, ${caseName(c)}, ${n} hosts`, unit: 'runs', better: 'lower', ours: [a.length - ok(a).length], ref: [b.length - ok(b).length], refName: 'dnsmasq', note: b.find((r) => r.error)?.error ?? a.find((r) => r.error)?.error });
  }
  return figures;
}
