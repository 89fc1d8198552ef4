/**
 * `npm run fuzz -- [--packets N] [--seed S] [--only dhcp,tftp,dns,http] [--max-stall-ms 50]
 * [--max-rss-mb 256] [--max-event-rows N] [--tcp-workers dns=128,http=48] [--node-arg ARG]... [--json]`:
 * the fuzz campaign at any size (the CI test runs it small). --node-arg passes an argument to the
 * node process that runs 3rc, for profiling a stall: e.g. --node-arg --cpu-prof
 * --node-arg --cpu-prof-dir=/tmp/prof. Needs root (network namespaces). Exit 0 when every criterion
 * holds, 1 when one fails, 2 for a wrong command line.
 */
import { DEFAULTS, PROTOCOLS, runFuzz, type FuzzOptions, type Protocol } from './harness.js';

function usage(msg: string): never {
  process.stderr.write(`${msg}\nusage: npm run fuzz -- [--packets N] [--seed S] [--only dhcp,tftp,dns,http] [--max-stall-ms MS] [--max-rss-mb MB] [--max-event-rows N] [--tcp-workers N|dns=N,http=M] [--node-arg ARG]... [--json]\n`);
  process.exit(2);
}

const opts: FuzzOptions = { ...DEFAULTS, log: (l) => process.stdout.write(`${l}\n`) };
let json = false;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  const num = () => {
    const v = Number(args[++i]);
    if (!Number.isFinite(v) || v < 0) usage(`${a} needs a number`);
    return v;
  };
  if (a === '--packets') opts.packets = Math.floor(num());
  else if (a === '--seed') opts.seed = Math.floor(num());
  else if (a === '--max-stall-ms') opts.maxStallMs = num();
  else if (a === '--max-rss-mb') opts.maxRssMb = num();
  else if (a === '--max-event-rows') opts.maxEventRows = Math.floor(num());
  else if (a === '--tcp-workers') {
    // N (both) or dns=N,http=M
    const v = args[++i] ?? '';
    const t = { ...opts.tcpWorkers };
    for (const part of v.split(',')) {
      const m = /^(?:(dns|http)=)?(\d+)$/.exec(part);
      if (!m || Number(m[2]) < 1) usage(`--tcp-workers needs N or dns=N,http=M, got ${v}`);
      if (m[1]) t[m[1] as 'dns' | 'http'] = Number(m[2]);
      else t.dns = t.http = Number(m[2]);
    }
    opts.tcpWorkers = t;
  }
  else if (a === '--only') {
    const list = (args[++i] ?? '').split(',').filter(Boolean);
    for (const p of list) if (!(PROTOCOLS as readonly string[]).includes(p)) usage(`unknown protocol ${p}`);
    opts.protocols = list as Protocol[];
  } else if (a === '--node-arg') {
    const v = args[++i];
    if (!v) usage('--node-arg needs a value');
    (opts.nodeArgs ??= []).push(v);
  } else if (a === '--json') json = true;
  else usage(`unknown argument ${a}`);
}
if (json) opts.log = (l) => process.stderr.write(`${l}\n`);
const report = await runFuzz(opts);
if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
process.exit(report.skipped ? 0 : report.pass ? 0 : 1);
