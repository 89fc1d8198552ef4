/**
 * Every benchmark in one run: `npm run bench` (= build, then `node dist/bench/run.js`).
 *
 *   node dist/bench/run.js [--rounds N] [--only dhcp,tftp,dns,http,storm,ha,pxeboot] [--quick] [--noisy] [--out DIR]
 *
 * Starts each reference server itself (dnsmasq, tftpd-hpa, kea-dhcp4) on loopback or in namespaces it
 * creates, alternates 3rc and the reference within each round, and writes DIR/results.md (the
 * table: figure, 3rc, reference, ratio of the medians, with the machine line and the load average
 * before and after) and DIR/results.json (every round's raw numbers). DIR defaults to bench/.
 * --quick: tiny sizes, one round (a smoke run; test/bench-quick.test.ts runs it); it never writes
 * bench/ (without --out it writes a fresh temporary directory, and names it); it leaves out what
 * boots qemu (pxeboot), saying so.
 * A full run refuses to start when the 1-minute load average is over 1.0 (figures taken beside
 * other work are noise), unless --noisy is given; the results then say so. Needs root for the
 * namespaces. Ctrl-C removes every namespace and process it started.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../test/lib/serve.js';
import { dhcpUnavailable, runDhcp } from './dhcp.js';
import { dnsUnavailable, runDns, DNS_NOTE } from './dns.js';
import { haNote, runHa } from './ha.js';
import { httpUnavailable, runHttp, HTTP_NOTE } from './http.js';
import { cleanupAll, installSignalHandlers } from './lib/cleanup.js';
import type { Figure } from './lib/figures.js';
import { load, machine } from './lib/machine.js';
import type { BenchOptions } from './lib/options.js';
import { writeResults, type RunRecord } from './lib/report.js';
import { runStorm, stormUnavailable, STORM_NOTE } from './storm/storm.js';
import { runTftp, tftpNote, tftpUnavailable } from './tftp.js';
import { pxeBootUnavailable, runPxeBoot, PXEBOOT_NOTE, PXEBOOT_QUICK_SKIP } from './pxe-boot.js';

const DHCP_NOTE = '**DHCP**: perfdhcp (Kea) offers DORA exchanges at a fixed rate against two pairs, each alternated in the same run: 3rc with store.sync full (every ACKed lease fsynced) against dnsmasq (its lease file, --no-ping), and 3rc with store.sync normal (no fsync per commit) against ISC Kea 2.2 (kea-dhcp4, memfile lease file, written but not fsynced). Same 10,000 reservations and 919-address pools, a fresh server and empty lease store for every run, in two namespaces linked by a veth. perfdhcp always acts as a relay agent (giaddr = its address, replies unicast to port 67): "giaddr on the server link" is a relay on the server\'s own segment, "relayed from a remote subnet" has giaddr in another subnet reached by a route. The rate sweep (1,000 to 16,000/s offered, 200 clients, 50 reservations) shows each server\'s ceiling and what happens past it. Exchanges still in flight when the period ends count as drops. dnsmasq looks dhcp-host entries up by a linear search, so its rate falls with the size of the inventory. The RSS rows, with the 10,000-host inventory: VmRSS a second after the server is ready (before any packet), and VmHWM read at the end of each run.';

interface Bench {
  name: string;
  unavailable: () => string | undefined;
  run: (o: BenchOptions) => Promise<Figure[]>;
  note: () => string;
  /** Why --quick leaves it out (printed, not listed as skipped: the smoke run skips nothing else). */
  quickSkip?: string;
}

const BENCHES: Bench[] = [
  { name: 'dhcp', unavailable: dhcpUnavailable, run: runDhcp, note: () => DHCP_NOTE },
  { name: 'tftp', unavailable: tftpUnavailable, run: runTftp, note: tftpNote },
  { name: 'dns', unavailable: dnsUnavailable, run: runDns, note: () => DNS_NOTE },
  { name: 'http', unavailable: httpUnavailable, run: runHttp, note: () => HTTP_NOTE },
  { name: 'storm', unavailable: stormUnavailable, run: runStorm, note: () => STORM_NOTE },
  { name: 'ha', unavailable: () => undefined, run: runHa, note: haNote },
  { name: 'pxeboot', unavailable: pxeBootUnavailable, run: runPxeBoot, note: () => PXEBOOT_NOTE, quickSkip: PXEBOOT_QUICK_SKIP },
];

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { rounds: { type: 'string' }, only: { type: 'string' }, quick: { type: 'boolean', default: false }, noisy: { type: 'boolean', default: false }, out: { type: 'string' } },
  });
  const quick = values.quick ?? false;
  const rounds = values.rounds ? Number(values.rounds) : quick ? 1 : 3;
  if (!Number.isInteger(rounds) || rounds < 1) {
    console.error('bench: --rounds must be a positive integer');
    return 2;
  }
  const only = values.only ? values.only.split(',').map((s) => s.trim()).filter(Boolean) : [];
  const unknown = only.filter((o) => !BENCHES.some((b) => b.name === o));
  if (unknown.length) {
    console.error(`bench: unknown benchmark ${unknown.join(', ')} (have: ${BENCHES.map((b) => b.name).join(', ')})`);
    return 2;
  }
  const committed = join(ROOT, 'bench');
  if (quick && values.out && resolve(values.out) === committed) {
    console.error(`bench: a --quick run never writes ${committed} (its results.md is the measured one): give another --out`);
    return 2;
  }
  const out = values.out ?? (quick ? mkdtempSync(join(tmpdir(), '3rc-bench-quick-')) : committed);
  const noisy = values.noisy ?? false;
  const before = load();
  if (!quick && !noisy && before[0] > 1) {
    console.error(`bench: the machine is busy (1-minute load average ${before[0]} > 1.0): figures taken now are noise. Wait until it is quiet, or pass --noisy (the results then say so).`);
    return 2;
  }
  installSignalHandlers();
  const opts: BenchOptions = { rounds, quick, log: (l) => console.error(l) };
  const record: RunRecord = {
    started: new Date().toISOString(), finished: '', machine: machine(), loadBefore: before, loadAfter: [0, 0, 0],
    options: { rounds, quick, only, noisy }, figures: [], skipped: [], notes: [],
  };
  let failed = 0;
  for (const b of BENCHES) {
    if (only.length && !only.includes(b.name)) continue;
    if (quick && b.quickSkip) {
      console.error(`bench ${b.name}: not run in --quick: ${b.quickSkip}`);
      continue;
    }
    const why = b.unavailable();
    if (why) {
      console.error(`bench ${b.name}: skipped: ${why}`);
      record.skipped.push({ bench: b.name, reason: why });
      continue;
    }
    const t0 = Date.now();
    console.error(`bench ${b.name}: starting (${rounds} round${rounds > 1 ? 's' : ''}${quick ? ', quick' : ''})`);
    try {
      record.figures.push(...(await b.run(opts)));
      record.notes.push(b.note());
      console.error(`bench ${b.name}: done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    } catch (err) {
      failed++;
      console.error(`bench ${b.name}: failed:`, err);
      record.skipped.push({ bench: b.name, reason: `failed: ${(err as Error).message.split('\n')[0]}` });
      await cleanupAll();
    }
  }
  record.finished = new Date().toISOString();
  record.loadAfter = load();
  const files = writeResults(out, record);
  console.error(`bench: wrote ${files.md} and ${files.json}`);
  return failed ? 1 : 0;
}

const code = await main().catch(async (err: unknown) => {
  console.error(err);
  await cleanupAll();
  return 1;
});
process.exitCode = code;
