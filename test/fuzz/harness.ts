/**
 * The fuzz campaign: 3rc serves DHCP, TFTP, DNS and HTTP in a network namespace;
 * random and mutated packets reach it from random sources (raw sockets, port 0 included), one
 * protocol after the other; after each protocol the pass criteria are checked and printed:
 * - the process is alive (if it died, the reason is shown and 3rc is started again, so that the
 *   other protocols are still fuzzed);
 * - a real client is still answered (udhcpc, tftp-hpa and curl tftp://, dig over UDP and TCP,
 *   curl);
 * - no event-loop stall over 50 ms, as the process itself measures it
 *   (threerc_eventloop_stall_max_seconds, reset at each read);
 * - RSS stays under --max-rss-mb at every batch's end (its peak): a Node process's RSS first
 *   rises to its working set (V8 grows the old space under many connections with bodies of up to
 *   256 kB, and heapUsed falls back after each major GC), so bounded means a ceiling, not a
 *   growth of zero; the growth over the second half of the packets is printed beside it, where a
 *   leak would show as growth that does not level off;
 * - the store's events table stays within the retention limits 3rc is configured with here
 *   (FUZZ_EVENTS: the smallest maxEvents, a small write budget): its boot-trace rows at most
 *   maxEvents, plus what the budgets let in during one retention interval (known hosts' writes,
 *   the unknown-MAC rows of the current and the previous minute); --max-event-rows overrides that
 *   bound. Its record rows (events/kinds.ts RECORD_KINDS) are not counted by maxEvents and stay
 *   for maxAge (14 days: longer than any campaign) whatever their number, so they have their own
 *   bound: what authenticated callers did (RECORDS_PER_CALL for each request that carried the API
 *   or the install token). Row counts are read from a copy of the database file (the serving 3rc
 *   holds the file exclusively).
 * Topology: namespace srv (3rc at 10.77.0.1/24, 10.77.0.0/16 routed to cli) and namespace cli
 * (10.77.0.2, .10, .14 on a veth; the liveness check host's MAC), no route out. Needs root.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parse } from 'yaml';
import Database from 'better-sqlite3';
import { Lab, netnsUnavailable } from '../lib/netns.js';
import { LAB_YAML, ROOT, writeLabConfig, type LabConfig } from '../lib/serve.js';
import { serveInNetns, type NsServed } from '../dhcp/ns-serve.js';
import { dhcpJob } from './dhcp.js';
import { dnsTcpJob, dnsUdpJob } from './dns.js';
import { Executor, PYTHON } from './executor.js';
import { httpJob, type HttpContext } from './http.js';
import { Rng } from './random.js';
import { PRUNE_INTERVAL_MS } from '../../src/store/retention.js';
import { RECORD_KINDS } from '../../src/events/kinds.js';
import { collectSeeds, describeSeeds, type Seeds } from './seeds.js';
import { CHECK_HOST, CLIENT, CLIENT_ADDRS, FUZZ_HOST, isMartian, SERVER, type Job } from './sources.js';
import { openingRrq, tftpRequestJob, tftpTransferJob, type OpenTransfer } from './tftp.js';
import { attribute, PauseProbe, stallsIn, type Attribution, type Stall } from './pauses.js';

export const PROTOCOLS = ['dhcp', 'tftp', 'dns', 'http'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export interface FuzzOptions {
  /** Packets (HTTP: requests; DNS over TCP: messages) per protocol. */
  packets: number;
  seed: number;
  protocols: readonly Protocol[];
  maxStallMs: number;
  /** Ceiling for 3rc's RSS, sampled at the end of every batch. */
  maxRssMb: number;
  /** Bound for the events table's boot-trace rows; default: the retention bound of FUZZ_EVENTS (eventBound). */
  maxEventRows?: number;
  /**
   * TCP exchanges in flight at once, per protocol. Most end at once, but one whose request 3rc
   * rightly waits on (a body shorter than its Content-Length, a DNS frame cut short) lasts its
   * whole wait: with few in flight those set the pace of the campaign. With many, a burst of that
   * many requests is ready in one turn of 3rc's event loop, and it handles them all before its
   * timers: HTTP costs about 0.6 ms of CPU per request here (express, JSON), so 48 at once stay
   * under the 50 ms criterion on an idle machine, 128 do not; a DNS message costs a tenth of it.
   */
  tcpWorkers: { dns: number; http: number };
  /** Extra arguments for the node process that runs 3rc (profiling: --cpu-prof, --trace-gc...). */
  nodeArgs?: string[];
  /** Where progress and results go (one line each). */
  log: (line: string) => void;
}

