/**
 * DNS benchmark: 3rc against dnsmasq serving the same 10,000-host zone, in the same run, on the
 * same machine, with dnsperf. Run it with `npx tsc -p . && node dist/bench/dns.js` (not part of
 * npm test). Options (environment): BENCH_SECONDS (per run, default 5), BENCH_ROUNDS (default 3).
 *
 * Queries are A and PTR only, over every host: dnsmasq serves A and PTR from an addn-hosts file
 * but cannot serve HINFO, so HINFO (3rc's reason to exist) is left out of the comparison. Three
 * query files are measured: A only, PTR only, and both shuffled together (50/50). They are
 * reported apart because dnsmasq answers PTR from hosts files by a linear search, so its PTR rate
 * falls with the number of hosts while its A rate does not. Both servers listen on 127.0.0.1 at high ports; dnsmasq runs with -k (lab-notes.md).
 * Runs alternate between the servers (3rc first in odd rounds, dnsmasq first in even ones) and
 * each server gets a 1-second warm-up first; the table reports the median of the rounds.
 * For context, the same dnsperf run (UDP, A) also goes to a bare Node.js UDP echo (it flips QR
 * and sends the query back, no DNS work at all): the ceiling of one Node.js process's dgram
 * socket on this machine, so the UDP numbers of 3rc can be read against it.
 * A run in which dnsperf gives up (dnsmasq closes TCP connections under pipelined load, and
 * dnsperf then stops with "Bad file descriptor") is recorded as failed and left out of the median.
 * Results: a markdown table on stdout, and bench/results-dns.json.
 */
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serve, writeLabConfig, freePort, ROOT } from '../test/lib/serve.js';
import { startDnsmasq } from '../test/dns/upstream.js';

const HOSTS = 10_000;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DNSPERF_ARGS = ['-c', '4', '-q', '128', '-t', '5'];

interface Run {
  qps: number;
  lost: number;
  sent: number;
  avgLatencyMs: number;
  /** Set when dnsperf gave up (e.g. the server closed its TCP connections). */
  error?: string;
}

function hostAt(i: number): { name: string; ip: string; mac: string } {
  const third = 1 + Math.floor(i / 200);
  const fourth = 10 + (i % 200);
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return { name: `h${String(i).padStart(5, '0')}`, ip: `10.77.${third}.${fourth}`, mac: `52:54:01:${hex(i >> 16)}:${hex((i >> 8) & 255)}:${hex(i & 255)}` };
}

function dnsperf(port: number, data: string, seconds: number, mode: 'udp' | 'tcp'): Promise<Run> {
  return new Promise((resolve) => {
    execFile('dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', data, '-l', String(seconds), '-m', mode, ...DNSPERF_ARGS], { timeout: (seconds + 30) * 1000 }, (err, stdout, stderr) => {
      const num = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? NaN);
      const run: Run = {
        qps: num(/Queries per second:\s+([\d.]+)/),
        lost: num(/Queries lost:\s+(\d+)/),
        sent: num(/Queries sent:\s+(\d+)/),
        avgLatencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
      };
      if (err || Number.isNaN(run.qps)) {
        const why = (stderr.split('\n').find((l) => l.startsWith('Error')) ?? err?.message ?? 'no summary').trim();
        resolve({ ...run, qps: Number.isNaN(run.qps) ? 0 : run.qps, error: `dnsperf: ${why}` });
      } else resolve(run);
    });
  });
}

