/**
 * `3rc p2v HOST --to HYPERVISOR`: captures a physical host into a VM through the running 3rc's
 * API, then follows the job (phase, bytes, rate, ETA) until the VM runs or the capture fails.
 * `--status [HOST]` shows jobs; `--cancel` stops a capture.
 */
import { loadConfig } from '../../config/load.js';
import { ErrorCodes, ThreeRcError } from '../../lib/errors.js';
import type { P2vJobView } from '../../p2v/service.js';
import { formatBytes, formatEta } from '../../p2v/progress.js';
import { EXIT_FAIL, EXIT_OK, table, type Io } from '../io.js';
import { findApi, type ApiTarget } from '../target.js';

export const help = `Usage: 3rc p2v HOST --to HYPERVISOR [--cpus N] [--memory MIB] [--no-wait] [--json]
       3rc p2v --status [HOST] [--json]
       3rc p2v HOST --cancel

Physical-to-virtual migration. Flips HOST to the capture boot entry (p2v.profile) and power-cycles
it with its power command (hosts[].power; without one, asks you to reboot it). Its capture
environment uploads every disk to p2v.storage; 3rc then defines a VM with the host's MAC, CPUs,
memory and disks on HYPERVISOR (libvirt), starts it and puts it under HA protection. Its name,
address, DNS records and role stay. Nothing is written to the physical host's disks: a failed or
cancelled capture leaves it bootable as it was.

  --to HV        the hypervisor that runs the VM (a libvirt hypervisor of the config)
  --cpus N       CPUs of the VM (default: those of the host)
  --memory MIB   memory of the VM in MiB (default: the host's, rounded up to 256 MiB)
  --no-wait      start the capture and return; follow it with --status
  --json         print the job as JSON (with --no-wait or --status)

Needs the running 3rc (it serves the capture) and its API token.`;

export interface P2vArgs {
  host?: string;
  to?: string;
  cpus?: number;
  memoryMb?: number;
  wait: boolean;
  json: boolean;
  status: boolean;
  cancel: boolean;
  /** Poll interval while following (ms). Default: 2000. */
  pollMs?: number;
}

/** One line of a job: phase, progress and its message. */
function describeJob(j: P2vJobView): string {
  const p = j.progress;
  const bytes = p && (j.phase === 'capturing' || j.phase === 'booting')
    ? ` ${formatBytes(p.bytes)}/${formatBytes(p.totalBytes)} (${p.percent.toFixed(0)}%)${p.rateBytesPerSec ? ` ${formatBytes(p.rateBytesPerSec)}/s ETA ${formatEta(p.etaSeconds)}` : ''}`
    : '';
  return `${j.host}: ${j.phase}${bytes}: ${j.message}`;
}

async function api(configFile: string, io: Io): Promise<ApiTarget> {
  const config = loadConfig(configFile);
  const a = await findApi(config, io.env);
  if (!a) throw new ThreeRcError(ErrorCodes.P2V, `no 3rc answers for ${config.source}: a P2V needs the running server (it serves the capture environment)`);
  return a;
}

export async function run(configFile: string, args: P2vArgs, io: Io): Promise<number> {
  const a = await api(configFile, io);
  if (args.status) {
    const jobs = args.host ? [await a.call<P2vJobView>('GET', `/api/v1/p2v/${encodeURIComponent(args.host)}`)] : await a.call<P2vJobView[]>('GET', '/api/v1/p2v');
    if (args.json) return io.out(JSON.stringify(args.host ? jobs[0] : jobs, null, 2)), EXIT_OK;
    if (jobs.length === 0) return io.out('no P2V on record'), EXIT_OK;
    for (const l of table(['HOST', 'TO', 'PHASE', 'PROGRESS', 'MESSAGE'], jobs.map((j) => [j.host, j.to, j.phase, j.progress ? `${j.progress.percent.toFixed(0)}%` : '-', j.message]))) io.out(l);
    return EXIT_OK;
  }
  if (!args.host) throw new ThreeRcError(ErrorCodes.USAGE, 'name the host');
  const path = `/api/v1/p2v/${encodeURIComponent(args.host)}`;
  if (args.cancel) {
    const j = await a.call<P2vJobView>('DELETE', path);
    io.out(describeJob(j));
    return EXIT_OK;
  }
  let j = await a.call<P2vJobView>('POST', `/api/v1/hosts/${encodeURIComponent(args.host)}/p2v`, { to: args.to, ...(args.cpus ? { cpus: args.cpus } : {}), ...(args.memoryMb ? { memoryMb: args.memoryMb } : {}) });
  if (!args.wait) {
    io.out(args.json ? JSON.stringify(j, null, 2) : describeJob(j));
    return j.phase === 'failed' ? EXIT_FAIL : EXIT_OK;
  }
  let last = '';
  for (;;) {
    const line = describeJob(j);
    if (line !== last) io.out(line);
    last = line;
    if (j.phase === 'done') return EXIT_OK;
    if (j.phase === 'failed' || j.phase === 'cancelled') return EXIT_FAIL;
    await new Promise((r) => setTimeout(r, args.pollMs ?? 2000));
    j = await a.call<P2vJobView>('GET', path);
  }
}