export const DEFAULTS: Omit<FuzzOptions, 'log'> = { packets: 3000, seed: 19, protocols: PROTOCOLS, maxStallMs: 50, maxRssMb: 256, tcpWorkers: { dns: 128, http: 48 } };

/**
 * The event limits of the 3rc under test: small, so that the campaign shows that they hold (with
 * the defaults, 200000 rows, a campaign would never reach them).
 */
export const FUZZ_EVENTS = { maxEvents: 1000, writesPerSecond: 20, unknownMacsPerMinute: 64 };

/** Boot-trace rows the events table may hold under FUZZ_EVENTS: see the module comment. */
export function eventBound(e: typeof FUZZ_EVENTS): number {
  return e.maxEvents + e.writesPerSecond * (PRUNE_INTERVAL_MS / 1000) + 2 * 2 * (e.unknownMacsPerMinute + 1);
}

/**
 * Record rows one request with a credential may append: a host created, changed or deleted, or
 * a boot-table change, through the API token; through the install token, install.done|failed,
 * the boot.set that follows and install.host-keys; and the install.expired of an install it
 * started. Nothing else writes records here: the fuzzed 3rc runs no HA controller (ha.enabled is
 * false in lab.yaml: no ha.* nor hypervisor.* rows), a refused P2V call is trace, and a P2V job
 * needs the install token.
 */
export const RECORDS_PER_CALL = 4;

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ProtocolResult {
  protocol: Protocol;
  packets: number;
  seconds: number;
  packetsPerSecond: number;
  /** threerc_eventloop_stall_max_seconds over the campaign, ms (null: not measured). */
  stallMs: number | null;
  /** The largest of 3rc's stall reports once the machine's own pauses are taken out (pauses.ts), ms. */
  ownStallMs: number;
  /** The machine's longest pause meanwhile (a real-time probe's oversleep), ms. */
  machinePauseMs: number;
  /** threerc_eventloop_delay_max_seconds (wall clock, including waits for a CPU), ms. */
  delayMs: number | null;
  rssBeforeMb: number | null;
  rssAfterMb: number | null;
  /** Largest RSS seen at a batch's end, and RSS when half the packets were sent. */
  rssPeakMb: number | null;
  rssHalfMb: number | null;
  eventsBefore: number;
  eventsAfter: number;
  handlerErrors: number | null;
  dropped: number | null;
  /** How many packets were sent through the server namespace's loopback (martian sources). */
  martian: number;
  /** TCP exchanges by outcome (HTTP status line, "no answer"...). */
  tcpOutcomes: Record<string, number>;
  checks: Check[];
  pass: boolean;
}

export interface FuzzReport {
  skipped?: string;
  seeds: string[];
  results: ProtocolResult[];
  pass: boolean;
}

/** Why the campaign cannot run here, or undefined. */
export function fuzzUnavailable(): string | undefined {
  const why = netnsUnavailable();
  if (why) return why;
  for (const tool of [PYTHON, '/usr/bin/dig', '/usr/bin/tftp', '/usr/bin/curl', '/usr/sbin/udhcpc']) if (!existsSync(tool)) return `needs ${tool}`;
  return undefined;
}

/** Prometheus text -> sum of every sample of `name` (labels ignored), or null when absent. */
export function metric(text: string, name: string): number | null {
  // A counter with no sample yet is declared (# TYPE) but has no line: that is 0.
  let sum: number | null = text.includes(`# TYPE ${name} `) ? 0 : null;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) sum = (sum ?? 0) + v;
  }
  return sum;
}

function rssMb(pid: number | undefined): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Rows of the events table, read from a copy: the WAL first, then the main file, so that a
 * checkpoint in between leaves frames that are already in the copied file (idempotent).
 */
function eventRows(dbPath: string, scratch: string): { rows: number; records: number } {
  const copy = join(scratch, `events-${Date.now()}-${Math.random().toString(36).slice(2)}.db`);
  try {
    if (existsSync(`${dbPath}-wal`)) copyFileSync(`${dbPath}-wal`, `${copy}-wal`);
    copyFileSync(dbPath, copy);
    const db = new Database(copy);
    try {
      return db.prepare('SELECT count(*) AS rows, coalesce(sum(kind IN (SELECT value FROM json_each(?))), 0) AS records FROM events').get(JSON.stringify(RECORD_KINDS)) as { rows: number; records: number };
    } finally {
      db.close();
    }
  } finally {
    for (const f of [copy, `${copy}-wal`, `${copy}-shm`]) rmSync(f, { force: true });
  }
}

const DNS_PING = Buffer.from('12340100000100000000000004766d3130036c61620474657374000001 0001'.replace(/\s/g, ''), 'hex');

