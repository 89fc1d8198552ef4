/**
 * The crash-test simulator: runs the real controller (monitoring passes, state machine, placement,
 * store writes) against the simulated cluster on a virtual clock, many times, and measures the
 * recovery time from the crash to the service answering again.
 *
 * The paper's figures are detection + the rung that worked, so three things are reported:
 * `mean_s` (crash -> service back, everything included), `detect_mean_s` (crash -> the
 * controller's first decision about the VM) and `last_rung_mean_s` (the last recovery action
 * issued before the service came back -> service back).
 */
import type { SimTimings } from '../hypervisor/sim.js';
import type { FsmRules } from './fsm-types.js';
import { seededRng, type Rng } from './random.js';
import { defaultRules, paperRules } from './rules.js';
import { buildWorld, type World } from './sim-world.js';
import { histogram, mean, summarize } from './stats.js';

export type Scenario = 'non-destructive' | 'destructive' | 'host-failure' | 'partition';
export const SCENARIOS: readonly Scenario[] = ['non-destructive', 'destructive', 'host-failure', 'partition'];
export type TimingSet = 'paper' | 'default';

const S = 1000;

/** The paper's measured durations (section 4.6): boot 80 +/- 10 s, install 442 +/- 17 s. */
const PAPER_DURATIONS: SimTimings = { boot: { mean: 80 * S, sd: 10 * S }, install: { mean: 442 * S, sd: 17 * S }, pxe: 10 * S, pxeLoop: 25 * S };

export interface TimingProfile {
  name: TimingSet;
  scanInterval: number;
  /** Monitoring delay before a dead VM is seen (Ganglia: ~70 s; direct probes: 0). */
  detectDelay: number;
  rules: FsmRules;
  durations: SimTimings;
}

/** paper: 60 s scan, 70 s Ganglia delay, T1 = T2 = 3 min, the paper's FSM. default: 3rc's config defaults and rules. */
function timingProfile(name: TimingSet): TimingProfile {
  if (name === 'paper') return { name, scanInterval: 60 * S, detectDelay: 70 * S, rules: paperRules(), durations: PAPER_DURATIONS };
  return { name, scanInterval: 10 * S, detectDelay: 0, rules: defaultRules(), durations: PAPER_DURATIONS };
}

export interface SimulateOptions {
  scenario: Scenario;
  runs: number;
  timings: TimingSet;
  seed: number;
}

export interface SimulateResult {
  scenario: Scenario;
  timings: TimingSet;
  runs: number;
  seed: number;
  /** Recovered VMs measured (a host failure or partition hits several VMs per run). */
  samples: number;
  /** VMs not back within the horizon (kept out of the figures, and shown). */
  unrecovered: number;
  mean_s: number;
  sd_s: number;
  p50_s: number;
  p95_s: number;
  max_s: number;
  detect_mean_s: number;
  last_rung_mean_s: number;
  double_starts: number;
  histogram: string[];
}

/** Long enough for the paper's worst path (detection + T1 + T2 + install) and then some. */
const HORIZON = 3600 * S;

const HOSTS = ['hv1', 'hv2', 'hv3', 'hv4'].map((name) => ({ name, cpus: 16, memoryMb: 65536, loadThreshold: 4 }));
const VMS = ['hv1', 'hv1', 'hv1', 'hv2', 'hv2', 'hv3', 'hv3', 'hv4'].map((host, i) => ({ name: `vm${10 + i}`, host }));

interface RunSample {
  recovery: number;
  detect: number;
  lastRung: number;
}

