import { InputError, ErrorCodes } from '../../lib/errors.js';
import { SCENARIOS, formatResult, simulate, type Scenario, type TimingSet } from '../../ha/simulate.js';
import { EXIT_OK, type Io } from '../io.js';

export const help = `Usage: 3rc simulate --scenario non-destructive|destructive|host-failure|partition
                    [--runs N] [--timings paper|default] [--seed S] [--json]

Runs the real HA controller against a simulated cluster on a virtual clock, N times, and prints
the recovery time (crash -> service answering again): mean, sd, p50, p95, max and a histogram;
the mean detection time and the mean duration of the rung that worked (the paper's figures are
detection + that rung); and the number of double starts (a VM started while another copy ran).
  --scenario   non-destructive (guest hang), destructive (/boot erased, rebooted),
               host-failure (a hypervisor loses power), partition (a hypervisor drops off the
               network; its BMC still answers)
  --runs       default 1000
  --timings    paper: 60 s scan, 70 s Ganglia delay, T1 = T2 = 3 min, the paper's FSM;
               default: 3rc's defaults (10 s scan, direct probes, fencing, evidence, budget)
  --seed       default 1; the same seed gives the same numbers
  --json       one JSON object per scenario: {scenario, timings, runs, mean_s, sd_s, p50_s, p95_s,
               max_s, detect_mean_s, last_rung_mean_s, double_starts, ...}
Needs no config and touches nothing outside the process.`;

export interface SimulateArgs {
  scenario?: string;
  runs?: string;
  timings?: string;
  seed?: string;
  json: boolean;
}

function int(name: string, v: string | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  if (!/^[0-9]+$/.test(v) || Number(v) < min) throw new InputError(ErrorCodes.USAGE, `--${name} expects an integer >= ${min}, got ${JSON.stringify(v)}`, name);
  return Number(v);
}

export async function run(args: SimulateArgs, io: Io): Promise<number> {
  const scenarios = (args.scenario ?? '').split(',').filter(Boolean);
  if (scenarios.length === 0) throw new InputError(ErrorCodes.USAGE, `give --scenario ${SCENARIOS.join('|')}`, 'scenario');
  for (const s of scenarios) if (!SCENARIOS.includes(s as Scenario)) throw new InputError(ErrorCodes.USAGE, `unknown scenario ${JSON.stringify(s)}: expected ${SCENARIOS.join(', ')}`, 'scenario');
  const timings = args.timings ?? 'default';
  if (timings !== 'paper' && timings !== 'default') throw new InputError(ErrorCodes.USAGE, `--timings expects paper or default, got ${JSON.stringify(timings)}`, 'timings');
  const runs = int('runs', args.runs, 1000, 1);
  const seed = int('seed', args.seed, 1, 0);
  for (const scenario of scenarios) {
    const r = await simulate({ scenario: scenario as Scenario, runs, timings: timings as TimingSet, seed });
    if (args.json) {
      const { histogram: _h, ...rest } = r;
      io.out(JSON.stringify(rest));
    } else {
      for (const line of formatResult(r)) io.out(line);
    }
  }
  return EXIT_OK;
}