/** The campaign's world: namespaces, 3rc, the two packet executors. */
class World {
  readonly lab = new Lab('fz');
  srv = '';
  cli = '';
  cliIf = '';
  cfg!: LabConfig;
  served!: NsServed;
  cliExec!: Executor;
  srvExec!: Executor;
  apiToken = randomBytes(24).toString('base64url');
  bootFile = randomBytes(30_000);
  restarts: string[] = [];

  constructor(private readonly nodeArgs: string[] = []) {}

  async setUp(): Promise<void> {
    this.srv = this.lab.netns('srv');
    this.cli = this.lab.netns('cli');
    const { ifB } = this.lab.link(this.srv, `${SERVER}/24`, this.cli, `${CLIENT}/16`, { mac: CHECK_HOST.mac });
    this.cliIf = ifB;
    for (const a of CLIENT_ADDRS.slice(1)) execFileSync('ip', ['-n', this.cli, 'addr', 'add', `${a}/32`, 'dev', ifB]);
    // Replies to sources beyond the /24 go to the client namespace (which drops them) instead of
    // waiting for an ARP answer per address.
    execFileSync('ip', ['-n', this.srv, 'route', 'add', '10.77.0.0/16', 'via', CLIENT]);
    const base = parse(readFileSync(LAB_YAML, 'utf8')) as { hosts: unknown[] };
    this.cfg = await writeLabConfig({
      servers: { dhcp: { listen: '0.0.0.0', port: 67 }, tftp: { listen: SERVER, port: 69 }, dns: { listen: SERVER, port: 53 }, http: { listen: SERVER, port: 80 } },
      hosts: [...base.hosts, { name: CHECK_HOST.name, mac: CHECK_HOST.mac, ip: CHECK_HOST.ip, profile: 'debian12', role: 'services' }, { name: FUZZ_HOST.name, mac: FUZZ_HOST.mac, ip: FUZZ_HOST.ip, profile: 'debian12', role: 'middleware' }],
      p2v: { storage: 'vms' },
      events: FUZZ_EVENTS,
    });
    const boot = join(this.cfg.dir, 'boot');
    mkdirSync(join(boot, 'debian-installer', '12', 'amd64'), { recursive: true });
    writeFileSync(join(boot, 'pxelinux.0'), this.bootFile);
    writeFileSync(join(boot, 'ldlinux.c32'), randomBytes(2000));
    writeFileSync(join(boot, 'big.bin'), randomBytes(2_000_000));
    writeFileSync(join(boot, 'debian-installer', '12', 'amd64', 'linux'), randomBytes(5000));
    symlinkSync('/etc/hostname', join(boot, 'link-out')); // a symlink out of the root: must never be served
    writeFileSync(join(this.cfg.dir, 'api-token'), `${this.apiToken}\n`, { mode: 0o600 });
    await this.start();
    this.cliExec = new Executor(this.lab, this.cli, ROOT, 'cli');
    this.srvExec = new Executor(this.lab, this.srv, ROOT, 'srv');
  }

  async start(): Promise<void> {
    this.served = await serveInNetns(this.lab, this.srv, this.cfg, { timeoutMs: 30_000, nodeArgs: this.nodeArgs });
  }

  /** Starts 3rc again after it died; its start-up does not count as a stall of the campaign. */
  async restart(): Promise<void> {
    await this.start();
    this.resetStall();
  }

  /**
   * Reads /metrics twice: the stall gauges reset when read, and the first scrape of a fresh
   * process (prom-client's first collection, cold code) may itself stall the loop.
   */
  resetStall(): void {
    this.metrics();
    this.metrics();
    this.scanStalls();
    this.stallReports = [];
  }

  alive(): boolean {
    return this.served.proc.exitCode === null && this.served.proc.signalCode === null;
  }

  /** Why 3rc died: exit code or signal and the last lines it wrote. */
  death(): string {
    const p = this.served.proc;
    const err = this.served.stderr().trim().split('\n').filter(Boolean);
    const fatal = err.find((l) => /^\w*Error\b|\bcode: '/.test(l.trim())) ?? err.find((l) => /Error/.test(l)) ?? err[0] ?? '';
    const at = err.find((l) => /^\s+at .*\/(src|dist)\//.test(l))?.trim() ?? '';
    const lastLog = this.served.lines.slice(-2).join(' ').slice(0, 400);
    return `exit code ${p.exitCode}, signal ${p.signalCode}; stderr: ${fatal.trim().slice(0, 300) || '(none)'}${at ? ` ${at.slice(0, 200)}` : ''}; last log: ${lastLog}`;
  }

  /** Keeps the harness's copy of 3rc's log short (a long run logs a lot); its stall reports are kept. */
  trimLog(): void {
    this.scanStalls();
    if (this.served.lines.length > 2000) {
      this.served.lines.splice(0, this.served.lines.length - 500);
      this.scanned = this.served.lines.length;
    }
  }

  /** 3rc's 'event loop stalled' reports since the last resetStall(). */
  stalls(): Stall[] {
    this.scanStalls();
    return this.stallReports;
  }

  private stallReports: Stall[] = [];
  private scanned = 0;
  private scanning: string[] | undefined;

  private scanStalls(): void {
    const lines = this.served.lines;
    if (this.scanning !== lines) {
      this.scanning = lines; // 3rc started again: a new log
      this.scanned = 0;
    }
    this.stallReports.push(...stallsIn(lines.slice(this.scanned)));
    this.scanned = lines.length;
  }

  cliRun(cmd: string, args: string[], timeoutMs = 20_000): { ok: boolean; out: string } {
    try {
      return { ok: true, out: this.lab.exec(this.cli, cmd, args, { timeoutMs }) };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message?: string };
      return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || (e.message ?? '') };
    }
  }

