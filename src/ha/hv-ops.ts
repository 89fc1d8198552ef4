/**
 * `3rc hv reinstall NAME` and `3rc hv roll` inside `3rc serve`: the sequences of reinstall-hv.ts
 * and roll.ts wired to the HA controller (drain, undrain, the cluster view), the boot table (the
 * install flip and its install-done result), the hypervisor driver (SSH and libvirt answer) and
 * each hypervisor's BMC. Steps are recorded as `hypervisor.drain` events (reason
 * `reinstall-<step>-<outcome>`), and the progress is kept for GET /api/v1/hv and `3rc status`.
 * A roll's progress is also written at each change (`hypervisor.roll` events): a restarted 3rc
 * shows where the roll was cut (restore), and `3rc hv roll --resume` goes on from there without
 * re-imaging a host (roll-state.ts). `3rc hv roll --cancel` stops it after the current host.
 */
import type { BmcDriver } from '../bmc/driver.js';
import type { BootTable } from '../inventory/boot-table.js';
import type { Inventory } from '../inventory/inventory.js';
import type { Clock } from '../lib/clock.js';
import { ConflictError, ErrorCodes, InputError, NotFoundError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { newEvent } from '../events/kinds.js';
import type { Store } from '../store/store.js';
import type { ClusterView } from './admission.js';
import type { DrainReport } from './controller.js';
import { reinstallHypervisor, type ReinstallDeps, type ReinstallReport, type ReinstallStep } from './reinstall-hv.js';
import { newRoll, runRoll, type RollProgress } from './roll.js';
import { cutHost, parseStepReason, remainingHosts, restoredRoll, resumePoint, type RecordedStep } from './roll-state.js';

export interface HvOpsDeps {
  controller: {
    drain(host: string): Promise<DrainReport>;
    setMaintenance(host: string, on: boolean, reason: 'drain' | 'undrain'): Promise<void>;
    clusterView(): ClusterView;
  };
  driver: { reachable(host: string): Promise<boolean> };
  bootTable: Pick<BootTable, 'setInstall' | 'get'>;
  inventory: Pick<Inventory, 'hypervisor' | 'hypervisors' | 'isHypervisorHost' | 'hostByName'>;
  /** The BMC of a hypervisor, or null without `bmc:`. */
  bmc(host: string): BmcDriver | null;
  store: Pick<Store, 'write' | 'queryEvents'>;
  clock: Clock;
  log: Logger;
  /** Each reinstall step's limit (ha.reinstall.timeouts); unset ones: DEFAULT_REINSTALL_TIMEOUTS. */
  timeouts?: ReinstallDeps['timeouts'];
  pollMs?: number;
}

/** What `3rc status` and GET /api/v1/hv show of a reinstall in progress or ended. */
export interface ReinstallStatus {
  host: string;
  step: ReinstallStep;
  state: 'running' | 'done' | 'failed';
  why: string | null;
}

export class HypervisorOps {
  private readonly reinstalls = new Map<string, ReinstallStatus>();
  private rolling: RollProgress | null = null;
  /** The roll's progress writes, in order. */
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly d: HvOpsDeps) {}

  /** Every hypervisor's last reinstall, and the roll (the last one, while nothing newer ran). */
  status(): { reinstalls: ReinstallStatus[]; roll: RollProgress | null } {
    return { reinstalls: [...this.reinstalls.values()], roll: this.rolling && structuredClone(this.rolling) };
  }

  /**
   * The roll a (re)started 3rc finds in its store: as it ended, or, cut by the restart, stopped at
   * the host it was at with the step that host's reinstall had reached. Never resumed by itself.
   */
  async restore(): Promise<void> {
    const data = (await this.d.store.queryEvents({ kind: 'hypervisor.roll', limit: 1 })).at(-1)?.data;
    if (!data) return;
    const last = data as unknown as RollProgress;
    const cut = last.endedAt === null ? cutHost(last) : null;
    const steps = cut ? await this.stepsOf(cut, last.startedAt) : [];
    this.rolling = restoredRoll(last, steps, this.d.clock.now());
    if (this.rolling?.stopped?.interrupted && last.endedAt === null) {
      this.d.log.warn({ hypervisor: this.rolling.stopped.host, reason: this.rolling.stopped.why }, 'hv roll cut by a restart');
      this.save(this.rolling, 'interrupted');
      await this.saving;
    }
  }

  /** Re-images one hypervisor; resolves with the report (a failure names its step). */
  async reinstall(host: string, resume?: ReinstallDeps['resume']): Promise<ReinstallReport> {
    const hv = this.d.inventory.hypervisor(host);
    if (!hv) throw new NotFoundError(ErrorCodes.UNKNOWN_HOST, `${host} is not a hypervisor of the config`);
    if (!this.d.inventory.isHypervisorHost(host)) throw new InputError(ErrorCodes.API, `${host} has no mac and profile in the config (hypervisors[]): 3rc cannot install it`, 'name');
    if (this.reinstalls.get(host)?.state === 'running') throw new ConflictError(ErrorCodes.DRAIN, `a reinstall of ${host} runs already`);
    const mac = this.d.inventory.hostByName(host)!.mac;
    const status: ReinstallStatus = { host, step: 'drain', state: 'running', why: null };
    this.reinstalls.set(host, status);
    const { controller, clock } = this.d;
    const report = await reinstallHypervisor(host, {
      clock,
      bmc: this.d.bmc(host),
      drain: async () => {
        const r = await controller.drain(host);
        return r.stopped ? r.stopped.why : null;
      },
      setInstall: async () => void (await this.d.bootTable.setInstall(mac, { reason: 'hv-reinstall' })),
      installResult: async (since) => {
        const e = this.d.bootTable.get(mac);
        if (!e || e.mode !== 'local' || e.since < since || !e.result) return null;
        return e.result === 'done' ? 'done' : 'failed';
      },
      ready: () => this.d.driver.reachable(host),
      undrain: () => controller.setMaintenance(host, false, 'undrain'),
      record: async (step, outcome, detail) => {
        status.step = step;
        if (outcome === 'failed') Object.assign(status, { state: 'failed', why: detail ?? null });
        this.d.log[outcome === 'failed' ? 'warn' : 'info']({ hypervisor: host, step, outcome, reason: detail }, `hv reinstall: ${step} ${outcome}`);
        await this.d.store.write([{ op: 'appendEvent', event: newEvent('hypervisor.drain', { at: clock.now(), host, reason: `reinstall-${step}-${outcome}` }, detail ? { detail } : {}) }]);
      },
      ...(this.d.timeouts ? { timeouts: this.d.timeouts } : {}),
      ...(resume ? { resume } : {}),
      ...(this.d.pollMs !== undefined ? { pollMs: this.d.pollMs } : {}),
    }).catch((err: unknown) => {
      Object.assign(status, { state: 'failed', why: (err as Error).message });
      throw err;
    });
    if (!report.failed) status.state = 'done';
    return report;
  }

  /**
   * Starts a roll over `hosts` ('all': every hypervisor that 3rc can install, in config order) and
   * answers at once with its progress; the roll goes on in the background (GET /api/v1/hv/roll).
   */
  startRoll(hosts: readonly string[] | 'all'): RollProgress {
    if (this.rolling && this.rolling.endedAt === null) throw new ConflictError(ErrorCodes.DRAIN, `a roll runs already (at ${this.rolling.current ?? '?'})`);
    const list = hosts === 'all' ? this.d.inventory.hypervisors().filter((h) => this.d.inventory.isHypervisorHost(h.name)).map((h) => h.name) : [...hosts];
    if (list.length === 0) throw new InputError(ErrorCodes.API, 'no hypervisor to roll: name some, or give hypervisors a mac and a profile', 'hosts');
    for (const h of list) {
      if (!this.d.inventory.hypervisor(h)) throw new NotFoundError(ErrorCodes.UNKNOWN_HOST, `${h} is not a hypervisor of the config`);
      if (!this.d.inventory.isHypervisorHost(h)) throw new InputError(ErrorCodes.API, `${h} has no mac and profile in the config (hypervisors[]): 3rc cannot install it`, 'hosts');
    }
    return this.launch(list, newRoll(list, this.d.clock.now()), null);
  }

  /** `3rc hv roll --cancel`: the roll stops once the host being reinstalled is done. */
  cancelRoll(): RollProgress {
    const p = this.rolling;
    if (!p || p.endedAt !== null) throw new ConflictError(ErrorCodes.DRAIN, 'no roll runs');
    p.cancelling = true;
    this.d.log.info({ hypervisor: p.current }, 'hv roll: cancel asked, stops after the current host');
    this.save(p, 'cancel');
    return structuredClone(p);
  }

  /**
   * `3rc hv roll --resume`: the last roll, stopped (cancelled, blocked, failed, or cut by a
   * restart), goes on with its hosts not done. A host cut mid-reinstall goes on from where its
   * reinstall stood (resumePoint): after its power cycle began, it is waited for, never cycled again.
   */
  async resumeRoll(): Promise<RollProgress> {
    const last = this.rolling;
    if (!last) throw new ConflictError(ErrorCodes.DRAIN, 'no roll to resume');
    if (last.endedAt === null) throw new ConflictError(ErrorCodes.DRAIN, `a roll runs already (at ${last.current ?? '?'})`);
    if (!last.stopped || remainingHosts(last).length === 0) throw new ConflictError(ErrorCodes.DRAIN, 'the last roll went through every host: nothing to resume');
    const progress: RollProgress = { ...newRoll(last.hosts, this.d.clock.now()), done: [...last.done] };
    let resume: { host: string; point: NonNullable<ReinstallDeps['resume']> } | null = null;
    if (last.stopped.interrupted) {
      const cut = last.stopped.host;
      const point = resumePoint(await this.stepsOf(cut, last.startedAt));
      if (point === 'done') progress.done.push(cut);
      else resume = { host: cut, point: { step: point.from, installSince: point.installSince } };
    }
    if (this.rolling !== last) throw new ConflictError(ErrorCodes.DRAIN, 'another roll started meanwhile');
    return this.launch(remainingHosts(progress), progress, resume);
  }

  /** Starts runRoll in the background over `hosts`, its progress saved at each change. */
  private launch(hosts: string[], progress: RollProgress, resume: { host: string; point: NonNullable<ReinstallDeps['resume']> } | null): RollProgress {
    this.rolling = progress;
    this.save(progress, 'started');
    const deps = {
      now: () => this.d.clock.now(),
      view: () => this.d.controller.clusterView(),
      reinstall: (h: string) => this.reinstall(h, h === resume?.host ? resume.point : undefined),
      progress: (p: RollProgress) => this.save(p, p.endedAt === null ? 'progress' : p.stopped ? 'stopped' : 'done'),
    };
    runRoll(hosts, deps, progress)
      .then((p) => {
        if (p.stopped) this.d.log.warn({ hypervisor: p.stopped.host, reason: p.stopped.why }, 'hv roll stopped');
        else this.d.log.info({ hosts: p.done }, 'hv roll done');
      })
      .catch((err: unknown) => this.d.log.error({ err }, 'hv roll failed'));
    return structuredClone(progress);
  }

  /** Appends the roll's progress as it is now (writes kept in order). */
  private save(p: RollProgress, reason: string): void {
    const event = newEvent('hypervisor.roll', { at: this.d.clock.now(), host: p.current ?? p.stopped?.host ?? null, reason }, structuredClone(p));
    this.saving = this.saving
      .then(async () => void (await this.d.store.write([{ op: 'appendEvent', event }])))
      .catch((err: unknown) => this.d.log.error({ err }, 'hv roll progress not recorded'));
  }

  /** The reinstall steps recorded for `host` since `since` (ms), oldest first. */
  private async stepsOf(host: string, since: number): Promise<RecordedStep[]> {
    const events = await this.d.store.queryEvents({ kind: 'hypervisor.drain', host });
    return events.filter((e) => e.at >= since).flatMap((e) => parseStepReason(e.reason ?? null, e.at) ?? []);
  }

  /** Waits until the roll's progress written so far is in the store (tests, shutdown). */
  flushed(): Promise<void> {
    return this.saving;
  }
}
