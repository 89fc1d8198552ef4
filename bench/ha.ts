/**
 * HA controller scale: 10,000 VMs on 500 hypervisors (20 per hypervisor; a rack = 50
 * hypervisors = 1,000 VMs). No reference server: nothing comparable runs on Debian.
 * bench/run.ts runs this file as a child process per round (`node dist/bench/ha.js --child
 * --vms N --hosts H`, one JSON line out), so that the RSS it reports is the controller's alone.
 * Measured, in wall-clock time on this machine:
 *  - parsing a 500-host Ganglia document;
 *  - one full monitoring pass of the real controller over 10,000 healthy VMs (simulated monitor);
 *  - planning the restart of 1,000 VMs of a dead rack (planBatch alone);
 *  - the same rack failure end to end through the controller: from the pass that sees it to every
 *    VM placed (fenced, started) on the simulated cluster;
 *  - the peak RSS (VmHWM) of the process.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { HaController, type HostSpec, type VmSpec } from '../src/ha/controller.js';
import { PxeEvidence } from '../src/ha/evidence.js';
import { admission, planFailure, prepare, type ClusterView } from '../src/ha/admission.js';
import type { RuleGroup } from '../src/ha/affinity.js';
import { planBatch, type HostLoad, type PlanRequest } from '../src/ha/placement.js';
import { seededRng } from '../src/ha/random.js';
import { defaultRules } from '../src/ha/rules.js';
import { SimClock } from '../src/ha/sim-clock.js';
import { SimMonitor } from '../src/ha/sim-monitor.js';
import { SimCluster } from '../src/hypervisor/sim.js';
import { parseGanglia } from '../src/monitor/ganglia.js';
import { MemoryStore } from '../src/store/memory.js';
import type { Figure } from './lib/figures.js';
import type { BenchOptions } from './lib/options.js';
import { peakRssMb } from './lib/proc.js';
import { median } from './lib/stats.js';

const PER_HOST = 20;
/** Placement rules in the rules benchmark: 600 strict anti-affinity triples, 200 soft affinity pairs, 200 VMs with required hosts. */
const RULES = 1000;

/**
 * The cluster of the rules benchmark: VMs on their hosts, hosts in racks of a tenth, and RULES
 * rules that the current placement satisfies (anti-affinity members a third of the cluster apart).
 */
export function rulesCluster(VMS: number, HOSTS: number): ClusterView {
  const rack = Math.max(1, Math.round(HOSTS / 10));
  const hosts: HostLoad[] = Array.from({ length: HOSTS }, (_, i) => ({
    name: `hv${i}`, up: true, maintenance: false, loadFive: (i % 7) / 4, loadThreshold: 24, vms: PER_HOST,
    usedCpus: PER_HOST, usedMemoryMb: PER_HOST * 2048, capacity: { cpus: 64, memoryMb: 262_144, vms: 40 }, rack: `r${Math.floor(i / rack)}`,
  }));
  const vms = Array.from({ length: VMS }, (_, i) => ({ name: `vm${i}`, host: `hv${Math.floor(i / PER_HOST) % HOSTS}`, cpus: 1, memoryMb: 2048, priority: i % 3 }));
  const third = Math.floor(VMS / 3);
  const groups: RuleGroup[] = [];
  const anti = Math.round(RULES * 0.6);
  const aff = Math.round(RULES * 0.2);
  for (let k = 0; k < anti; k++) groups.push({ kind: 'anti-affinity', strict: true, vms: [0, 1, 2].map((j) => `vm${(k * 7 + j * third) % VMS}`) });
  for (let k = 0; k < aff; k++) groups.push({ kind: 'affinity', strict: false, vms: [`vm${VMS - 1 - 2 * k}`, `vm${VMS - 2 - 2 * k}`] });
  const own = new Map<string, { hosts: string[]; hostsRequired: boolean }>();
  for (let k = 0; k < RULES - anti - aff; k++) {
    const v = vms[(k * 37) % VMS]!;
    const h = Number(v.host!.slice(2));
    own.set(v.name, { hosts: [v.host!, `hv${(h + HOSTS / 2) % HOSTS}`, `hv${(h + HOSTS / 2 + 1) % HOSTS}`], hostsRequired: true });
  }
  return { hosts, vms, rules: { groups, vms: own } };
}

export interface HaResult {
  vms: number;
  hosts: number;
  rackVms: number;
  gangliaMs: number;
  firstPassMs: number;
  passMs: number;
  planMs: number;
  planned: number;
  rackMs: number;
  /** With RULES placement rules: a rack failure planned (planFailure), and one admission pass (N+1 over every host). */
  rulesPlanMs: number;
  rulesPlanQueued: number;
  admissionMs: number;
  admissionCases: number;
  rackAdmissionMs: number;
  started: number;
  waiting: number;
  rssMb: number;
}

