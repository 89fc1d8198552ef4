import { loadConfig } from '../../config/load.js';
import { admission, admissionLine } from '../../ha/admission.js';
import type { VmStatus } from '../../ha/controller.js';
import type { VmFsmState } from '../../ha/fsm-types.js';
import { ErrorCodes, InputError } from '../../lib/errors.js';
import { openStore } from '../../main.js';
import { EXIT_OK, table, type Io } from '../io.js';
import { findApi } from '../target.js';
import { configCluster } from './plan.js';
import { formatRoll } from './hv.js';
import type { ReinstallStatus } from '../../ha/hv-ops.js';
import type { RollProgress } from '../../ha/roll.js';

export const help = `Usage: 3rc status [--json] [--config FILE]
       3rc ha disable|enable|clear VM [--config FILE]

status: the HA controller's view of every VM (state, host, since, last reason, recoveries used
within the budget window), from the running 3rc, or the last persisted states when none runs;
admission control ("capacity: N+1 holds", or which failure would leave which VMs without room),
from the running controller's last pass, or computed on the config's cluster when none runs;
and, from the running 3rc, the hosts whose boot stopped after their loader (fetched it, asked for
nothing else for install.loaderQuiet: a loader the firmware refused, e.g. unsigned under Secure
Boot, or a broken one).
ha: operator actions on one VM through the running 3rc (API token needed): disable (maintenance:
no automatic action), enable, clear (lift a quarantine and reset its budget).`;

interface ClusterAnswer {
  role: string;
  instance: string;
  leader: { name: string; url: string | null } | null;
}

interface HaAnswer {
  active: boolean;
  reason: string | null;
  vms: VmStatus[];
  /** Admission control after the controller's last pass (null when it does not run). */
  admission?: { line: string } | null;
}

/** GET /api/v1/boot/stuck: hosts whose boot stopped after their loader. */
interface StuckAnswer {
  host: string;
  loader: string;
  via: string;
  since: string;
  fetches: number;
  detail: string;
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

export async function run(configFile: string, opts: { json: boolean }, io: Io): Promise<number> {
  const config = loadConfig(configFile);
  const api = await findApi(config, io.env);
  let answer: HaAnswer & { cluster?: ClusterAnswer; stuck?: StuckAnswer[]; hv?: { reinstalls: ReinstallStatus[]; roll: RollProgress | null } };
  let header: string;
  let role: string | null = null;
  if (api) {
    answer = await api.call<HaAnswer>('GET', '/api/v1/ha?limit=1');
    // Boots that stopped after their loader: the running server watches the boot trace.
    answer.stuck = await api.call<StuckAnswer[]>('GET', '/api/v1/boot/stuck');
    // Hypervisor reinstalls and the roll (`3rc hv reinstall|roll`).
    const hv = await api.call<{ reinstalls?: ReinstallStatus[]; roll?: RollProgress | null }>('GET', '/api/v1/hv');
    answer.hv = { reinstalls: hv.reinstalls ?? [], roll: hv.roll ?? null };
    header = answer.active ? `HA controller: running (${api.url})` : `HA controller: not running: ${answer.reason}`;
    // Redundant 3rc (etcd): which instance answered, and who leads.
    const health = await api.call<{ role?: string; cluster?: ClusterAnswer }>('GET', '/api/v1/health');
    if (health.cluster) {
      answer.cluster = health.cluster;
      const c = health.cluster;
      role = `3rc cluster: this instance (${c.instance}) is ${c.role}; leader: ${c.leader ? `${c.leader.name}${c.leader.url ? ` (${c.leader.url})` : ''}` : 'none elected right now'}`;
    }
  } else {
    const store = openStore(config, { exclusive: false });
    try {
      const window = config.ha.budget.window;
      const now = Date.now();
      const vms = (await store.listVmStates()).map((v) => {
        const s = v.data as VmFsmState;
        return { vm: v.vm, state: s.phase, host: s.host, since: s.since, reason: s.reason, recoveriesUsed: s.recoveries.filter((t) => t > now - window).length };
      });
      const capacity = admissionLine(admission(configCluster(config), { failures: config.ha.admission.failures, domain: config.ha.admission.domain }));
      answer = { active: false, reason: 'no 3rc server is running', vms, admission: { line: `${capacity} (computed on the config's cluster)` } };
    } finally {
      await store.close();
    }
    header = 'HA controller: no 3rc server is running; the states it last persisted:';
  }
  if (opts.json) {
    io.out(JSON.stringify(answer, null, 2));
    return EXIT_OK;
  }
  io.out(header);
  if (role) io.out(role);
  if (answer.admission) io.out(answer.admission.line);
  const now = Date.now();
  const budget = config.ha.budget.recoveries;
  const rows = answer.vms.map((v) => [v.vm, v.state, v.host ?? '-', `${ago(now - v.since)} ago`, v.reason, `${v.recoveriesUsed}/${budget}`]);
  if (rows.length) for (const line of table(['VM', 'STATE', 'HOST', 'SINCE', 'REASON', 'RECOVERIES'], rows)) io.out(line);
  if (answer.hv?.roll) io.out(formatRoll(answer.hv.roll));
  for (const r of answer.hv?.reinstalls ?? []) if (r.state !== 'done') io.out(`hv reinstall ${r.host}: ${r.state} at ${r.step}${r.why ? `: ${r.why}` : ''}`);
  if (answer.stuck?.length) {
    io.out(`Boots stuck after their loader (${answer.stuck.length}):`);
    const stuck = answer.stuck.map((s) => [s.host, `stuck after its loader ${s.loader}`, s.via, `${ago(now - Date.parse(s.since))} ago`, s.detail]);
    for (const line of table(['HOST', 'BOOT', 'VIA', 'SINCE', 'DETAIL'], stuck)) io.out(line);
  }
  return EXIT_OK;
}

export async function operator(configFile: string, op: string, vm: string, io: Io): Promise<number> {
  if (op !== 'disable' && op !== 'enable' && op !== 'clear') throw new InputError(ErrorCodes.USAGE, `3rc ha takes disable, enable or clear, not ${JSON.stringify(op)}`);
  const config = loadConfig(configFile);
  const api = await findApi(config, io.env);
  if (!api) throw new InputError(ErrorCodes.HA_INACTIVE, 'the HA controller runs inside `3rc serve`, and no server answers: start it first');
  const s = await api.call<VmStatus | null>('POST', `/api/v1/ha/vms/${encodeURIComponent(vm.toLowerCase())}/${op}`);
  io.out(s ? `${s.vm}: ${s.state} (${s.reason})` : `${vm}: done`);
  return EXIT_OK;
}
