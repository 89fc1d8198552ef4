import { loadConfig } from '../../config/load.js';
import { admission, admissionLine, planFailure, prepare, type ClusterView } from '../../ha/admission.js';
import { placementRules } from '../../ha/affinity.js';
import { hostSpecs, ruleGroups, vmSpecs } from '../../ha/from-config.js';
import { ErrorCodes, InputError } from '../../lib/errors.js';
import { EXIT_OK, table, type Io } from '../io.js';

export const help = `Usage: 3rc plan --fail HYPERVISOR [--fail HYPERVISOR ...] [--json] [--config FILE]

What-if: what the HA planner would do if these hypervisors failed now, VM by VM, with the reason
when a VM would find no host (the rule or the capacity that refused each hypervisor). The same
planner as a real failure (placement rules, priorities, capacities); nothing is changed or sent.
The cluster is the config's: each VM on its configured hypervisor, every hypervisor up (those in
maintenance excepted), loads unknown. Then the admission answer for the config's ha.admission.
  --json   {failed, assignments: [{vm, host}], queued: [{vm, why, causes, reason}], admission}`;

/** The cluster as the config describes it: VMs on their hypervisors, hypervisors up, loads unknown. */
export function configCluster(config: ReturnType<typeof loadConfig>): ClusterView {
  const vms = vmSpecs(config.hosts);
  const used = new Map<string, { vms: number; cpus: number; mem: number }>();
  for (const v of vms) {
    if (!v.host) continue;
    const u = used.get(v.host) ?? { vms: 0, cpus: 0, mem: 0 };
    u.vms += 1;
    u.cpus += v.cpus;
    u.mem += v.memoryMb;
    used.set(v.host, u);
  }
  const hosts = hostSpecs(config.hypervisors).map((h) => {
    const u = used.get(h.name) ?? { vms: 0, cpus: 0, mem: 0 };
    return { name: h.name, up: true, maintenance: h.maintenance ?? false, loadFive: null, loadThreshold: h.loadThreshold, vms: u.vms, usedCpus: u.cpus, usedMemoryMb: u.mem, capacity: h.capacity, rack: h.rack };
  });
  return { hosts, vms: vms.map((v) => ({ name: v.name, host: v.host, cpus: v.cpus, memoryMb: v.memoryMb, priority: v.priority })), rules: placementRules(ruleGroups(config.ha.rules), vms) };
}

export function run(configFile: string, opts: { fail: string[]; json: boolean }, io: Io): number {
  const config = loadConfig(configFile);
  const known = config.hypervisors.map((h) => h.name);
  if (opts.fail.length === 0) throw new InputError(ErrorCodes.USAGE, 'expected at least one --fail HYPERVISOR', 'fail');
  for (const f of opts.fail) if (!known.includes(f.toLowerCase())) throw new InputError(ErrorCodes.USAGE, `--fail: hypervisor ${JSON.stringify(f)} does not exist (hypervisors: ${known.join(', ') || 'none defined'})`, 'fail');
  const failed = [...new Set(opts.fail.map((f) => f.toLowerCase()))];
  const cluster = prepare(configCluster(config));
  const plan = planFailure(cluster, failed);
  const adm = admission(cluster, { failures: config.ha.admission.failures, domain: config.ha.admission.domain });
  if (opts.json) {
    io.out(JSON.stringify({ failed, assignments: plan.assignments, queued: plan.queued.map(({ vm, why, causes, reason }) => ({ vm, why, causes, reason })), admission: { line: admissionLine(adm), ...adm } }, null, 2));
    return EXIT_OK;
  }
  const victims = cluster.vms.filter((v) => v.host !== null && failed.includes(v.host));
  io.out(`What-if: ${failed.join(' and ')} fail${failed.length === 1 ? 's' : ''} now (the config's cluster: VMs on their configured hypervisors, the others up, loads unknown); nothing is changed.`);
  if (victims.length === 0) io.out('No VM runs there: nothing to restart.');
  else {
    const to = new Map(plan.assignments.map((a) => [a.vm, a.host]));
    const why = new Map(plan.queued.map((q) => [q.vm, q.reason]));
    const rows = victims.map((v) => [v.name, v.host!, String(v.priority), to.has(v.name) ? `restart on ${to.get(v.name)}` : 'no host: waits', why.get(v.name) ?? '']);
    for (const line of table(['VM', 'ON', 'PRIORITY', 'PLAN', 'WHY'], rows)) io.out(line);
    io.out(`${plan.assignments.length} of ${victims.length} VM(s) would restart; ${plan.queued.length} would wait.`);
  }
  io.out(admissionLine(adm));
  return EXIT_OK;
}
