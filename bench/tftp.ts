/**
 * TFTP throughput: 3rc against tftpd-hpa, same machine, same run, on loopback.
 *
 *   npm run build && node dist/bench/tftp.js [--rounds 3] [--quick]
 *
 * Files: 30 MB (a kernel + initrd class file, generated) and 42 KB (pxelinux.0 size). Clients:
 * 1 and 20 concurrent curl processes, blksize 512 and 1468. Each scenario runs 3rc and tftpd-hpa
 * alternately (the order flips every round), `rounds` times; the table shows the median of the
 * aggregate MB/s (bytes delivered by all clients / wall time of the slowest), failures (curl
 * exit code or size mismatch) summed over the rounds, and the ratio 3rc / tftpd-hpa. Results also
 * go to bench/results-tftp.json. Not part of `npm test`.
 *
 * For the 42 KB file each client fetches it 10 times in a row, so that the number says something
 * about the server and not only about process start-up.
 *
 * On loopback the curl clients share the machine's cores with the server; a single-threaded
 * server gets one thread's fair share against 20 curl processes while tftpd-hpa forks one
 * process per transfer. 3rc's own CPU seconds per GB delivered are reported too (tftpd-hpa's
 * forked children never show in its parent's /proc accounting, so there is no such column for it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort, ROOT, serve, writeLabConfig } from '../test/lib/serve.js';

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 3) || 3;
const quick = args.includes('--quick');

interface Scenario {
  file: string;
  bytes: number;
  clients: number;
  blksize: number;
  /** Fetches per client. */
  repeat: number;
}

interface Run {
  mbps: number;
  failures: number;
  seconds: number;
  /** CPU seconds 3rc used per GB delivered (from /proc; not measurable for tftpd-hpa's children). */
  cpuPerGb: number;
}

/** utime + stime of a process, in seconds (/proc/PID/stat fields 14 and 15). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function runCurl(port: number, s: Scenario): Promise<{ ok: boolean }> {
  return new Promise((resolve) => {
    // One curl per client; `repeat` URLs in one process (curl fetches them in turn).
    const urls: string[] = [];
    for (let i = 0; i < s.repeat; i++) urls.push(`tftp://127.0.0.1:${port}/${s.file}`, '-o', '/dev/null');
    const p = spawn('curl', ['-sS', '--max-time', '300', '--tftp-blksize', String(s.blksize), '-w', '%{size_download}\n', ...urls], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => {
      const sizes = out.trim().split('\n').map(Number);
      resolve({ ok: code === 0 && sizes.length === s.repeat && sizes.every((n) => n === s.bytes) });
    });
  });
}

async function measure(port: number, pid: number, s: Scenario): Promise<Run> {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: s.clients }, () => runCurl(port, s)));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - c0;
  const failures = results.filter((r) => !r.ok).length;
  const delivered = (s.clients - failures) * s.repeat * s.bytes;
  return { mbps: delivered / 1e6 / seconds, failures, seconds, cpuPerGb: delivered > 0 ? cpu / (delivered / 1e9) : NaN };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function startHpa(root: string): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn('/usr/sbin/in.tftpd', ['-L', '-a', `127.0.0.1:${port}`, '-s', root], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  if (proc.exitCode !== null) throw new Error('in.tftpd did not start (is tftpd-hpa installed?)');
  return { port, proc };
}

async function main(): Promise<void> {
  const lab = await writeLabConfig();
  const root = join(lab.dir, 'boot');
  mkdirSync(root, { recursive: true });
  const big = quick ? 5_000_000 : 30_000_000;
  writeFileSync(join(root, 'big.bin'), randomBytes(big));
  writeFileSync(join(root, 'pxelinux.0'), randomBytes(42 * 1024));
  const srv = await serve(lab);
  const hpa = await startHpa(root);
  const servers = [
    { name: '3rc', port: lab.ports.tftp, pid: srv.proc.pid! },
    { name: 'tftpd-hpa', port: hpa.port, pid: hpa.proc.pid! },
  ];
  const scenarios: Scenario[] = [];
  for (const [file, bytes, repeat] of [['big.bin', big, 1], ['pxelinux.0', 42 * 1024, 10]] as const) {
    for (const clients of [1, 20]) for (const blksize of [512, 1468]) scenarios.push({ file, bytes, clients, blksize, repeat });
  }
  const rows: Array<Scenario & { results: Record<string, { runs: Run[]; median: number; failures: number; cpuPerGb: number }> }> = [];
  try {
    // Warm-up: both servers read the files once (3rc's cache, the page cache for tftpd-hpa).
    for (const s of servers) await measure(s.port, s.pid, { ...scenarios[0]!, clients: 1 });
    for (const sc of scenarios) {
      const runs: Record<string, Run[]> = { '3rc': [], 'tftpd-hpa': [] };
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? servers : [...servers].reverse();
        for (const s of order) runs[s.name]!.push(await measure(s.port, s.pid, sc));
      }
      const results = Object.fromEntries(
        Object.entries(runs).map(([k, v]) => [k, { runs: v, median: median(v.map((x) => x.mbps)), failures: v.reduce((a, x) => a + x.failures, 0), cpuPerGb: median(v.map((x) => x.cpuPerGb)) }]),
      );
      rows.push({ ...sc, results });
      const a = results['3rc']!;
      const b = results['tftpd-hpa']!;
      process.stderr.write(`${sc.file} x${sc.clients} blksize ${sc.blksize}: 3rc ${a.median.toFixed(1)} MB/s, tftpd-hpa ${b.median.toFixed(1)} MB/s\n`);
    }
  } finally {
    hpa.proc.kill('SIGTERM');
    await srv.stop();
    lab.cleanup();
  }
  const lines = [
    `TFTP throughput on loopback, ${rounds} rounds, median (aggregate MB/s over all clients; failures summed over rounds)`,
    '',
    '| file | clients | blksize | 3rc MB/s | tftpd-hpa MB/s | ratio 3rc/hpa | failures 3rc | failures hpa | 3rc CPU s/GB |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const a = r.results['3rc']!;
    const b = r.results['tftpd-hpa']!;
    const label = r.file === 'big.bin' ? `${(r.bytes / 1e6).toFixed(0)} MB` : `42 KB x${r.repeat}`;
    lines.push(`| ${label} | ${r.clients} | ${r.blksize} | ${a.median.toFixed(1)} | ${b.median.toFixed(1)} | ${(a.median / b.median).toFixed(2)} | ${a.failures} | ${b.failures} | ${a.cpuPerGb.toFixed(1)} |`);
  }
  console.log(lines.join('\n'));
  writeFileSync(
    join(ROOT, 'bench', 'results-tftp.json'),
    `${JSON.stringify({ at: new Date().toISOString(), rounds, node: process.version, cpus: cpus().length, rows }, null, 2)}\n`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
