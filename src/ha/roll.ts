/**
 * `3rc hv roll [--all | NAME...]` (issue 24): hypervisors re-imaged one at a time. Before each
 * host, the planner answers the question a real failure of that host would ask (planFailure, the
 * same code as the controller's failure path and admission control, placement rules included):
 * would its VMs find room elsewhere? If not, the roll names the VMs left without room and stops
 * before touching the host. Each host is then reinstalled (reinstall-hv.ts); a failed reinstall
 * stops the roll too (the host stays in maintenance).
 *
 * rollBlockers is pure; runRoll sequences with injected steps and keeps a progress record for
 * `3rc status` and GET /api/v1/hv/roll. A cancel (`3rc hv roll --cancel`) lets the host being
 * reinstalled finish and stops before the next one.
 */
import { planFailure, prepare, type ClusterView } from './admission.js';
import type { ReinstallReport } from './reinstall-hv.js';

/** VMs that draining `host` would leave without room, with the planner's reason; empty: safe. */
export function rollBlockers(view: ClusterView, host: string): { vm: string; why: string }[] {
  // The drain's own VMs count as on the host being drained, which is as good as down for them.
  return planFailure(prepare(view), [host]).queued.map((q) => ({ vm: q.vm, why: q.reason }));
}

export interface RollProgress {
  /** The hosts of this roll, in order. */
  hosts: string[];
  /** The host being checked or reinstalled now; null when the roll is over. */
  current: string | null;
  /** Hosts reinstalled, in order. */
  done: string[];
  /**
   * Why the roll stopped (null while it runs or when every host was done), at which host (not
   * reinstalled). `cancelled`: by the operator; `interrupted`: 3rc restarted during it (roll-state.ts).
   */
  stopped: { host: string; why: string; vms?: { vm: string; why: string }[]; cancelled?: true; interrupted?: true } | null;
  /** A cancel was asked: the roll stops once the current host is done. */
  cancelling: boolean;
  startedAt: number;
  endedAt: number | null;
}

export interface RollDeps {
  now(): number;
  /** The cluster as the planner sees it now (the controller's clusterView()). */
  view(): ClusterView;
  reinstall(host: string): Promise<ReinstallReport>;
  /** Called after each change of the progress (event log, status). */
  progress?(p: RollProgress): void;
}

/** Runs the roll; resolves to its final progress. Never throws for a host's failure: it stops and says why. */
export async function runRoll(hosts: readonly string[], d: RollDeps, progress: RollProgress = newRoll(hosts, d.now())): Promise<RollProgress> {
  const tell = () => d.progress?.(progress);
  for (const host of hosts) {
    if (progress.cancelling) {
      progress.stopped = { host, why: `cancelled by the operator${progress.done.length ? ` after ${progress.done.at(-1)}` : ''}: ${host} not touched; 3rc hv roll --resume goes on`, cancelled: true };
      break;
    }
    progress.current = host;
    tell();
    const vms = rollBlockers(d.view(), host);
    if (vms.length) {
      progress.stopped = { host, why: `draining ${host} would leave ${vms.length} VM(s) without room: ${vms.map((v) => v.vm).join(', ')}`, vms };
      break;
    }
    let r: ReinstallReport;
    try {
      r = await d.reinstall(host);
    } catch (err) {
      progress.stopped = { host, why: (err as Error).message };
      break;
    }
    if (r.failed) {
      progress.stopped = { host, why: `reinstall failed at ${r.failed.step}: ${r.failed.why}` };
      break;
    }
    progress.done.push(host);
    tell();
  }
  progress.current = null;
  progress.endedAt = d.now();
  tell();
  return progress;
}

export function newRoll(hosts: readonly string[], now: number): RollProgress {
  return { hosts: [...hosts], current: null, done: [], stopped: null, cancelling: false, startedAt: now, endedAt: null };
}
