/**
 * `3rc hv drain|undrain|reinstall NAME`, `3rc hv roll --all|NAME...`: hypervisor maintenance
 * through the running 3rc (API token needed).
 * A drain puts the host in maintenance and moves its running VMs off (live where the hypervisors
 * can migrate, else stopped there and started elsewhere); it answers when it is over.
 */
import { loadConfig } from '../../config/load.js';
import type { DrainReport } from '../../ha/controller.js';
import type { ReinstallReport } from '../../ha/reinstall-hv.js';
import type { RollProgress } from '../../ha/roll.js';
import { ErrorCodes, InputError } from '../../lib/errors.js';
import { EXIT_OK, table, type Io } from '../io.js';
import { findApi } from '../target.js';

export const help = `Usage: 3rc hv drain NAME [--config FILE]
       3rc hv undrain NAME [--config FILE]
       3rc hv reinstall NAME [--config FILE]
       3rc hv roll --all | NAME... [--config FILE]
       3rc hv roll --cancel | --resume [--config FILE]

drain: puts the hypervisor NAME in maintenance (HA places nothing there and fails nothing back to
it; the flag survives a restart) and moves every VM running there to the hypervisor the placement
chooses, one at a time, highest priority first: a live migration where the driver can, else a
stop there and a start on the other host. A VM that cannot move stops the drain, with the reason;
the host stays in maintenance. Exit status 1 when the drain stopped before the end.
undrain: ends the maintenance of NAME.
reinstall: re-images NAME (a hypervisor with mac, profile and bmc in the config): drain, one-time
PXE boot through its BMC, power cycle, the install until its install-done callback, SSH and
libvirt answering, undrain. Each step has a timeout; on failure the host stays in maintenance and
the step and reason are printed (exit status 1).
roll: reinstalls the hypervisors one at a time (--all: every one 3rc can install). Before each,
the HA planner (with the placement rules) checks that its VMs have room elsewhere; if not, the
roll stops and names the VMs left without room. Progress also shows in \`3rc status\`; it is kept
in the store: a 3rc restarted during a roll shows where it stopped and does not go on by itself.
roll --cancel: the roll stops once the host being reinstalled is done.
roll --resume: the last roll that stopped (cancelled, blocked, failed, or cut by a restart) goes on
with its hosts not done; a host cut after its power cycle began is waited for, not re-imaged again.
Each reinstall step's limit: ha.reinstall.timeouts in the config.`;

/** A drain of big VMs under load takes minutes: the CLI waits this long for the answer. */
const DRAIN_WAIT_MS = 60 * 60_000;
/** A reinstall is a drain, an install and a boot: its steps' timeouts together. */
const REINSTALL_WAIT_MS = 3 * 60 * 60_000;

/** Between two looks at a roll's progress. */
const ROLL_POLL_MS = 5000;

export async function run(configFile: string, op: string, name: string, io: Io, more: { all?: boolean; names?: string[]; cancel?: boolean; resume?: boolean } = {}): Promise<number> {
  if (op !== 'drain' && op !== 'undrain' && op !== 'reinstall' && op !== 'roll') throw new InputError(ErrorCodes.USAGE, `3rc hv takes drain, undrain, reinstall or roll, not ${JSON.stringify(op)}`);
  const config = loadConfig(configFile);
  const api = await findApi(config, io.env);
  if (!api) throw new InputError(ErrorCodes.HA_INACTIVE, 'hypervisor maintenance runs inside `3rc serve`, and no server answers: start it first');
  if (op === 'roll') {
    if (more.cancel) {
      io.out(formatRoll(await api.call<RollProgress>('POST', '/api/v1/hv/roll/cancel')));
      return EXIT_OK;
    }
    const names = [name, ...(more.names ?? [])].filter(Boolean).map((n) => n.toLowerCase());
    let p = more.resume ? await api.call<RollProgress>('POST', '/api/v1/hv/roll/resume') : await api.call<RollProgress>('POST', '/api/v1/hv/roll', more.all ? { all: true } : { hosts: names });
    let shown = '';
    for (;;) {
      const line = formatRoll(p);
      if (line !== shown) io.out((shown = line));
      if (p.endedAt !== null) return p.stopped ? 1 : EXIT_OK;
      await new Promise((r) => setTimeout(r, ROLL_POLL_MS));
      p = await api.call<RollProgress>('GET', '/api/v1/hv/roll');
    }
  }
  const path = `/api/v1/hv/${encodeURIComponent(name.toLowerCase())}/${op}`;
  if (op === 'reinstall') {
    const r = await api.call<ReinstallReport>('POST', path, undefined, { timeoutMs: REINSTALL_WAIT_MS });
    for (const line of formatReinstall(r)) io.out(line);
    return r.failed ? 1 : EXIT_OK;
  }
  if (op === 'undrain') {
    await api.call('POST', path);
    io.out(`${name}: out of maintenance`);
    return EXIT_OK;
  }
  const r = await api.call<DrainReport>('POST', path, undefined, { timeoutMs: DRAIN_WAIT_MS });
  for (const line of formatDrain(r)) io.out(line);
  return r.stopped ? 1 : EXIT_OK;
}

/** The drain's answer as the CLI prints it. */
export function formatDrain(r: DrainReport): string[] {
  const out = [`${r.host}: in maintenance; ${r.moved.length} VM(s) moved in ${(r.ms / 1000).toFixed(1)} s`];
  if (r.moved.length) out.push(...table(['VM', 'TO', 'HOW', 'SECONDS'], r.moved.map((m) => [m.vm, m.to, m.how, (m.ms / 1000).toFixed(1)])));
  for (const m of r.moved) if (m.fallback) out.push(`${m.vm}: ${m.fallback}`);
  if (r.idle.length) out.push(`not running, left in place: ${r.idle.join(', ')}`);
  if (r.stopped) out.push(`drain stopped${r.stopped.vm ? ` at ${r.stopped.vm}` : ''}: ${r.stopped.why}`);
  return out;
}

/** A reinstall's answer as the CLI prints it. */
export function formatReinstall(r: ReinstallReport): string[] {
  const out = [`${r.host}: ${r.failed ? `reinstall failed at ${r.failed.step}` : 'reinstalled, out of maintenance'} after ${(r.ms / 1000).toFixed(1)} s`];
  if (r.steps.length) out.push(...table(['STEP', 'SECONDS'], r.steps.map((s) => [s.step, (s.ms / 1000).toFixed(1)])));
  if (r.failed) out.push(`${r.failed.step}: ${r.failed.why}`, `${r.host} stays in maintenance (3rc hv undrain ${r.host} ends it)`);
  return out;
}

/** One line of a roll's progress (also in `3rc status`). */
export function formatRoll(p: RollProgress): string {
  const done = `${p.done.length}/${p.hosts.length} reinstalled${p.done.length ? ` (${p.done.join(', ')})` : ''}`;
  if (p.stopped) return `roll stopped at ${p.stopped.host}: ${p.stopped.why}; ${done}${p.stopped.vms?.length ? `\n${p.stopped.vms.map((v) => `  ${v.vm}: ${v.why}`).join('\n')}` : ''}`;
  if (p.endedAt !== null) return `roll done: ${done}`;
  return `roll: ${p.current ?? 'starting'} in progress${p.cancelling ? ' (cancel asked: it stops after this host)' : ''}; ${done}`;
}