async function oneRun(scenario: Scenario, p: TimingProfile, rng: Rng): Promise<{ samples: RunSample[]; unrecovered: number; doubleStarts: number }> {
  const w: World = await buildWorld({
    rng, rules: p.rules, scanInterval: p.scanInterval, detectDelay: p.detectDelay, timings: p.durations,
    hosts: HOSTS, vms: VMS, fence: true,
  });
  // Crash at a uniformly random phase of the scan cycle, after the first pass.
  await w.run(p.scanInterval + Math.floor(rng.next() * p.scanInterval));
  const crashAt = w.clock.now();
  let victims: string[];
  switch (scenario) {
    case 'non-destructive':
      victims = ['vm10'];
      w.sim.crash('vm10', 'hang');
      break;
    case 'destructive':
      victims = ['vm10'];
      w.sim.crash('vm10', 'destructive');
      break;
    case 'host-failure':
      victims = VMS.filter((v) => v.host === 'hv1').map((v) => v.name);
      w.sim.hostDown('hv1');
      break;
    case 'partition':
      // hv1 and its VMs drop off the network but keep running; its BMC still answers.
      victims = VMS.filter((v) => v.host === 'hv1').map((v) => v.name);
      w.sim.partition('hv1');
      break;
  }
  const backAt = (vm: string) => w.sim.history(vm).find((h) => h.at > crashAt && h.up)?.at;
  await w.run(HORIZON, () => victims.every((vm) => backAt(vm) !== undefined));
  const samples: RunSample[] = [];
  let unrecovered = 0;
  for (const vm of victims) {
    const back = backAt(vm);
    if (back === undefined) {
      unrecovered += 1;
      continue;
    }
    const transitions = await w.store.queryEvents({ vm, kind: 'ha.transition' });
    const noticed = transitions.find((e) => e.at >= crashAt && (e.data as { from?: string } | null)?.from === 'running');
    const actions = await w.store.queryEvents({ vm, kind: 'ha.action' });
    const rung = actions.filter((e) => e.at <= back && ['reboot', 'reset', 'start', 'reinstall'].includes(e.reason ?? '')).at(-1);
    samples.push({ recovery: back - crashAt, detect: (noticed?.at ?? back) - crashAt, lastRung: back - (rung?.at ?? crashAt) });
  }
  w.controller.abandon();
  return { samples, unrecovered, doubleStarts: w.sim.doubleStarts };
}

/** Runs a scenario `runs` times from one seed; same options, same numbers. */
export async function simulate(o: SimulateOptions): Promise<SimulateResult> {
  const profile = timingProfile(o.timings);
  const rng = seededRng(o.seed);
  const all: RunSample[] = [];
  let unrecovered = 0;
  let doubleStarts = 0;
  for (let i = 0; i < o.runs; i++) {
    const r = await oneRun(o.scenario, profile, rng);
    all.push(...r.samples);
    unrecovered += r.unrecovered;
    doubleStarts += r.doubleStarts;
  }
  const rec = all.map((x) => x.recovery / S);
  const s = summarize(rec);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    scenario: o.scenario, timings: o.timings, runs: o.runs, seed: o.seed, samples: all.length, unrecovered,
    mean_s: round(s.mean), sd_s: round(s.sd), p50_s: round(s.p50), p95_s: round(s.p95), max_s: round(s.max),
    detect_mean_s: round(mean(all.map((x) => x.detect / S))),
    last_rung_mean_s: round(mean(all.map((x) => x.lastRung / S))),
    double_starts: doubleStarts,
    histogram: histogram(rec),
  };
}

/** The human-readable report of one result. */
export function formatResult(r: SimulateResult): string[] {
  return [
    `scenario ${r.scenario}, timings ${r.timings}, ${r.runs} runs (seed ${r.seed}): ${r.samples} recoveries measured, ${r.unrecovered} not recovered within ${HORIZON / S} s`,
    `  recovery (crash -> service back): mean ${r.mean_s} s, sd ${r.sd_s} s, p50 ${r.p50_s} s, p95 ${r.p95_s} s, max ${r.max_s} s`,
    `  detection mean ${r.detect_mean_s} s; last rung mean ${r.last_rung_mean_s} s; detection + last rung ${Math.round((r.detect_mean_s + r.last_rung_mean_s) * 10) / 10} s (the paper's accounting)`,
    `  double starts: ${r.double_starts}`,
    ...r.histogram,
  ];
}
