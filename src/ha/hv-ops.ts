/**
 * `3rc hv reinstall NAME` and `3rc hv roll` inside `3rc serve`: the sequences of reinstall-hv.ts
 * and roll.ts wired to the HA controller (drain, undrain, the cluster view), the boot table (the
 * install flip and its install-done result), the hypervisor driver (SSH and libvirt answer) and
 * each hypervisor's BMC. Steps are recorded as `hypervisor.drain` events (reason
 * `reinstall-<step>-<outcome>`), and the progress is kept for GET /api/v1/hv and `3rc status`.
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
  store: Pick<Store, 'write'>;
  clock: Clock;
  log: Logger;
  /** Test hooks: shorter steps. */
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

  constructor(private readonly d: HvOpsDeps) {}

  /** Every hypervisor's last reinstall, and the roll (the last one, while nothing newer ran). */
  status(): { reinstalls: ReinstallStatus[]; roll: RollProgress | null } {
    return { reinstalls: [...this.reinstalls.values()], roll: this.rolling && structuredClone(this.rolling) };
  }

  /** Re-images one hypervisor; resolves with the report (a failure names its step). */
  async reinstall(host: string): Promise<ReinstallReport> {
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
    const progress = newRoll(list, this.d.clock.now());
    this.rolling = progress;
    runRoll(list, { now: () => this.d.clock.now(), view: () => this.d.controller.clusterView(), reinstall: (h) => this.reinstall(h) }, progress)
      .then((p) => {
        if (p.stopped) this.d.log.warn({ hypervisor: p.stopped.host, reason: p.stopped.why }, 'hv roll stopped');
        else this.d.log.info({ hosts: p.done }, 'hv roll done');
      })
      .catch((err: unknown) => this.d.log.error({ err }, 'hv roll failed'));
    return structuredClone(progress);
  }
}