  metrics(): string | null {
    const r = this.cliRun('curl', ['-sS', '--max-time', '10', `http://${SERVER}/metrics`], 15_000);
    return r.ok ? r.out : null;
  }

  async destroy(): Promise<void> {
    try {
      await this.cliExec?.close();
      await this.srvExec?.close();
      if (this.served && this.alive()) await this.served.stop();
    } finally {
      await this.lab.destroy();
      this.cfg?.cleanup();
    }
  }
}

/** The real client of each protocol, from the client namespace. */
function realClientChecks(w: World, p: Protocol): Check[] {
  const out = join(w.cfg.dir, `got-${p}`);
  switch (p) {
    case 'dhcp': {
      const env = join(w.cfg.dir, 'udhcpc.env');
      const script = join(w.cfg.dir, 'udhcpc.sh');
      writeFileSync(script, `#!/bin/sh\n[ "$1" = bound ] && env > ${env}\nexit 0\n`);
      chmodSync(script, 0o755);
      rmSync(env, { force: true });
      const r = w.cliRun('udhcpc', ['-i', w.cliIf, '-q', '-n', '-f', '-t', '4', '-T', '1', '-s', script], 25_000);
      const ip = existsSync(env) ? /^ip=(.*)$/m.exec(readFileSync(env, 'utf8'))?.[1] : undefined;
      return [{ name: 'udhcpc gets its reserved address', ok: ip === CHECK_HOST.ip, detail: ip ? `ip ${ip}` : `no lease: ${r.out.split('\n').slice(-2).join(' ')}` }];
    }
    case 'tftp': {
      const a = w.cliRun('tftp', [SERVER, '-m', 'binary', '-c', 'get', 'pxelinux.0', out]);
      const okA = existsSync(out) && readFileSync(out).equals(w.bootFile);
      rmSync(out, { force: true });
      const b = w.cliRun('curl', ['-sS', '--max-time', '15', '--tftp-blksize', '1468', '-o', out, `tftp://${SERVER}/pxelinux.0`]);
      const okB = b.ok && existsSync(out) && readFileSync(out).equals(w.bootFile);
      return [
        { name: 'tftp-hpa gets pxelinux.0 intact', ok: okA, detail: okA ? `${w.bootFile.length} bytes` : a.out.slice(0, 200) || 'file differs' },
        { name: 'curl tftp:// gets pxelinux.0 intact', ok: okB, detail: okB ? `${w.bootFile.length} bytes` : b.out.slice(0, 200) || 'file differs' },
      ];
    }
    case 'dns': {
      const u = w.cliRun('dig', [`@${SERVER}`, '+short', '+tries=2', '+time=3', 'vm10.lab.test', 'A']);
      const t = w.cliRun('dig', [`@${SERVER}`, '+short', '+tcp', '+tries=2', '+time=3', 'vm10.lab.test', 'A']);
      return [
        { name: 'dig (UDP) resolves vm10', ok: u.out.trim() === '10.77.0.10', detail: u.out.trim().slice(0, 200) || '(no answer)' },
        { name: 'dig +tcp resolves vm10', ok: t.out.trim() === '10.77.0.10', detail: t.out.trim().slice(0, 200) || '(no answer)' },
      ];
    }
    case 'http': {
      const h = w.cliRun('curl', ['-sS', '--max-time', '10', `http://${SERVER}/api/v1/health`]);
      let status = '';
      try {
        status = (JSON.parse(h.out) as { status?: string }).status ?? '';
      } catch {
        status = h.out.slice(0, 200);
      }
      const f = w.cliRun('curl', ['-sS', '--max-time', '10', '-o', out, `http://${SERVER}/boot/files/pxelinux.0`]);
      const okF = f.ok && existsSync(out) && readFileSync(out).equals(w.bootFile);
      return [
        { name: 'curl /api/v1/health answers ok', ok: status === 'ok', detail: status || '(no answer)' },
        { name: 'curl gets /boot/files/pxelinux.0 intact', ok: okF, detail: okF ? `${w.bootFile.length} bytes` : f.out.slice(0, 200) || 'file differs' },
      ];
    }
  }
}