function gangliaDoc(HOSTS: number): string {
  const hosts: string[] = [];
  for (let i = 0; i < HOSTS; i++) {
    hosts.push(`<HOST NAME="hv${i}" IP="10.1.${i >> 8}.${i & 255}" TAGS="" REPORTED="1764086400" TN="${i % 50}" TMAX="20" DMAX="86400" LOCATION="unspecified" GMOND_STARTED="1764000000">
<METRIC NAME="load_five" VAL="${(i % 7) / 2}" TYPE="float" UNITS=" " TN="5" TMAX="325" DMAX="0" SLOPE="both" SOURCE="gmond"><EXTRA_DATA><EXTRA_ELEMENT NAME="GROUP" VAL="load"/></EXTRA_DATA></METRIC>
<METRIC NAME="cpu_num" VAL="32" TYPE="uint16" UNITS="CPUs" TN="5" TMAX="1200" DMAX="0" SLOPE="zero" SOURCE="gmond"><EXTRA_DATA><EXTRA_ELEMENT NAME="GROUP" VAL="cpu"/></EXTRA_DATA></METRIC>
</HOST>`);
  }
  return `<?xml version="1.0" encoding="ISO-8859-1" standalone="yes"?>\n<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond"><CLUSTER NAME="dc" LOCALTIME="1764086400">${hosts.join('\n')}</CLUSTER></GANGLIA_XML>`;
}

