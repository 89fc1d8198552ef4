/**
 * Physical-to-virtual migration, one job per host (`3rc p2v HOST --to HYPERVISOR`):
 *
 * 1. start: the host's boot entry becomes an install of the capture profile (fresh per-install
 *    token), then its power command cycles it (or the operator is asked to reboot it).
 * 2. The capture environment (kickstarts/capture.sh.hbs) reports the hardware and uploads each
 *    disk in gzip chunks with the token (routes in http/p2v-routes.ts); DiskImage writes them
 *    sparse into the shared VM storage. A restarted capture resumes at the first missing chunk.
 * 3. complete: every chunk is there, each image's SHA-256 is recorded, the token is spent and the
 *    boot entry flipped to local (the MAC now belongs to the VM, which boots its disk); the
 *    capture powers the physical host off (p2v.physicalAfter). Chunks sent in order were hashed
 *    as they arrived, so this answers at once; otherwise (chunks out of order, or a 3rc restarted
 *    mid-capture) the images are hashed in the background (phase `verifying`, answer 202, a
 *    retried call starts no second hash) and the capture completes by itself when that is done.
 * 4. The VM is defined on the hypervisor (libvirt: same MAC, the host's CPUs and memory, the
 *    captured disks), the host becomes a VM of that hypervisor in the inventory (its address,
 *    DNS records and role are unchanged), it is started and taken under HA protection.
 *
 * A capture that fails, is cancelled or times out leaves the physical host untouched: nothing is
 * ever written to its disks, and its boot entry goes back to local. Each job's state is an event
 * (`p2v.job`) in the store, so a restarted 3rc carries on with it.
 */
import { mkdirSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Config } from '../config/load.js';
import type { HaView } from '../ha/view.js';
import type { LibvirtDriver } from '../hypervisor/libvirt.js';
import { isDriverError, DriverErrorCodes } from '../hypervisor/driver.js';
import { runShell } from '../hypervisor/fence.js';
import { probeTcp } from '../monitor/probe.js';
import { renderHostCommand } from '../lib/command-template.js';
import type { BootChange, BootTable } from '../inventory/boot-table.js';
import { hostAsInput, type HostCatalog } from '../inventory/catalog.js';
import { tokenIsCurrent, type InstallLifecycle } from '../inventory/install.js';
import type { Host, Inventory } from '../inventory/inventory.js';
import type { Clock, Timer } from '../lib/clock.js';
import { CaptureErrorCodes, ChunkErrorCodes, ConflictError, ErrorCodes, InputError, NotFoundError, ThreeRcError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { processGuard } from '../lib/guard.js';
import { newEvent } from '../events/kinds.js';
import type { Store } from '../store/store.js';
import { ChunkError, DiskImage } from './disk-image.js';
import { p2vDomainXml } from './domain-xml.js';
import { parseHardwareReport, vmShape, type HardwareReport } from './hardware.js';
import { TransferProgress } from './progress.js';
import { p2vTarget, type P2vTarget } from './target.js';

export type P2vPhase = 'booting' | 'capturing' | 'verifying' | 'captured' | 'creating-vm' | 'done' | 'failed' | 'cancelled';
/** Phases in which the capture's token is live (it is spent when the capture completes). */
const CAPTURING: readonly P2vPhase[] = ['booting', 'capturing', 'verifying'];
const FINISHING: readonly P2vPhase[] = ['captured', 'creating-vm'];

/** What is stored of a job (event `p2v.job`), and what the API shows with the progress. */
export interface P2vJob {
  host: string;
  mac: string;
  to: string;
  phase: P2vPhase;
  startedAt: number;
  updatedAt: number;
  /** What is happening now, what the operator must do, or why it failed. */
  message: string;
  /** How the host was made to boot the capture: its power command, or the operator. */
  power: 'command' | 'operator';
  hardware: HardwareReport | null;
  /** The images, as files under p2v.storage, with their SHA-256 once complete. */
  disks: { name: string; bytes: number; file: string; sha256: string | null }[];
  /** CPUs and memory asked for on the command line (else those of the hardware report). */
  overrides: { cpus?: number; memoryMb?: number };
  vm: { cpus: number; memoryMb: number; domainType: string } | null;
  /** The other libvirt hypervisors where the VM is defined too (not started), for HA restarts. */
  standby?: string[];
  /** Under HA protection once done; null before. */
  protectedByHa: boolean | null;
}

export interface P2vProgress {
  bytes: number;
  totalBytes: number;
  percent: number;
  rateBytesPerSec: number | null;
  etaSeconds: number | null;
}

export type P2vJobView = P2vJob & { progress: P2vProgress | null; diskProgress: { name: string; receivedBytes: number; chunks: number; chunksReceived: number }[] };

/** The answer to a capture call that is not refused: 200, or 202 while the images are verified. */
export interface CaptureAnswer {
  status: 200 | 202;
  text: string;
}

/** A refused capture call: one of CaptureErrorCodes and why (http/errors.ts gives its status). */
export class CaptureRefused extends ThreeRcError {
  declare readonly code: CaptureErrorCode;
  constructor(code: CaptureErrorCode, message: string) {
    super(code, message);
  }
}

export type CaptureErrorCode = (typeof CaptureErrorCodes)[keyof typeof CaptureErrorCodes];

/** The part of the libvirt driver a P2V uses. */
export type P2vDriver = Pick<LibvirtDriver, 'define' | 'start' | 'reachable'>;

export interface P2vDeps {
  config: Pick<Config, 'p2v' | 'hypervisors' | 'network' | 'ha'>;
  inventory: Inventory;
  catalog: Pick<HostCatalog, 'put'>;
  bootTable: BootTable;
  install: Pick<InstallLifecycle, 'done'>;
  store: Store;
  clock: Clock;
  log: Logger;
  /** The libvirt driver (virsh over SSH); hypervisors with another driver cannot take a P2V. */
  driver: P2vDriver;
  /** The HA controller's view, read when a VM is ready (it may be built after this service). */
  ha: () => HaView;
  /** Runs a power command on this host. Default: /bin/sh -c with the configured timeout. */
  runPower?: (command: string, timeoutMs: number) => Promise<{ code: number | null; out: string }>;
  /** Wait between the capture's end and the VM's start, for the physical host to power off. Default: 10 s. */
  poweroffGraceMs?: number;
  /** Whether the VM's port answers (its SSH port: HA takes a VM only once it is up). Default: a TCP connect. */
  probe?: (ip: string) => Promise<boolean>;
  /** Port probed before HA protection. Default: 22 (ha.probe.port). */
  probePort?: number;
  /** How long the new VM may take to answer before the P2V counts as failed. Default: 15 min. */
  upTimeoutMs?: number;
}

interface Live {
  images: Map<string, DiskImage>;
  progress: TransferProgress | null;
  timer: Timer | null;
}

export class P2vService {
  private readonly jobsByHost = new Map<string, P2vJob>();
  private readonly live = new Map<string, Live>();
  /** MACs whose boot entry this service is changing right now (not a foreign change). */
  private readonly ownChange = new Set<string>();
  private readonly onBoot = (c: BootChange) => this.bootChanged(c);

  private constructor(private readonly d: P2vDeps) {}

  /** Loads the jobs of the store; unfinished ones carry on. */
  static async load(deps: P2vDeps): Promise<P2vService> {
    const s = new P2vService(deps);
    const events = await deps.store.queryEvents({ kind: 'p2v.job', limit: 10_000 });
    for (const e of events.sort((a, b) => a.id - b.id)) {
      const job = e.data as unknown as P2vJob;
      if (job && typeof job.host === 'string') s.jobsByHost.set(job.host, job);
    }
    deps.bootTable.on('change', s.onBoot);
    for (const job of s.jobsByHost.values()) {
      if (CAPTURING.includes(job.phase)) {
        const entry = deps.bootTable.get(job.mac);
        if (entry?.mode !== 'install' || entry.profile !== deps.config.p2v.profile) await s.fail(job, `the capture's boot entry changed while 3rc was down (now ${entry?.mode ?? 'none'})`);
        else {
          s.armTimeout(job);
          // Its hash in the background was lost with the old process: start it again.
          if (job.phase === 'verifying') s.track(s.verify(job));
        }
      } else if (FINISHING.includes(job.phase)) {
        s.track(s.finish(job));
      }
    }
    return s;
  }

  stop(): void {
    this.d.bootTable.off('change', this.onBoot);
    for (const host of [...this.live.keys()]) this.closeImages(host);
  }

  jobs(): P2vJobView[] {
    return [...this.jobsByHost.values()].map((j) => this.view(j));
  }

  job(host: string): P2vJobView {
    const j = this.jobsByHost.get(host.toLowerCase());
    if (!j) throw new NotFoundError(ErrorCodes.UNKNOWN_HOST, `no P2V of ${JSON.stringify(host)} on record`);
    return this.view(j);
  }

  /** Starts capturing a physical host for a VM on `to`. */
  async start(hostName: string, opts: { to: string; cpus?: number; memoryMb?: number }): Promise<P2vJobView> {
    const host = this.d.inventory.hostByName(hostName);
    if (!host) throw new NotFoundError(ErrorCodes.UNKNOWN_HOST, `no host named ${JSON.stringify(hostName)}`);
    const { p2v } = this.d.config;
    const hv = this.d.config.hypervisors.find((h) => h.name === opts.to);
    if (!hv) throw new InputError(ErrorCodes.P2V, `no hypervisor named ${JSON.stringify(opts.to)} (hypervisors: ${this.d.config.hypervisors.map((h) => h.name).join(', ') || 'none'})`, 'to');
    if (hv.driver !== 'libvirt') throw new InputError(ErrorCodes.P2V, `${hv.name} uses driver ${hv.driver}: a P2V defines the VM through libvirt, so it needs a libvirt hypervisor`, 'to');
    if (host.hypervisor) throw new ConflictError(ErrorCodes.P2V, `${host.name} is a VM already (on ${host.hypervisor})`);
    const prev = this.jobsByHost.get(host.name);
    if (prev && (CAPTURING.includes(prev.phase) || FINISHING.includes(prev.phase))) throw new ConflictError(ErrorCodes.P2V, `a P2V of ${host.name} is in progress (${prev.phase}); cancel it first`);
    const profile = this.d.inventory.profile(p2v.profile);
    if (!profile) throw new ConflictError(ErrorCodes.P2V, `the capture profile ${JSON.stringify(p2v.profile)} (p2v.profile) does not exist: add an installer: image profile with template capture.sh.hbs`);
    if (profile.installer !== 'image') throw new ConflictError(ErrorCodes.P2V, `the capture profile ${p2v.profile} has installer ${profile.installer}; it must be image (the capture runs in the image installer)`);
    // The placement rules and the reserve, before anything changes: a VM no hypervisor may run is
    // not captured (its size is known once the capture reports the hardware: checked again then).
    const early = this.target(host, opts.cpus ?? 0, opts.memoryMb ?? 0, hv.name, this.libvirtHosts());
    if (early.host === null) throw new ConflictError(ErrorCodes.P2V, `${host.name} could run on no hypervisor under the placement rules (ha.rules, its hosts, ha.admission.reserve): ${early.why}; the capture is not started`);
    if (!(await this.d.driver.reachable(hv.name))) throw new ConflictError(ErrorCodes.P2V, `libvirt on ${hv.name} (${hv.address}) does not answer over SSH: the VM could not be defined there, so the capture is not started`);
    // The power commands are filled in before anything changes: a template that cannot be (a
    // placeholder with no value) must not leave the host flipped to the capture.
    let cycle: string | undefined;
    if (host.power) {
      try {
        cycle = renderHostCommand(host.power.cycle, host);
        if (host.power.off) renderHostCommand(host.power.off, host);
      } catch (err) {
        throw new ConflictError(ErrorCodes.P2V, `the power command of ${host.name} cannot be used (hosts[].power): ${(err as Error).message}`);
      }
    }
    mkdirSync(p2v.storage, { recursive: true, mode: 0o700 });
    // The previous capture's images of this host, by their names on record (never by a prefix:
    // host web's images must not take web-db's with them).
    if (prev) this.removeImages(prev.disks.map((d) => d.file));

    const now = this.d.clock.now();
    const job: P2vJob = {
      host: host.name, mac: host.mac, to: hv.name, phase: 'booting', startedAt: now, updatedAt: now,
      message: '', power: host.power ? 'command' : 'operator', hardware: null, disks: [],
      overrides: { ...(opts.cpus ? { cpus: opts.cpus } : {}), ...(opts.memoryMb ? { memoryMb: opts.memoryMb } : {}) },
      vm: null, protectedByHa: null,
    };
    await this.ownChangeOf(host.mac, () => this.d.bootTable.setInstall(host.mac, { profile: p2v.profile, reason: 'p2v-capture' }));
    this.jobsByHost.set(host.name, job);
    if (host.power && cycle !== undefined) {
      const r = await this.runPower(cycle, host.power.timeout);
      if (r.code !== 0) {
        await this.fail(job, `the power command failed (exit ${r.code ?? 'timeout'}: ${r.out.slice(0, 300) || 'no output'}); the host was not touched`);
        return this.view(job);
      }
      job.message = `power-cycled by its power command; waiting for it to boot the capture environment`;
    } else {
      job.message = `reboot ${host.name} (${host.ip}) now, so that it network-boots: its boot entry is the capture (no power command is configured for it)`;
      this.d.log.warn({ host: host.name }, `p2v: ${job.message}`);
    }
    await this.save(job, 'p2v-started');
    this.armTimeout(job);
    return this.view(job);
  }

  /** Stops a capture: the boot entry goes back to local; the capture environment then fails and reboots the host into its own system. */
  async cancel(hostName: string): Promise<P2vJobView> {
    const job = this.jobsByHost.get(hostName.toLowerCase());
    if (!job) throw new NotFoundError(ErrorCodes.UNKNOWN_HOST, `no P2V of ${JSON.stringify(hostName)} on record`);
    if (!CAPTURING.includes(job.phase)) throw new ConflictError(ErrorCodes.P2V, `the P2V of ${job.host} is ${job.phase}: only a capture that has not completed can be cancelled`);
    await this.end(job, 'cancelled', 'cancelled by the operator; the host boots its own disk again (nothing was written to it)', 'p2v-cancelled');
    return this.view(job);
  }

  // ---- the capture environment's calls (token-checked) ------------------------------------

  /** The hardware report; answers the chunk size and where each disk's upload (re)starts. */
  async hardware(mac: string, token: string | undefined, text: string): Promise<string> {
    const job = this.authorize(mac, token);
    if (job.phase === 'verifying') throw new CaptureRefused(CaptureErrorCodes.CONFLICT, 'every disk is in and being verified; the capture completes by itself');
    const parsed = parseHardwareReport(text);
    if ('problems' in parsed) throw new CaptureRefused(CaptureErrorCodes.INVALID, `hardware report refused: ${parsed.problems.join('; ')}`);
    const hw = parsed.report;
    const known = new Map(job.disks.map((d) => [d.name, d]));
    if (job.hardware && (hw.disks.length !== job.disks.length || hw.disks.some((d) => known.get(d.name)?.bytes !== d.bytes))) {
      throw new CaptureRefused(CaptureErrorCodes.CONFLICT, `the disks changed since this capture began (${job.disks.map((d) => `${d.name} ${d.bytes}`).join(', ')}); cancel and start again`);
    }
    job.hardware = hw;
    job.disks = hw.disks.map((d) => known.get(d.name) ?? { name: d.name, bytes: d.bytes, file: `${job.host}-${d.name}.img`, sha256: null });
    // A disk new to this job starts from nothing: a file of that name left by an older capture
    // (whose record is gone) must not be resumed as if it were this one's.
    this.removeImages(job.disks.filter((d) => !known.has(d.name)).map((d) => d.file));
    job.phase = 'capturing';
    job.message = `capturing ${hw.disks.map((d) => `${d.name} (${(d.bytes / 2 ** 30).toFixed(1)} GiB)`).join(', ')}${this.spaceWarning(job)}`;
    const lines = [`chunk_bytes ${this.chunkBytes()}`];
    for (const d of job.disks) lines.push(`disk ${d.name} ${d.bytes} ${(await this.image(job, d.name)).nextChunk()}`);
    this.progressOf(job, true);
    await this.save(job, 'p2v-hardware');
    this.d.log.info({ host: job.host, cpus: hw.cpus, memoryKb: hw.memoryKb, disks: hw.disks, nics: hw.nics }, 'p2v: hardware reported, capture begins');
    return `${lines.join('\n')}\n`;
  }

  /** One gzip chunk of one disk. */
  async chunk(mac: string, token: string | undefined, disk: string, index: number, sha256: string | undefined, body: Readable): Promise<string> {
    const job = this.authorize(mac, token);
    if (job.phase === 'verifying') throw new CaptureRefused(CaptureErrorCodes.CONFLICT, 'every disk is in and being verified; no more chunks are taken');
    if (job.phase !== 'capturing') throw new CaptureRefused(CaptureErrorCodes.CONFLICT, 'send the hardware report first');
    if (!job.disks.some((d) => d.name === disk)) throw new CaptureRefused(CaptureErrorCodes.NOT_FOUND, `${disk} is not a disk of the hardware report (${job.disks.map((d) => d.name).join(', ')})`);
    if (!sha256 || !/^[0-9a-f]{64}$/.test(sha256)) throw new CaptureRefused(CaptureErrorCodes.INVALID, 'header X-3rc-Sha256 must hold the SHA-256 (hex) of the chunk as sent');
    const img = await this.image(job, disk);
    const progress = this.progressOf(job, false);
    try {
      await img.receive(index, body, sha256, (n) => progress?.add(n, this.d.clock.now()));
      return `ok ${index} ${img.receivedBytes()}\n`;
    } catch (err) {
      if (err instanceof ChunkError) throw new CaptureRefused(err.code === ChunkErrorCodes.BUSY ? CaptureErrorCodes.CONFLICT : CaptureErrorCodes.INVALID, `${disk} chunk ${index}: ${err.message}`);
      throw err;
    }
  }

  /**
   * Every disk is in: checksums, the boot entry to local, and the VM is made (in the background).
   * 200 when every image's hash was kept as its chunks arrived; else 202 and the images are
   * hashed in the background (phase verifying), after which the capture completes by itself. A
   * call during verifying answers 202 again and starts nothing.
   */
  async complete(mac: string, token: string | undefined): Promise<CaptureAnswer> {
    const job = this.authorize(mac, token);
    if (job.phase === 'verifying') return { status: 202, text: `verifying ${job.disks.map((d) => d.name).join(' ')}\n` };
    if (job.phase !== 'capturing') throw new CaptureRefused(CaptureErrorCodes.CONFLICT, 'send the hardware report and the disks first');
    const images: DiskImage[] = [];
    for (const d of job.disks) {
      const img = await this.image(job, d.name);
      if (!img.isComplete()) throw new CaptureRefused(CaptureErrorCodes.CONFLICT, `${d.name} is incomplete: chunk ${img.nextChunk()} of ${img.chunkCount} is missing`);
      images.push(img);
    }
    const ready = images.map((img) => img.digestReady());
    if (ready.every((h): h is string => h !== undefined)) {
      job.disks.forEach((d, i) => (d.sha256 = ready[i]!));
      await this.captured(job, token);
      return { status: 200, text: `ok ${job.disks.map((d) => `${d.name}=${d.sha256}`).join(' ')}\n` };
    }
    job.phase = 'verifying';
    job.message = `every disk is in; verifying ${job.disks.map((d) => d.name).join(', ')} (SHA-256 of each image) before the VM is made`;
    await this.save(job, 'p2v-verifying');
    this.track(this.verify(job));
    return { status: 202, text: `verifying ${job.disks.map((d) => d.name).join(' ')}\n` };
  }

  /** Hashes the images of a job in phase verifying, then completes the capture with its current token. */
  private async verify(job: P2vJob): Promise<void> {
    try {
      for (const d of job.disks) {
        if (job.phase !== 'verifying') return;
        d.sha256 = await (await this.image(job, d.name)).sha256();
      }
    } catch (err) {
      if (job.phase === 'verifying') await this.fail(job, `the images could not be verified: ${(err as Error).message}`);
      return;
    }
    // Cancelled or timed out meanwhile: nothing more to do.
    if (job.phase !== 'verifying') return;
    const token = this.d.bootTable.get(job.mac)?.token ?? undefined;
    try {
      await this.captured(job, token);
    } catch (err) {
      await this.fail(job, `the capture could not be completed: ${(err as Error).message}`);
    }
  }

  /** The hashes are recorded: spends the token, flips the boot entry to local and makes the VM. */
  private async captured(job: P2vJob, token: string | undefined): Promise<void> {
    const r = await this.ownChangeOf(job.mac, () => this.d.install.done(job.mac, token));
    if (r.status !== 'ok') throw new CaptureRefused(r.status === 'gone' ? CaptureErrorCodes.GONE : CaptureErrorCodes.FORBIDDEN, r.status === 'unknown' ? 'unknown host' : r.why);
    this.closeImages(job.host);
    job.phase = 'captured';
    job.message = `captured (${job.disks.map((d) => `${d.name} sha256 ${d.sha256}`).join(', ')}); creating the VM on ${job.to}`;
    await this.save(job, 'p2v-captured');
    this.d.log.info({ host: job.host, disks: job.disks }, 'p2v: capture complete');
    this.track(this.finish(job));
  }

  // ---- after the capture ------------------------------------------------------------------

  private async finish(job: P2vJob): Promise<void> {
    const { p2v } = this.d.config;
    try {
      job.phase = 'creating-vm';
      await this.save(job, 'p2v-creating-vm');
      const host = this.d.inventory.hostByName(job.host);
      if (!host) throw new Error(`${job.host} is no longer in the inventory`);
      // The VM takes the host's MAC and address: the physical host must be off first.
      await this.sleep(this.d.poweroffGraceMs ?? 10_000);
      if (p2v.physicalAfter === 'poweroff' && host.power?.off) {
        const r = await this.runPower(renderHostCommand(host.power.off, host), host.power.timeout);
        if (r.code !== 0) this.d.log.warn({ host: job.host, code: r.code, out: r.out.slice(0, 300) }, 'p2v: the power-off command failed (the capture powers the host off itself)');
      }
      const hw = job.hardware!;
      const shape = vmShape(hw);
      const vm = { cpus: job.overrides.cpus ?? shape.cpus, memoryMb: job.overrides.memoryMb ?? shape.memoryMb, domainType: p2v.domainType };
      job.vm = vm;
      const dir = p2v.hypervisorStorage ?? p2v.storage;
      const xml = p2vDomainXml({
        name: job.host, mac: job.mac, cpus: vm.cpus, memoryMb: vm.memoryMb, bridge: p2v.bridge, domainType: p2v.domainType, firmware: hw.firmware,
        disks: job.disks.map((d, i) => ({ path: join(dir, d.file), target: `vd${String.fromCharCode(97 + i)}` })),
        serialLog: join(dir, `${job.host}.console.log`),
      });
      await this.d.driver.define(job.to, xml);
      // Defined (not started) on the other libvirt hypervisors too, on the same shared disks: the
      // HA controller can then restart it there when its host fails.
      const standby: string[] = [];
      for (const other of this.d.config.hypervisors.filter((h) => h.driver === 'libvirt' && h.name !== job.to)) {
        try {
          await this.d.driver.define(other.name, xml);
          standby.push(other.name);
        } catch (err) {
          this.d.log.warn({ host: job.host, hypervisor: other.name, err: (err as Error).message }, 'p2v: cannot define the VM there as a standby; HA cannot restart it on that host');
        }
      }
      // Where it starts: `to` when the placement rules and the reserve allow it, else where the
      // planner puts it among the hypervisors it is defined on.
      const asked = job.to;
      const target = this.target(host, vm.cpus, vm.memoryMb, asked, [asked, ...standby]);
      if (target.host === null) throw new Error(`no hypervisor it is defined on may run it under the placement rules: ${target.why}`);
      if (target.host !== asked) {
        this.d.log.warn({ host: job.host, asked, to: target.host, why: target.why }, 'p2v: the VM starts on another hypervisor than asked (placement rules)');
        job.to = target.host;
        standby.splice(standby.indexOf(target.host), 1, asked);
      }
      job.standby = standby;
      // The host becomes a VM of that hypervisor; its name, MAC, address and role stay.
      await this.d.catalog.put({ ...hostAsInput(host), hypervisor: job.to, cpus: vm.cpus, memoryMb: vm.memoryMb }, host.name);
      try {
        await this.d.driver.start(job.to, job.host);
      } catch (err) {
        if (!isDriverError(err, DriverErrorCodes.ALREADY_RUNNING)) throw err;
      }
      // HA takes the VM once it is up: started in `running` while it still boots, the controller
      // would see a dead VM and power-cycle it.
      const port = this.d.probePort ?? 22;
      const upTimeout = this.d.upTimeoutMs ?? 15 * 60_000;
      job.message = `the VM is defined and started on ${job.to}; waiting for it to answer on port ${port}`;
      await this.save(job, 'p2v-vm-started');
      const probe = this.d.probe ?? (async (ip: string) => (await probeTcp(ip, port, 2000)).open);
      const upBy = this.d.clock.now() + upTimeout;
      while (!(await probe(host.ip))) {
        if (this.d.clock.now() >= upBy) throw new Error(`the VM runs on ${job.to} but did not answer on ${host.ip} port ${port} within ${Math.round(upTimeout / 60_000)} min (see its console ${join(dir, `${job.host}.console.log`)}); it is not under HA protection`);
        await this.sleep(5000);
      }
      let ha = '';
      try {
        const adopted = this.d.ha().adopt({ name: host.name, mac: host.mac, host: job.to, reinstall: host.reinstall, priority: host.priority, cpus: vm.cpus, memoryMb: vm.memoryMb });
        job.protectedByHa = true;
        ha = adopted ? ', under HA protection' : ', under HA protection already';
      } catch (err) {
        job.protectedByHa = false;
        ha = `; NOT under HA protection: ${(err as Error).message}`;
      }
      job.phase = 'done';
      job.message = `${job.host} runs as a VM on ${job.to} (${vm.cpus} CPU, ${vm.memoryMb} MiB, ${job.disks.length} disk(s))${target.why ? ` (not on ${asked}: ${target.why})` : ''}${standby.length ? `, defined on ${standby.join(', ')} too` : ''}${ha}`;
      if (p2v.physicalAfter === 'reboot') job.message += `; the physical host reboots into its own system with the same MAC and address: keep it off this network`;
      await this.save(job, 'p2v-done');
      this.d.log.info({ host: job.host, to: job.to, vm }, `p2v: ${job.message}`);
    } catch (err) {
      await this.fail(job, `creating the VM on ${job.to} failed: ${(err as Error).message}. The images are in ${p2v.storage}; the physical host is untouched with boot entry local: power it on to go back, or fix the cause and run 3rc p2v again`);
    }
  }

  // ---- helpers ----------------------------------------------------------------------------

  private authorize(mac: string, token: string | undefined): P2vJob {
    const job = [...this.jobsByHost.values()].find((j) => j.mac === mac && CAPTURING.includes(j.phase));
    if (!job) throw new CaptureRefused(CaptureErrorCodes.NOT_FOUND, 'no capture is running for this host');
    if (!tokenIsCurrent(this.d.bootTable.get(mac), token)) throw new CaptureRefused(CaptureErrorCodes.FORBIDDEN, 'the token is not the current capture token of this host');
    return job;
  }

  /** A warning when the storage has less room than the disks (images are sparse: they may still fit). */
  private spaceWarning(job: P2vJob): string {
    try {
      const st = statfsSync(this.d.config.p2v.storage);
      const free = st.bavail * st.bsize;
      const need = totalBytes(job);
      if (free >= need) return '';
      this.d.log.warn({ host: job.host, free, need }, 'p2v: the VM storage may be too small');
      return `; WARNING: ${this.d.config.p2v.storage} has ${(free / 2 ** 30).toFixed(1)} GiB free for ${(need / 2 ** 30).toFixed(1)} GiB of disks (empty space is not stored, so it may still fit)`;
    } catch {
      return '';
    }
  }

  /** The libvirt hypervisors (where a P2V's VM is defined). */
  private libvirtHosts(): string[] {
    return this.d.config.hypervisors.filter((h) => h.driver === 'libvirt').map((h) => h.name);
  }

  /** Where the VM may start (p2vTarget) in the cluster as the HA controller sees it; without a controller here, where asked. */
  private target(host: Host, cpus: number, memoryMb: number, to: string, candidates: readonly string[]): P2vTarget {
    const cluster = this.d.ha().cluster?.();
    if (!cluster) return { host: to, why: '' };
    const vm = { name: host.name, cpus, memoryMb, priority: host.priority, hosts: host.hosts, hostsRequired: host.hostsRequired };
    return p2vTarget(cluster, vm, to, candidates, this.d.config.ha.admission.reserve);
  }

  /** Runs a change of the boot entry of `mac` that bootChanged() must not take for a foreign one. */
  private async ownChangeOf<T>(mac: string, change: () => Promise<T>): Promise<T> {
    this.ownChange.add(mac);
    try {
      return await change();
    } finally {
      this.ownChange.delete(mac);
    }
  }

  /** Runs one of a host's power commands (hosts[].power) on this machine. */
  private runPower(command: string, timeoutMs: number): Promise<{ code: number | null; out: string }> {
    return (this.d.runPower ?? runShell)(command, timeoutMs);
  }

  private chunkBytes(): number {
    return this.d.config.p2v.chunkMb * 1024 * 1024;
  }

  private liveOf(host: string): Live {
    let l = this.live.get(host);
    if (!l) this.live.set(host, (l = { images: new Map(), progress: null, timer: null }));
    return l;
  }

  private async image(job: P2vJob, disk: string): Promise<DiskImage> {
    const l = this.liveOf(job.host);
    let img = l.images.get(disk);
    if (!img) {
      const d = job.disks.find((x) => x.name === disk)!;
      img = await DiskImage.open({ path: join(this.d.config.p2v.storage, d.file), bytes: d.bytes, chunkBytes: this.chunkBytes() });
      l.images.set(disk, img);
    }
    return img;
  }

  private progressOf(job: P2vJob, reset: boolean): TransferProgress | null {
    const l = this.liveOf(job.host);
    if ((reset || !l.progress) && job.disks.length) {
      l.progress = new TransferProgress(totalBytes(job), this.d.clock.now());
      const done = [...l.images.values()].reduce((a, i) => a + i.receivedBytes(), 0);
      if (done) l.progress.add(done, this.d.clock.now());
    }
    return l.progress;
  }

  private view(job: P2vJob): P2vJobView {
    const l = this.live.get(job.host);
    const diskProgress = job.disks.map((d) => {
      const img = l?.images.get(d.name);
      const chunks = Math.ceil(d.bytes / this.chunkBytes());
      if (!img) return { name: d.name, receivedBytes: d.sha256 ? d.bytes : 0, chunks, chunksReceived: d.sha256 ? chunks : 0 };
      return { name: d.name, receivedBytes: img.receivedBytes(), chunks: img.chunkCount, chunksReceived: img.receivedChunks() };
    });
    const p = l?.progress?.view(this.d.clock.now()) ?? null;
    return { ...structuredClone(job), progress: p, diskProgress };
  }

  private armTimeout(job: P2vJob): void {
    const l = this.liveOf(job.host);
    l.timer?.cancel();
    const left = Math.max(0, job.startedAt + this.d.config.p2v.timeout - this.d.clock.now());
    l.timer = this.d.clock.schedule(left, () => {
      if (CAPTURING.includes(job.phase)) this.track(this.end(job, 'failed', `the capture did not complete within p2v.timeout; the host boots its own disk again`, 'p2v-timeout'));
    });
  }

  /** A change of the capture's boot entry by someone else (install failed or expired, an operator). */
  private bootChanged(c: BootChange): void {
    if (this.ownChange.has(c.entry.mac)) return;
    const job = [...this.jobsByHost.values()].find((j) => j.mac === c.entry.mac && CAPTURING.includes(j.phase));
    if (!job || (c.entry.mode === 'install' && c.entry.profile === this.d.config.p2v.profile)) return;
    const why = c.reason === 'install-failed' ? 'the capture environment reported a failure (see the host events for its log)' : `its boot entry was changed to ${c.entry.mode} (${c.reason})`;
    this.track(this.fail(job, `capture failed: ${why}; the host boots its own disk again (nothing was written to it)`));
  }

  private async end(job: P2vJob, phase: 'failed' | 'cancelled', message: string, reason: string): Promise<void> {
    const entry = this.d.bootTable.get(job.mac);
    if (entry?.mode === 'install' && entry.profile === this.d.config.p2v.profile) {
      await this.ownChangeOf(job.mac, () => this.d.bootTable.setLocal(job.mac, { reason, result: 'failed' }));
    }
    job.phase = phase;
    job.message = message;
    this.closeImages(job.host);
    await this.save(job, reason);
    this.d.log.warn({ host: job.host, reason }, `p2v: ${message}`);
  }

  private fail(job: P2vJob, message: string): Promise<void> {
    return this.end(job, 'failed', message, 'p2v-failed');
  }

  private closeImages(host: string): void {
    const l = this.live.get(host);
    if (!l) return;
    l.timer?.cancel();
    for (const img of l.images.values()) processGuard.own('p2v', this.d.log, `closing the image of ${host}`, img.close());
    this.live.delete(host);
  }

  /** Deletes images (and their sidecars) by their exact file names under p2v.storage. */
  private removeImages(files: readonly string[]): void {
    const dir = this.d.config.p2v.storage;
    for (const f of files) for (const suffix of ['', '.chunks.json', '.chunks.json.tmp']) rmSync(join(dir, `${f}${suffix}`), { force: true });
  }

  private async save(job: P2vJob, reason: string): Promise<void> {
    job.updatedAt = this.d.clock.now();
    await this.d.store.write([{ op: 'appendEvent', event: newEvent('p2v.job', { at: job.updatedAt, mac: job.mac, host: job.host, reason }, structuredClone(job) as unknown as Record<string, unknown>) }]);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.d.clock.schedule(ms, resolve));
  }

  private readonly inflight = new Set<Promise<unknown>>();
  private track(p: Promise<unknown>): void {
    const q = p.catch((err: unknown) => this.d.log.error({ err }, 'p2v: unexpected error')).finally(() => this.inflight.delete(q));
    this.inflight.add(q);
  }

  /** Resolves once no background step runs (tests). */
  async idle(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }
}


function totalBytes(job: P2vJob): number {
  return job.disks.reduce((a, d) => a + d.bytes, 0);
}

