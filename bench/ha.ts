/**
 * HA controller scale benchmark (not part of npm test): 10,000 VMs on 500 hypervisors.
 *   node dist/bench/ha.js
 * Measures, in wall-clock time on this machine:
 *  - parsing a 500-host Ganglia document;
 *  - one full monitoring pass of the real controller over 10,000 healthy VMs (simulated monitor);
 *  - planning the restart of 1,000 VMs of a dead rack (planBatch alone);
 *  - the same rack failure end to end through the controller: from the pass that sees it to every
 *    VM placed (fenced, started) on the simulated cluster.
 */
import { performance } from 'node:perf_hooks';
import { HaController, type HostSpec, type VmSpec } from '../src/ha/controller.js';
import { PxeEvidence } from '../src/ha/evidence.js';
import { planBatch, type HostLoad, type PlanRequest } from '../src/ha/placement.js';
import { seededRng } from '../src/ha/random.js';
import { defaultRules } from '../src/ha/rules.js';
import { SimClock } from '../src/ha/sim-clock.js';
import { SimMonitor } from '../src/ha/sim-monitor.js';
import { SimCluster } from '../src/hypervisor/sim.js';
import { parseGanglia } from '../src/monitor/ganglia.js';
import { MemoryStore } from '../src/store/memory.js';

const HOSTS = 500;
const VMS = 10_000;
const PER_HOST = VMS / HOSTS; // 20
const RACK_HOSTS = 1000 / PER_HOST; // 50 hypervisors hold 1,000 VMs

function ms(t0: number): string {
  return `${(performance.now() - t0).toFixed(1)} ms`;
}

function gangliaDoc(): string {
  const hosts: string[] = [];
  for (let i = 0; i < HOSTS; i++) {
    hosts.push(`<HOST NAME="hv${i}" IP="10.1.${i >> 8}.${i & 255}" TAGS="" REPORTED="1764086400" TN="${i % 50}" TMAX="20" DMAX="86400" LOCATION="unspecified" GMOND_STARTED="1764000000">
<METRIC NAME="load_five" VAL="${(i % 7) / 2}" TYPE="float" UNITS=" " TN="5" TMAX="325" DMAX="0" SLOPE="both" SOURCE="gmond"><EXTRA_DATA><EXTRA_ELEMENT NAME="GROUP" VAL="load"/></EXTRA_DATA></METRIC>
<METRIC NAME="cpu_num" VAL="32" TYPE="uint16" UNITS="CPUs" TN="5" TMAX="1200" DMAX="0" SLOPE="zero" SOURCE="gmond"><EXTRA_DATA><EXTRA_ELEMENT NAME="GROUP" VAL="cpu"/></EXTRA_DATA></METRIC>
</HOST>`);
  }
  return `<?xml version="1.0" encoding="ISO-8859-1" standalone="yes"?>\n<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond"><CLUSTER NAME="dc" LOCALTIME="1764086400">${hosts.join('\n')}</CLUSTER></GANGLIA_XML>`;
}

async function main(): Promise<void> {
  console.log(`HA scale bench: ${VMS} VMs on ${HOSTS} hypervisors; a rack = ${RACK_HOSTS} hypervisors = ${RACK_HOSTS * PER_HOST} VMs`);

  const xml = gangliaDoc();
  let t0 = performance.now();
  let parsed = parseGanglia(xml);
  const cold = ms(t0);
  for (let i = 0; i < 3; i++) {
    t0 = performance.now();
    parsed = parseGanglia(xml);
  }
  console.log(`ganglia: parse ${parsed.length} hosts (${(xml.length / 1e6).toFixed(1)} MB): first ${cold}, warm ${ms(t0)}`);

  // Pure planning of a dead rack.
  const loads: HostLoad[] = Array.from({ length: HOSTS }, (_, i) => ({
    name: `hv${i}`, up: i >= RACK_HOSTS, maintenance: false, loadFive: (i % 7) / 4, loadThreshold: 24, vms: PER_HOST,
    usedCpus: PER_HOST * 1, usedMemoryMb: PER_HOST * 2048, capacity: { cpus: 64, memoryMb: 262_144, vms: 40 },
  }));
  const requests: PlanRequest[] = Array.from({ length: RACK_HOSTS * PER_HOST }, (_, i) => ({ name: `vm${i}`, cpus: 1, memoryMb: 2048, priority: i % 3, avoid: [`hv${Math.floor(i / PER_HOST)}`] }));
  t0 = performance.now();
  const plan = planBatch(loads, requests, { maxStartsPerHost: 4 });
  console.log(`placement: plan ${requests.length} VMs over ${HOSTS} hosts: ${plan.assignments.length} placed, ${plan.queued.length} queued: ${ms(t0)}`);

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
  const rss0 = process.memoryUsage().rss;
  const controller = await HaController.load({
    clock, store, driver: sim, guest: sim, fencer: sim, monitor, vms, hosts,
    bootTable: { setInstall: async () => undefined }, rules: defaultRules(), scanInterval: 10 * S, maxStartsPerHost: 4,
  });
  t0 = performance.now();
  await controller.pass();
  console.log(`controller: first full pass over ${VMS} VMs (state set up): ${ms(t0)}`);
  const passes: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await controller.pass();
    passes.push(performance.now() - t);
  }
  console.log(`controller: steady monitoring pass over ${VMS} healthy VMs: median ${passes.sort((a, b) => a - b)[2]!.toFixed(1)} ms (5 passes)`);

  // The rack dies. Time from the pass that sees it until every VM has a decision and an action.
  for (let i = 0; i < RACK_HOSTS; i++) sim.hostDown(`hv${i}`);
  t0 = performance.now();
  await controller.pass();
  // The suspects' confirmation probes (3 s later) lead to the decisions.
  await clock.runUntil(clock.now() + 5 * S, () => controller.idle());
  const started = new Set((await store.queryEvents({ kind: 'ha.action', limit: 100_000 })).filter((e) => e.reason === 'start').map((e) => e.vm));
  const waiting = controller.status().filter((s) => s.state === 'waiting-for-host').length;
  console.log(`controller: rack failure (${RACK_HOSTS * PER_HOST} VMs) detected, fenced and planned in one pass: ${ms(t0)}; ${started.size} starts issued, ${waiting} waiting for a host (start limit ${4}/host)`);
  console.log(`memory: rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB (was ${(rss0 / 1e6).toFixed(0)} MB before the controller loaded)`);
  controller.abandon();
}

await main();