/** Sends one job through the right executor: martian sources via the server's loopback. */
async function send(w: World, job: Job, counts: { martian: number }): Promise<void> {
  if (job.type === 'tcp') return w.cliExec.tcp(job.bind, SERVER, job.dport, job.payload, job);
  if (isMartian(job.src.address)) {
    counts.martian++;
    return w.srvExec.raw(job.src, job.dst ?? SERVER, job.dport, job.payload);
  }
  // A datagram over the link fits its MTU (1500): the raw socket does not fragment.
  return w.cliExec.raw(job.src, job.dst ?? SERVER, job.dport, job.payload.subarray(0, 1472));
}

/**
 * Waits until 3rc has read what was sent: a DNS query from each executor that sent something,
 * behind the packets on the same path (the veth queue, the loopback), and the TCP exchanges.
 * Returns false when 3rc does not answer (it died, or it is stuck).
 */
async function settle(w: World, usedSrv: boolean): Promise<boolean> {
  await w.cliExec.sync();
  // A short wait first (a dead 3rc is noticed quickly), a long one if it is alive but slow.
  const ping = async (e: Executor, from: string) => (await e.udp(from, SERVER, 53, DNS_PING, { waitMs: 1500 })).recv > 0 || (w.alive() && (await e.udp(from, SERVER, 53, DNS_PING, { waitMs: 5000 })).recv > 0);
  let ok = await ping(w.cliExec, CLIENT);
  if (usedSrv) ok = (await ping(w.srvExec, SERVER)) && ok;
  return ok;
}

/** Times 3rc is started again within one protocol after it died. */
const MAX_RESTARTS = 3;

interface Counts {
  martian: number;
  /** Batches after which 3rc, alive, did not answer the DNS ping. */
  stuck: number;
  /** TFTP transfers a real socket asked for (an RRQ for a served file) that got no answer within 3 s. */
  unopened: { count: number; detail: string[] };
  deaths: { summary: string; stderr: string }[];
  /** TFTP transfers real sockets opened, whose ports were fuzzed. */
  transfers: number;
  /** Deaths in the current phase (TFTP: request port, then transfer ports). */
  phaseDeaths: number;
  /** RSS samples at batch ends (MB): the peak, and the first one past half of the packets. */
  rssPeak: number | null;
  rssHalf: number | null;
}

/** Sends `n` packets of one protocol; if 3rc dies, records it and starts it again (MAX_RESTARTS times). */
async function drive(w: World, p: Protocol, n: number, rng: Rng, seeds: Seeds, ctx: HttpContext, counts: Counts, tcpWorkers: number | null): Promise<number> {
  // A batch ends with a liveness ping; TCP batches are larger so that the exchanges that last
  // their whole wait overlap (see tcpWorkers).
  const batch = tcpWorkers ? 4 * tcpWorkers : 64;
  if (tcpWorkers) await w.cliExec.pool(tcpWorkers);
  let sent = 0;
  /** Packets a stopped phase did not send. */
  let skipped = 0;
  let usedSrv = false;
  const endBatch = async (): Promise<boolean> => {
    if (!(await settle(w, usedSrv))) {
      if (w.alive()) counts.stuck++;
    }
    usedSrv = false;
    if (!w.alive()) {
      // Recorded (the criterion fails), then 3rc is started again so that the rest of this
      // protocol's packets still reach it; after MAX_RESTARTS deaths the protocol stops.
      counts.deaths.push({ summary: w.death(), stderr: w.served.stderr() });
      if (++counts.phaseDeaths > MAX_RESTARTS) return false;
      await w.restart();
    }
    const rss = rssMb(w.served.proc.pid);
    if (rss !== null) {
      counts.rssPeak = Math.max(counts.rssPeak ?? 0, rss);
      if (counts.rssHalf === null && sent >= n / 2) counts.rssHalf = rss;
    }
    w.trimLog();
    return true;
  };
  const pump = async (next: () => Job, count: (j: Job) => number, until: number): Promise<boolean> => {
    let inBatch = 0;
    while (sent < until) {
      const job = next();
      const before = counts.martian;
      await send(w, job, counts);
      if (counts.martian !== before) usedSrv = true;
      sent += count(job);
      inBatch++;
      if (inBatch >= batch) {
        inBatch = 0;
        if (!(await endBatch())) return false;
      }
    }
    return endBatch();
  };
  const one = () => 1;
  switch (p) {
    case 'dhcp':
      await pump(() => dhcpJob(rng, seeds.dhcp), one, n);
      break;
    case 'dns':
      await pump(() => (rng.chance(0.7) ? dnsUdpJob(rng, seeds.dnsUdp) : dnsTcpJob(rng, seeds.dnsTcp)), (j) => (j.type === 'tcp' ? j.messages : 1), n);
      break;
    case 'http':
      await pump(() => httpJob(rng, seeds.http, ctx), one, n);
      break;
    case 'tftp': {
      // Half on the request port, half on the ports of transfers real sockets opened.
      if (!(await pump(() => tftpRequestJob(rng, seeds.tftp), one, Math.ceil(n / 2)))) {
        // Stopped by deaths: the transfer ports still get their half, on a fresh 3rc.
        skipped += Math.ceil(n / 2) - sent;
        sent = Math.ceil(n / 2);
        if (!w.alive()) await w.restart();
      }
      counts.phaseDeaths = 0;
      const perTransfer = 100;
      while (sent < n && w.alive()) {
        const bind = rng.pick(CLIENT_ADDRS);
        const opened = await w.cliExec.udp(bind, SERVER, 69, openingRrq(), { waitMs: 3000, keep: true });
        if (!opened.from_port || !opened.local_port) {
          await w.cliExec.closeUdp(opened.id);
          counts.unopened.count++;
          if (counts.unopened.detail.length < 3) counts.unopened.detail.push(`from ${bind}:${opened.local_port ?? '?'} after ${sent} packets${opened.err ? ` (${opened.err})` : ''}`);
          if (!(await endBatch())) break;
          continue;
        }
        const t: OpenTransfer = { port: opened.from_port, client: { address: bind, port: opened.local_port } };
        counts.transfers++;
        const ok = await pump(() => tftpTransferJob(rng, seeds.tftpTransfer, t), one, Math.min(n, sent + perTransfer));
        await w.cliExec.closeUdp(opened.id);
        if (!ok) break;
      }
      break;
    }
  }
  return sent - skipped;
}