/** One measurement in this process. */
export async function measureHa(VMS: number, HOSTS: number): Promise<HaResult> {
  const RACK_HOSTS = Math.round(HOSTS / 10);
  const xml = gangliaDoc(HOSTS);
  parseGanglia(xml);
  let t0 = performance.now();
  parseGanglia(xml);
  const gangliaMs = performance.now() - t0;

  // Pure planning of a dead rack.
  const loads: HostLoad[] = Array.from({ length: HOSTS }, (_, i) => ({
    name: `hv${i}`, up: i >= RACK_HOSTS, maintenance: false, loadFive: (i % 7) / 4, loadThreshold: 24, vms: PER_HOST,
    usedCpus: PER_HOST * 1, usedMemoryMb: PER_HOST * 2048, capacity: { cpus: 64, memoryMb: 262_144, vms: 40 },
  }));
  const requests: PlanRequest[] = Array.from({ length: RACK_HOSTS * PER_HOST }, (_, i) => ({ name: `vm${i}`, cpus: 1, memoryMb: 2048, priority: i % 3, avoid: [`hv${Math.floor(i / PER_HOST)}`] }));
  t0 = performance.now();
  const plan = planBatch(loads, requests, { maxStartsPerHost: 4 });
  const planMs = performance.now() - t0;

  // With rules: a rack failure planned, and the admission pass the controller runs after each monitoring pass.
  const view = rulesCluster(VMS, HOSTS);
  const rackHosts = view.hosts.filter((h) => h.rack === 'r0').map((h) => h.name);
  planFailure(prepare(view), rackHosts);
  t0 = performance.now();
  const rulesPlan = planFailure(prepare(view), rackHosts);
  const rulesPlanMs = performance.now() - t0;
  admission(view);
  const adm: number[] = [];
  let admissionCases = 0;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    admissionCases = admission(view).cases;
    adm.push(performance.now() - t);
  }
  t0 = performance.now();
  admission(view, { domain: 'rack' });
  const rackAdmissionMs = performance.now() - t0;

  // The real controller on a simulated cluster.
  const clock = new SimClock(0);
  const S = 1000;
  const sim = new SimCluster({
    clock, rng: seededRng(1), timings: { boot: { mean: 80 * S, sd: 10 * S }, install: { mean: 442 * S, sd: 17 * S }, pxe: 10 * S, pxeLoop: 25 * S },
    hosts: Array.from({ length: HOSTS }, (_, i) => ({ name: `hv${i}`, cpus: 64, memoryMb: 262_144 })),
    vms: Array.from({ length: VMS }, (_, i) => ({ name: `vm${i}`, mac: `52:54:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, host: `hv${Math.floor(i / PER_HOST)}` })),
    loadPerVm: 0.1,
  });
  const vms: VmSpec[] = Array.from({ length: VMS }, (_, i) => ({ name: `vm${i}`, mac: '', host: `hv${Math.floor(i / PER_HOST)}`, reinstall: true, priority: 0, cpus: 1, memoryMb: 2048 }));
  const hosts: HostSpec[] = Array.from({ length: HOSTS }, (_, i) => ({ name: `hv${i}`, loadThreshold: 24, capacity: { cpus: 64, memoryMb: 262_144, vms: 40 } }));
  const store = new MemoryStore();
  const monitor = new SimMonitor(sim, clock, { detectDelay: 0, evidence: new PxeEvidence() });
  const controller = await HaController.load({
    clock, store, driver: sim, guest: sim, fencer: sim, monitor, vms, hosts,
    bootTable: { setInstall: async () => undefined }, rules: defaultRules(), scanInterval: 10 * S, maxStartsPerHost: 4,
  });
  t0 = performance.now();
  await controller.pass();
  const firstPassMs = performance.now() - t0;
  const passes: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await controller.pass();
    passes.push(performance.now() - t);
  }
  // The rack dies. Time from the pass that sees it until every VM has a decision and an action.
  for (let i = 0; i < RACK_HOSTS; i++) sim.hostDown(`hv${i}`);
  t0 = performance.now();
  await controller.pass();
  // The suspects' confirmation probes (3 s later) lead to the decisions.
  await clock.runUntil(clock.now() + 5 * S, () => controller.idle());
  const rackMs = performance.now() - t0;
  const started = new Set((await store.queryEvents({ kind: 'ha.action', limit: 100_000 })).filter((e) => e.reason === 'start').map((e) => e.vm));
  const waiting = controller.status().filter((s) => s.state === 'waiting-for-host').length;
  controller.abandon();
  return {
    vms: VMS, hosts: HOSTS, rackVms: RACK_HOSTS * PER_HOST, gangliaMs, firstPassMs, passMs: median(passes), planMs, planned: plan.assignments.length + plan.queued.length,
    rackMs, rulesPlanMs, rulesPlanQueued: rulesPlan.queued.length, admissionMs: median(adm), admissionCases, rackAdmissionMs, started: started.size, waiting, rssMb: peakRssMb(process.pid),
  };
}

function child(vms: number, hosts: number): Promise<HaResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', '--vms', String(vms), '--hosts', String(hosts)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as HaResult);
      } catch {
        reject(new Error(`bench/ha child exited ${code}: ${out}`));
      }
    });
  });
}

export function haNote(): string {
  return '**Controller**: the real HaController over a simulated cluster (SimCluster, virtual clock), 20 VMs per hypervisor, a rack = a tenth of the hypervisors; a child process per round, so the RSS is the controller\'s alone. "Rack failure end to end" is wall time from the pass that sees the rack down until every VM has been fenced and started or queued (start limit 4 per hypervisor). No reference (nothing comparable ships in Debian).';
}

export async function runHa(opts: BenchOptions): Promise<Figure[]> {
  const vms = opts.quick ? 1000 : 10_000;
  const hosts = opts.quick ? 50 : 500;
  const rs: HaResult[] = [];
  for (let round = 0; round < opts.rounds; round++) {
    const r = await child(vms, hosts);
    rs.push(r);
    opts.log(`ha round ${round + 1}: pass ${r.passMs.toFixed(1)} ms, plan ${r.planMs.toFixed(1)} ms, rack ${r.rackMs.toFixed(0)} ms (${r.started} started, ${r.waiting} waiting), rules: rack plan ${r.rulesPlanMs.toFixed(1)} ms, admission ${r.admissionMs.toFixed(1)} ms (${r.admissionCases} cases), rack admission ${r.rackAdmissionMs.toFixed(1)} ms, rss ${r.rssMb.toFixed(0)} MB`);
  }
  const r0 = rs[0]!;
  const inv = `${vms} VMs / ${hosts} hypervisors`;
  return [
    { bench: 'ha', name: `one monitoring pass, ${inv}, all healthy`, unit: 'ms', better: 'lower', ours: rs.map((r) => r.passMs) },
    { bench: 'ha', name: `first pass (state set up), ${inv}`, unit: 'ms', better: 'lower', ours: rs.map((r) => r.firstPassMs) },
    { bench: 'ha', name: `placement plan for a ${r0.rackVms}-VM rack failure (planBatch), ${inv}`, unit: 'ms', better: 'lower', ours: rs.map((r) => r.planMs) },
    { bench: 'ha', name: `${r0.rackVms}-VM rack failure end to end through the controller (${r0.started} started, ${r0.waiting} queued)`, unit: 'ms', better: 'lower', ours: rs.map((r) => r.rackMs) },
    { bench: 'ha', name: `rack failure planned with ${RULES} placement rules (planFailure, ${r0.rackVms} VMs, ${r0.rulesPlanQueued} left waiting), ${inv}`, unit: 'ms', better: 'lower', ours: rs.map((r) => r.rulesPlanMs) },
    { bench: 'ha', name: `admission pass, N+1 over every hypervisor (${r0.admissionCases} failure cases), ${RULES} rules, ${inv}`, unit: 'ms', better: 'lower', ours: rs.map((r) => r.admissionMs) },
    { bench: 'ha', name: `admission pass, N+1 over racks, ${RULES} rules, ${inv}`, unit: 'ms', better: 'lower', ours: rs.map((r) => r.rackAdmissionMs) },
    { bench: 'ha', name: `parse a ${hosts}-host Ganglia document`, unit: 'ms', better: 'lower', ours: rs.map((r) => r.gangliaMs) },
    { bench: 'ha', name: `controller process peak RSS (VmHWM), ${inv}`, unit: 'MB', better: 'lower', ours: rs.map((r) => r.rssMb) },
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--child')) {
  const { values } = parseArgs({ options: { child: { type: 'boolean' }, vms: { type: 'string', default: '10000' }, hosts: { type: 'string', default: '500' } } });
  const r = await measureHa(Number(values.vms), Number(values.hosts));
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
