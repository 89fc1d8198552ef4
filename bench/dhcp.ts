/**
 * DHCP benchmark: perfdhcp against 3rc and dnsmasq in the same run, same pool (a /22 pool of 919
 * addresses, 800 simulated clients), in network namespaces (10.77.0.0/22, no route out). Needs
 * root. Run with `npx tsc -p . && node dist/bench/dhcp.js` (not part of npm test).
 * Environment: BENCH_SECONDS (per run, default 5), BENCH_ROUNDS (default 2), BENCH_RATES
 * (comma-separated offered rates in 4-way exchanges/s, default 250,500,1000,2000).
 *
 * perfdhcp acts as a relay (giaddr = its address), offering DORA exchanges at a fixed rate; each
 * (server, rate) run starts a fresh server with an empty lease store. Reported: the exchanges/s
 * perfdhcp measured over the run, and the drops (DISCOVER-OFFER + REQUEST-ACK; exchanges still in
 * flight when the period ends count as drops, a few per run; perfdhcp's -W is not used because
 * its wait is counted in the rate). "best" is the highest rate
 * reached with under 1% drops. dnsmasq runs with -k and --no-ping (by default it pings every new
 * address for up to 3 s before offering it, lab-notes.md), -p 0 (no DNS). 3rc runs with its store
 * at sync full (every ACKed lease fsynced: survives power loss) and at sync normal (survives
 * kill -9). dnsmasq runs with its lease file (rewritten whole at every change: its durable
 * mode) and with --leasefile-ro (no lease storage at all: an upper bound, not like-for-like).
 * Results: a markdown table on stdout, and bench/results-dhcp.json.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, netnsUnavailable } from '../test/lib/netns.js';
import { ROOT, writeLabConfig } from '../test/lib/serve.js';
import { serveInNetns } from '../test/dhcp/ns-serve.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const RATES = (process.env.BENCH_RATES ?? '250,500,1000,2000').split(',').map(Number);
const CLIENTS = 800;
const POOL = { start: '10.77.0.100', end: '10.77.3.250' };

interface Run {
  server: string;
  offered: number;
  rate: number;
  sent: number;
  drops: number;
}

type Server = { name: string; start(lab: Lab, ns: string, dir: string): Promise<() => Promise<unknown>> };

const threeRc = (sync: 'full' | 'normal'): Server => ({
  name: `3rc (sync ${sync})`,
  async start(lab, ns) {
    const cfg = await writeLabConfig({
      log: { level: 'info' }, // per-packet lines are debug; info prints "3rc ready"
      store: { sync },
      servers: { dhcp: { listen: '0.0.0.0', port: 67, ratePerMac: 10_000 } },
      network: { subnets: [{ cidr: '10.77.0.0/22', router: '10.77.0.1', pool: POOL }] },
    });
    const s = await serveInNetns(lab, ns, cfg);
    return async () => {
      await s.stop();
      cfg.cleanup();
    };
  },
});

const dnsmasq = (leaseFile: boolean): Server => ({
  name: leaseFile ? 'dnsmasq (lease file)' : 'dnsmasq (--leasefile-ro)',
  async start(lab, ns, dir) {
    const p = lab.spawn(ns, '/usr/sbin/dnsmasq', [
      ...(leaseFile ? [] : ['--leasefile-ro']),
      '-k', '-p', '0', '-C', '/dev/null', '--no-ping', '-u', 'root', '--dhcp-authoritative', '--quiet-dhcp',
      `--dhcp-range=${POOL.start},${POOL.end},255.255.252.0,1h`, '--dhcp-option=3,10.77.0.1',
      `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`, '--dhcp-lease-max=5000', `--pid-file=${join(dir, 'dnsmasq.pid')}`,
    ]);
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await new Promise((r) => setTimeout(r, 700));
    if (p.exitCode !== null) throw new Error(`dnsmasq exited: ${err}`);
    return async () => {
      p.kill('SIGTERM');
      if (p.exitCode === null) await new Promise((r) => p.once('exit', r));
      rmSync(join(dir, 'dnsmasq.leases'), { force: true });
    };
  },
});

function perfdhcp(lab: Lab, ns: string, rate: number): Promise<{ rate: number; sent: number; drops: number; out: string }> {
  return new Promise((resolve, reject) => {
    const p = lab.spawn(ns, 'perfdhcp', ['-4', '-r', String(rate), '-R', String(CLIENTS), '-p', String(SECONDS), '-l', '10.77.0.2', '10.77.0.1']);
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), (SECONDS + 30) * 1000);
    p.once('exit', () => {
      clearTimeout(t);
      const r = /Rate: ([\d.]+) 4-way exchanges\/second/.exec(out);
      if (!r) return reject(new Error(`perfdhcp output not understood:\n${out}`));
      const sent = [...out.matchAll(/sent packets: (\d+)/g)].map((m) => Number(m[1]));
      const drops = [...out.matchAll(/drops: (\d+)/g)].map((m) => Number(m[1]));
      resolve({ rate: Number(r[1]), sent: sent.reduce((a, b) => a + b, 0), drops: drops.reduce((a, b) => a + b, 0), out });
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function main(): Promise<void> {
  const why = netnsUnavailable();
  if (why) {
    console.error(`bench/dhcp: ${why}`);
    process.exit(2);
  }
  const servers = [threeRc('full'), threeRc('normal'), dnsmasq(true), dnsmasq(false)];
  const runs: Run[] = [];
  const lab = new Lab('bd');
  const dir = mkdtempSync(join(tmpdir(), '3rc-bench-dhcp-'));
  try {
    const srv = lab.netns('srv');
    const cli = lab.netns('cli');
    lab.link(srv, '10.77.0.1/22', cli, '10.77.0.2/22');
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? servers : [...servers].reverse();
      for (const rate of RATES) {
        for (const s of order) {
          const stop = await s.start(lab, srv, dir);
          try {
            const r = await perfdhcp(lab, cli, rate);
            runs.push({ server: s.name, offered: rate, rate: r.rate, sent: r.sent, drops: r.drops });
            console.error(`round ${round + 1} ${s.name} @${rate}/s: ${r.rate.toFixed(0)} exchanges/s, ${r.drops} drops of ${r.sent}`);
          } finally {
            await stop();
          }
        }
      }
    }
  } finally {
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
  const lines = ['| server | offered/s | exchanges/s (median) | drops % (median) |', '|---|---|---|---|'];
  const best: Record<string, number> = {};
  for (const s of servers) {
    for (const rate of RATES) {
      const rs = runs.filter((r) => r.server === s.name && r.offered === rate);
      const ex = median(rs.map((r) => r.rate));
      const dp = median(rs.map((r) => (100 * r.drops) / Math.max(1, r.sent)));
      lines.push(`| ${s.name} | ${rate} | ${ex.toFixed(0)} | ${dp.toFixed(2)} |`);
      if (dp < 1) best[s.name] = Math.max(best[s.name] ?? 0, ex);
    }
  }
  console.log(lines.join('\n'));
  console.log('\nbest rate with < 1% drops: ' + Object.entries(best).map(([k, v]) => `${k} ${v.toFixed(0)}/s`).join(', '));
  writeFileSync(join(ROOT, 'bench', 'results-dhcp.json'), JSON.stringify({ date: new Date().toISOString(), seconds: SECONDS, rounds: ROUNDS, clients: CLIENTS, pool: POOL, runs, best }, null, 2) + '\n');
}

await main();