/** fz1 in install mode, and its install token (from the render the API token may read). */
function prepareHttp(w: World): HttpContext {
  // The PUT below is a credentialed call.
  const ctx: HttpContext = { apiToken: w.apiToken, credentialed: 1 };
  const auth = ['-H', `Authorization: Bearer ${w.apiToken}`];
  w.cliRun('curl', ['-sS', '--max-time', '10', '-X', 'PUT', ...auth, '-H', 'Content-Type: application/json', '-d', '{"mode":"install","reason":"fuzz"}', `http://${SERVER}/api/v1/hosts/${FUZZ_HOST.name}/boot`]);
  const r = w.cliRun('curl', ['-sS', '--max-time', '10', ...auth, `http://${SERVER}/api/v1/hosts/${FUZZ_HOST.name}/render`]);
  const m = /token=([A-Za-z0-9_-]{8,})/.exec(r.out);
  if (m) ctx.installToken = m[1];
  return ctx;
}

/** A request or answer head as text when it is text (HTTP), else its first 32 bytes in hex (DNS). */
function printable(latin1: string): string {
  if (/^[\x20-\x7e]*$/.test(latin1)) return JSON.stringify(latin1);
  const b = Buffer.from(latin1, 'latin1');
  return `0x${b.subarray(0, 32).toString('hex')}${b.length > 32 ? '…' : ''}`;
}

const mb = (v: number | null) => (v === null ? '?' : `${v.toFixed(1)} MB`);
const ms = (v: number | null) => (v === null ? '?' : `${v.toFixed(1)} ms`);

function stallDetail(stallMs: number, who: Attribution, limit: number): string {
  const machine = `the machine itself paused up to ${ms(who.machineMaxMs)} (a real-time probe's oversleep)`;
  if (stallMs <= limit) return `largest ${ms(stallMs)}; ${machine}`;
  if (who.stalls === 0) return `largest ${ms(stallMs)}, not reported in the log (no 'event loop stalled' line to place it); ${machine}`;
  return `largest ${ms(stallMs)}; ${who.stalls} stall(s) over ${limit} ms, ${who.covered} within the machine's own pauses; largest once those are taken out ${ms(who.ownMaxMs)}; ${machine}`;
}

