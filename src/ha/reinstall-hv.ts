/**
 * `3rc hv reinstall NAME` (issue 24): a hypervisor re-imaged through its BMC, one step after the
 * other, each with a timeout and a clear failure state:
 *   1. drain (its VMs leave, the host stays in maintenance);
 *   2. a one-time PXE boot set through the BMC (read back by the driver);
 *   3. the install flip in the boot table, then a BMC power cycle (off read back off, then on);
 *   4. the install, until its install-done callback (the boot entry's result);
 *   5. SSH and libvirt answer again (the host key comes with install-done, as for VMs);
 *   6. undrain.
 * A step that fails or overruns stops the sequence there: the host stays in maintenance (never
 * given back to placement half-installed) and the report names the step and why.
 *
 * No I/O of its own: the steps come in as functions, time from the injected clock, so the whole
 * sequence runs under a FakeClock with the fake BMC (src/bmc/fake.ts) in unit tests.
 */
import type { BmcDriver } from '../bmc/driver.js';
import type { Clock } from '../lib/clock.js';

export const REINSTALL_STEPS = ['drain', 'pxe', 'cycle', 'install', 'ready', 'undrain'] as const;
export type ReinstallStep = (typeof REINSTALL_STEPS)[number];

/** Per-step limits (ms). */
export type ReinstallTimeouts = Record<ReinstallStep, number>;

export const DEFAULT_REINSTALL_TIMEOUTS: ReinstallTimeouts = {
  drain: 60 * 60_000,
  pxe: 60_000,
  cycle: 3 * 60_000,
  install: 60 * 60_000,
  ready: 15 * 60_000,
  undrain: 60_000,
};

export interface ReinstallDeps {
  clock: Clock;
  /** Its BMC; null: no `bmc:`, refused before anything changes. */
  bmc: BmcDriver | null;
  /** The drain: resolves to null when every VM left, else why it stopped. */
  drain(): Promise<string | null>;
  /** Points its MAC at an install (fresh token); resolves once durable. */
  setInstall(): Promise<void>;
  /** The install's outcome since `since` (ms): done, failed, or null while it runs. */
  installResult(since: number): Promise<'done' | 'failed' | null>;
  /** SSH and libvirt answer (the driver's reachable()). */
  ready(): Promise<boolean>;
  undrain(): Promise<void>;
  /** Each step's start, end or failure, for the event log and the status. */
  record(step: ReinstallStep, outcome: 'started' | 'done' | 'failed', detail?: string): Promise<void>;
  timeouts?: Partial<ReinstallTimeouts>;
  /**
   * A reinstall cut by a restart of 3rc going on (roll-state.ts resumePoint): the steps before
   * `step` are not run again; `installSince`: when the cut one began its power cycle.
   */
  resume?: { step: ReinstallStep; installSince: number | null };
  /** Between two polls of the install and of readiness. Default: 5 s. */
  pollMs?: number;
}

export interface ReinstallReport {
  host: string;
  /** Steps completed, in order, with their duration on the injected clock. */
  steps: { step: ReinstallStep; ms: number }[];
  /** Null when the host is back out of maintenance. */
  failed: { step: ReinstallStep; why: string } | null;
  ms: number;
}

class StepFailed extends Error {}

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.schedule(ms, resolve));
}

/** The promise, or a StepFailed once `ms` passed on the clock (the promise is still owned: its late outcome is ignored). */
function within<T>(clock: Clock, ms: number, what: string, p: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = clock.schedule(ms, () => reject(new StepFailed(`${what}: no answer within ${ms / 1000} s`)));
    p.then(
      (v) => {
        t.cancel();
        resolve(v);
      },
      (err: unknown) => {
        t.cancel();
        reject(err);
      },
    );
  });
}

/** Polls `probe` until it answers a value (not null) or `ms` passed. */
async function until<T>(clock: Clock, ms: number, pollMs: number, what: string, probe: () => Promise<T | null>): Promise<T> {
  const deadline = clock.now() + ms;
  let last = '';
  for (;;) {
    try {
      const v = await within(clock, Math.max(1, deadline - clock.now()), what, probe());
      if (v !== null) return v;
    } catch (err) {
      if (err instanceof StepFailed) throw err;
      last = ` (last error: ${(err as Error).message})`;
    }
    if (clock.now() + pollMs > deadline) throw new StepFailed(`${what}: not within ${ms / 1000} s${last}`);
    await sleep(clock, pollMs);
  }
}

export async function reinstallHypervisor(host: string, d: ReinstallDeps): Promise<ReinstallReport> {
  // Unset ones (undefined in the config's object too) keep their default.
  const t: ReinstallTimeouts = { ...DEFAULT_REINSTALL_TIMEOUTS, ...(Object.fromEntries(Object.entries(d.timeouts ?? {}).filter(([, v]) => v !== undefined)) as Partial<ReinstallTimeouts>) };
  const poll = d.pollMs ?? 5000;
  const t0 = d.clock.now();
  const report: ReinstallReport = { host, steps: [], failed: null, ms: 0 };
  const bmc = d.bmc;
  if (!bmc) {
    report.failed = { step: 'pxe', why: `${host} has no bmc: in the config: 3rc cannot make it network-boot (nothing was changed)` };
    await d.record('pxe', 'failed', report.failed.why);
    return report;
  }
  let installSince = d.resume?.installSince ?? t0;
  const run: Record<ReinstallStep, () => Promise<void>> = {
    drain: async () => {
      const stopped = await within(d.clock, t.drain, 'drain', d.drain());
      if (stopped !== null) throw new StepFailed(`drain stopped: ${stopped}`);
    },
    pxe: () => within(d.clock, t.pxe, 'one-time PXE boot through the BMC', bmc.bootOnce('pxe')),
    cycle: async () => {
      installSince = d.clock.now();
      await within(d.clock, t.cycle, 'install flip in the boot table', d.setInstall());
      const state = await within(d.clock, t.cycle, 'power cycle through the BMC', bmc.power('cycle'));
      if (state !== 'on') throw new StepFailed(`power cycle: the BMC reads back ${state}, not on`);
    },
    install: async () => {
      const r = await until(d.clock, t.install, poll, 'install-done callback', () => d.installResult(installSince));
      if (r === 'failed') throw new StepFailed('the installer reported failure (install-failed callback)');
    },
    ready: async () => {
      await until(d.clock, t.ready, poll, 'SSH and libvirt answering', async () => ((await d.ready()) ? true : null));
    },
    undrain: () => within(d.clock, t.undrain, 'undrain', d.undrain()),
  };
  for (const step of REINSTALL_STEPS.slice(REINSTALL_STEPS.indexOf(d.resume?.step ?? 'drain'))) {
    const s0 = d.clock.now();
    await d.record(step, 'started');
    try {
      await run[step]();
    } catch (err) {
      report.failed = { step, why: err instanceof StepFailed ? err.message : `${step}: ${(err as Error).message}` };
      await d.record(step, 'failed', report.failed.why);
      break;
    }
    report.steps.push({ step, ms: d.clock.now() - s0 });
    await d.record(step, 'done');
  }
  report.ms = d.clock.now() - t0;
  return report;
}
