/**
 * `3rc hv drain|undrain NAME`: hypervisor maintenance through the running 3rc (API token needed).
 * A drain puts the host in maintenance and moves its running VMs off (live where the hypervisors
 * can migrate, else stopped there and started elsewhere); it answers when it is over.
 */
import { loadConfig } from '../../config/load.js';
import type { DrainReport } from '../../ha/controller.js';
import { ErrorCodes, InputError } from '../../lib/errors.js';
import { EXIT_OK, table, type Io } from '../io.js';
import { findApi } from '../target.js';

export const help = `Usage: 3rc hv drain NAME [--config FILE]
       3rc hv undrain NAME [--config FILE]

drain: puts the hypervisor NAME in maintenance (HA places nothing there and fails nothing back to
it; the flag survives a restart) and moves every VM running there to the hypervisor the placement
chooses, one at a time, highest priority first: a live migration where the driver can, else a
stop there and a start on the other host. A VM that cannot move stops the drain, with the reason;
the host stays in maintenance. Exit status 1 when the drain stopped before the end.
undrain: ends the maintenance of NAME.`;

/** A drain of big VMs under load takes minutes: the CLI waits this long for the answer. */
const DRAIN_WAIT_MS = 60 * 60_000;

export async function run(configFile: string, op: string, name: string, io: Io): Promise<number> {
  if (op !== 'drain' && op !== 'undrain') throw new InputError(ErrorCodes.USAGE, `3rc hv takes drain or undrain, not ${JSON.stringify(op)}`);
  const config = loadConfig(configFile);
  const api = await findApi(config, io.env);
  if (!api) throw new InputError(ErrorCodes.HA_INACTIVE, 'hypervisor maintenance runs inside `3rc serve`, and no server answers: start it first');
  const path = `/api/v1/hv/${encodeURIComponent(name.toLowerCase())}/${op}`;
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