/** Runs the campaign and prints what it finds; never throws for a failing criterion. */
export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const skipped = fuzzUnavailable();
  if (skipped) {
    opts.log(`fuzz: skipped: ${skipped}`);
    return { skipped, seeds: [], results: [], pass: true };
  }
  const w = new World(opts.nodeArgs);
  const scratch = mkdtempSync(join(tmpdir(), '3rc-fuzz-'));
  const results: ProtocolResult[] = [];
  let seedLines: string[] = [];
  let probe: PauseProbe | undefined;
  try {
    await w.setUp();
    probe = new PauseProbe(ROOT);
    const seeds = await collectSeeds(ROOT, w.apiToken);
    seedLines = describeSeeds(seeds);
    opts.log(`fuzz: seed ${opts.seed}, ${opts.packets} packets per protocol; 3rc pid ${w.served.proc.pid} in namespace ${w.srv} at ${SERVER}; clients in ${w.cli}`);
    opts.log('fuzz: seeds (packets mutated from real clients):');
    for (const l of seedLines) opts.log(l);
    const dbPath = (w.cfg.data.store as { path: string }).path;
    const rng = new Rng(opts.seed);
    // Records: those at the start, and what the credentialed calls of every phase so far may add.
    const recordsAtStart = eventRows(dbPath, scratch).records;
    let credentialed = 0;
    for (const p of opts.protocols) {
      const checks: Check[] = [];
      if (!w.alive()) {
        opts.log(`fuzz ${p}: 3rc is not running (${w.death()}); starting it again`);
        await w.restart();
      }
      const ctx = p === 'http' ? prepareHttp(w) : { apiToken: w.apiToken };
      const pid = w.served.proc.pid;
      w.resetStall(); // what follows measures this protocol only
      const since = Date.now();
      const rssBefore = rssMb(pid);
      const eventsBefore = eventRows(dbPath, scratch).rows;
      const before = new Map(w.cliExec.tcpOutcomes);
      w.cliExec.slowest = [];
      const counts: Counts = { martian: 0, stuck: 0, unopened: { count: 0, detail: [] }, deaths: [], phaseDeaths: 0, transfers: 0, rssPeak: rssBefore, rssHalf: null };
      const t0 = performance.now();
      const packets = await drive(w, p, opts.packets, rng, seeds, ctx, counts, p === 'http' || p === 'dns' ? opts.tcpWorkers[p] : null);
      const seconds = (performance.now() - t0) / 1000;
      const alive = w.alive();
      if (alive && w.served.proc.pid !== pid) opts.log(`fuzz ${p}: 3rc now runs as pid ${w.served.proc.pid} (started again after dying)`);
      const text = alive ? w.metrics() : null;
      const stallS = text ? metric(text, 'threerc_eventloop_stall_max_seconds') : null;
      const delayS = text ? metric(text, 'threerc_eventloop_delay_max_seconds') : null;
      const rssAfter = alive ? rssMb(w.served.proc.pid) : null;
      const { rows: eventsAfter, records } = eventRows(dbPath, scratch);
      credentialed += ctx.credentialed ?? 0;
      const tcpOutcomes: Record<string, number> = {};
      for (const [k, v] of w.cliExec.tcpOutcomes) if (v - (before.get(k) ?? 0) > 0) tcpOutcomes[k] = v - (before.get(k) ?? 0);
      const died = counts.deaths.length;
      checks.push({
        name: 'process alive',
        ok: alive && died === 0,
        detail: died === 0 ? (alive ? `pid ${pid}` : `died: ${w.death()}`) : `died ${died} time(s), started again each time (a phase stops after ${MAX_RESTARTS + 1}); first: ${counts.deaths[0]!.summary}`,
      });
      if (counts.stuck) checks.push({ name: 'answers DNS pings between batches', ok: false, detail: `${counts.stuck} batches without an answer within 5 s` });
      if (counts.unopened.count) checks.push({ name: 'answers a real TFTP client\'s request for a transfer', ok: false, detail: `${counts.unopened.count} requests without an answer within 3 s: ${counts.unopened.detail.join('; ')}` });
      if (alive) checks.push(...realClientChecks(w, p));
      else checks.push({ name: 'real client', ok: false, detail: 'not tried: the process died' });
      const stallMs = stallS === null ? null : stallS * 1000;
      // A stall the machine's own pauses cover (its host stopped the VM) is not 3rc's: the check
      // asks that none be left over 50 ms once they are taken out, and prints both.
      const stalls = w.stalls().filter((x) => x.end >= since); // a report read late may predate the phase
      const pauses = probe!.pauses(since);
      const who = attribute(stalls, pauses, opts.maxStallMs);
      for (const s of stalls.filter((x) => x.ownMs > opts.maxStallMs).slice(0, 10)) {
        const near = pauses.filter((q) => Math.abs(q.end - s.end) < 1000).map((q) => `${q.ms.toFixed(1)} ms ended ${q.end - s.end} ms from it`);
        opts.log(`  stall ${new Date(s.end).toISOString()}: own ${ms(s.ownMs)}, delay ${ms(s.delayMs)}; machine pauses within 1 s: ${near.join(', ') || 'none'}`);
      }
      const stallOk = stallMs !== null && (stallMs <= opts.maxStallMs || (who.stalls > 0 && who.ownMaxMs <= opts.maxStallMs));
      checks.push({ name: `no event-loop stall over ${opts.maxStallMs} ms`, ok: stallOk, detail: stallMs === null ? 'not measured (process dead or no threerc_eventloop_stall_max_seconds)' : stallDetail(stallMs, who, opts.maxStallMs) });
      const peak = rssAfter === null ? counts.rssPeak : Math.max(counts.rssPeak ?? 0, rssAfter);
      checks.push({
        name: `RSS stays under ${opts.maxRssMb} MB`,
        ok: peak !== null && peak <= opts.maxRssMb,
        detail: `peak ${mb(peak)}; ${mb(rssBefore)} at the start, ${mb(counts.rssHalf)} at half of the packets, ${mb(rssAfter)} at the end`,
      });
      const rows = eventsAfter - eventsBefore;
      const bound = opts.maxEventRows ?? eventBound(FUZZ_EVENTS);
      const recordBound = recordsAtStart + RECORDS_PER_CALL * credentialed;
      checks.push({
        name: `events table within its retention bound (${bound} boot-trace rows; records: ${RECORDS_PER_CALL} per credentialed call)`,
        ok: eventsAfter - records <= bound && records <= recordBound,
        detail: `${eventsBefore} -> ${eventsAfter} (+${rows}); ${eventsAfter - records} boot trace, ${records} records (at most ${recordBound}: ${recordsAtStart} at the start, ${credentialed} credentialed calls)`,
      });
      const r: ProtocolResult = {
        protocol: p, packets, seconds, packetsPerSecond: packets / seconds, stallMs, delayMs: delayS === null ? null : delayS * 1000, ownStallMs: who.ownMaxMs, machinePauseMs: who.machineMaxMs,
        rssBeforeMb: rssBefore, rssAfterMb: rssAfter, rssPeakMb: peak, rssHalfMb: counts.rssHalf, eventsBefore, eventsAfter,
        handlerErrors: text ? metric(text, 'threerc_handler_errors_total') : null, dropped: text ? metric(text, 'threerc_packets_dropped_total') : null,
        martian: counts.martian, tcpOutcomes, checks, pass: checks.every((c) => c.ok),
      };
      results.push(r);
      opts.log(
        `fuzz ${p}: ${packets} packets (${counts.martian} with martian sources via the server's loopback${p === 'tftp' ? `; ${counts.transfers} transfers opened by real sockets and their ports fuzzed` : ''}) in ${seconds.toFixed(1)} s = ${Math.round(r.packetsPerSecond)} packets/s; ` +
          `largest stall ${ms(stallMs)} (wall-clock delay ${ms(r.delayMs)}); RSS ${mb(rssBefore)} -> ${mb(counts.rssHalf)} (half) -> ${mb(rssAfter)}, peak ${mb(peak)}; events ${eventsBefore} -> ${eventsAfter}; ` +
          `handler errors ${r.handlerErrors ?? '?'}, dropped sources ${r.dropped ?? '?'}`,
      );
      if (Object.keys(tcpOutcomes).length) opts.log(`  tcp outcomes: ${Object.entries(tcpOutcomes).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} x${v}`).join(', ')}`);
      if (w.cliExec.slowest.length) opts.log(`  slowest answers: ${w.cliExec.slowest.map((x) => `${x.ms.toFixed(0)} ms ${printable(x.sent)} -> ${printable(x.head)}`).join('; ')}`);
      for (const c of checks) opts.log(`  ${c.ok ? 'PASS' : 'FAIL'} ${c.name}: ${c.detail}`);
      const stderrs = [...new Set(counts.deaths.map((d) => d.stderr.trim().split('\n').slice(0, 14).join('\n')))];
      for (const e of stderrs) for (const l of e.split('\n')) opts.log(`  | ${l}`);
    }
    const rawErr = { ...w.cliExec.rawErrors, ...w.srvExec.rawErrors };
    if (Object.keys(rawErr).length) opts.log(`fuzz: raw sends refused by the kernel: ${JSON.stringify(rawErr)}`);
  } finally {
    probe?.stop();
    await w.destroy();
    rmSync(scratch, { recursive: true, force: true });
  }
  const pass = results.length === opts.protocols.length && results.every((r) => r.pass);
  opts.log(`fuzz: ${pass ? 'PASS' : 'FAIL'} (${results.filter((r) => r.pass).map((r) => r.protocol).join(', ') || 'none'} passed${results.some((r) => !r.pass) ? `; failed: ${results.filter((r) => !r.pass).map((r) => r.protocol).join(', ')}` : ''})`);
  return { seeds: seedLines, results, pass };
}