const median = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const hosts = Array.from({ length: HOSTS }, (_, i) => ({ ...hostAt(i), profile: 'debian12', role: i % 2 ? 'services' : 'middleware' }));
  const cfg = await writeLabConfig({
    network: { subnets: [{ cidr: '10.77.0.0/16', router: '10.77.0.1' }] },
    hosts,
    hypervisors: [],
    servers: { dhcp: { enabled: false }, tftp: { enabled: false }, http: { enabled: false }, dns: { ttl: '5m', tcpIdleTimeout: '10s', maxTcpConnections: 256 } },
    log: { level: 'info' },
  });
  // dnsmasq: the same names and addresses; --local makes it answer NXDOMAIN itself for the zone.
  const addnHosts = join(cfg.dir, 'hosts');
  writeFileSync(addnHosts, hosts.map((h) => `${h.ip} ${h.name}.lab.test`).join('\n') + '\n');
  const aLines = hosts.map((h) => `${h.name}.lab.test A`);
  const ptrLines = hosts.map((h) => `${h.ip.split('.').reverse().join('.')}.in-addr.arpa PTR`);
  const lines = [...aLines, ...ptrLines];
  // A fixed shuffle (LCG), the same file for both servers.
  let seed = 12345;
  for (let i = lines.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const j = seed % (i + 1);
    [lines[i], lines[j]] = [lines[j]!, lines[i]!];
  }
  const mixes: Record<string, string> = {};
  for (const [mix, l] of [['A', aLines], ['PTR', ptrLines], ['A+PTR', lines]] as const) {
    mixes[mix] = join(cfg.dir, `queries-${mix}.txt`);
    writeFileSync(mixes[mix]!, l.join('\n') + '\n');
  }

  const dnsmasqPort = await freePort();
  console.error(`starting 3rc (${HOSTS} hosts) on 127.0.0.1:${cfg.ports.dns} and dnsmasq on 127.0.0.1:${dnsmasqPort}`);
  const srv = await serve(cfg, { timeoutMs: 120_000 });
  const dm = await startDnsmasq('127.0.0.1', dnsmasqPort, [`--addn-hosts=${addnHosts}`, '--local=/lab.test/', '--local=/77.10.in-addr.arpa/', '--cache-size=10000', '--dns-forward-max=1000']);
  const targets = { '3rc': cfg.ports.dns, dnsmasq: dnsmasqPort } as const;
  const echo = dgram.createSocket('udp4');
  echo.on('message', (m, r) => {
    m[2]! |= 0x80;
    echo.send(m, r.port, r.address);
  });
  const echoPort = await freePort();
  await new Promise<void>((resolve) => echo.bind(echoPort, '127.0.0.1', () => resolve()));
  echo.setRecvBufferSize(4 * 1024 * 1024);
  const echoRuns: Run[] = [];
  type Name = keyof typeof targets;
  const results: Record<string, Record<Name, Run[]>> = {};
  try {
    for (const mode of ['udp', 'tcp'] as const) {
      for (const [mix, queries] of Object.entries(mixes)) {
        const key = `${mode} ${mix}`;
        results[key] = { '3rc': [], dnsmasq: [] };
        for (const name of Object.keys(targets) as Name[]) await dnsperf(targets[name], queries, 1, mode); // warm-up
        for (let round = 0; round < ROUNDS; round++) {
          const order: Name[] = round % 2 === 0 ? ['3rc', 'dnsmasq'] : ['dnsmasq', '3rc'];
          for (const name of order) {
            const r = await dnsperf(targets[name], queries, SECONDS, mode);
            results[key]![name].push(r);
            console.error(`${key} round ${round + 1} ${name}: ${r.qps.toFixed(0)} q/s, lost ${r.lost}, avg ${r.avgLatencyMs.toFixed(3)} ms${r.error ? ` (${r.error})` : ''}`);
          }
          if (key === 'udp A') {
            const r = await dnsperf(echoPort, queries, SECONDS, 'udp');
            echoRuns.push(r);
            console.error(`${key} round ${round + 1} node-echo: ${r.qps.toFixed(0)} q/s, lost ${r.lost}`);
          }
        }
      }
    }
  } finally {
    echo.close();
    await srv.stop();
    await dm.stop();
    cfg.cleanup();
  }

  const rows: string[] = [
    `DNS, ${HOSTS}-host zone, dnsperf ${DNSPERF_ARGS.join(' ')} -l ${SECONDS}, ${ROUNDS} rounds (median)`,
    '',
    '| transport | queries | server | queries/s | lost | avg latency (ms) | 3rc/dnsmasq |',
    '|---|---|---|---:|---:|---:|---:|',
  ];
  const summary: Record<string, unknown> = {};
  for (const mode of Object.keys(results)) {
    const med = (name: Name) => {
      const runs = results[mode]![name];
      const ok = runs.filter((r) => !r.error);
      const failed = runs.length - ok.length;
      return { qps: median(ok.map((r) => r.qps)), lost: median(ok.map((r) => r.lost)), avgLatencyMs: median(ok.map((r) => r.avgLatencyMs)), failed, runs };
    };
    const a = med('3rc');
    const b = med('dnsmasq');
    const ratio = a.qps / b.qps;
    const [transport, mix] = mode.split(' ');
    const cell = (m: typeof a) => (Number.isNaN(m.qps) ? `failed ${m.failed}/${ROUNDS} | | ` : `${m.qps.toFixed(0)}${m.failed ? ` (${m.failed} failed)` : ''} | ${m.lost} | ${m.avgLatencyMs.toFixed(3)}`);
    rows.push(`| ${transport} | ${mix} | 3rc | ${cell(a)} | ${Number.isFinite(ratio) ? ratio.toFixed(2) : 'n/a'} |`);
    rows.push(`| ${transport} | ${mix} | dnsmasq | ${cell(b)} | |`);
    summary[mode] = { '3rc': a, dnsmasq: b, ratio };
  }
  const echoQps = median(echoRuns.filter((r) => !r.error).map((r) => r.qps));
  rows.push('', `Ceiling of a bare Node.js UDP echo (no DNS work), same dnsperf run, UDP: ${echoQps.toFixed(0)} queries/s (median).`);
  summary.nodeUdpEchoQps = echoQps;
  console.log(rows.join('\n'));
  const out = join(ROOT, 'bench', 'results-dns.json');
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), hosts: HOSTS, seconds: SECONDS, rounds: ROUNDS, dnsperf: DNSPERF_ARGS, mixes: Object.keys(mixes), results: summary }, null, 2) + '\n');
  console.error(`wrote ${out}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
