/**
 * `npm run modelcheck`: long runs of the HA model checker (check.ts).
 *
 *   node dist/src/ha/check-cli.js [--depth 8] [--faults 3] [--no-liveness] [--max-states N]
 *                                 [--random RUNS] [--steps 40] [--hosts 3] [--vms 4] [--seed 1]
 *                                 [--out counter-example.json]
 *
 * Exhaustive (breadth-first) on 2 hosts and 2 VMs by default; `--random` runs fast-check on the
 * cluster size given. Prints states explored, depth reached and time taken; on a violation it
 * prints the counter-example (replayable, see check.test.ts) and exits 1.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { CheckConfig } from './check-world.js';
import { explore, formatCounterExample, randomRuns, type CounterExample } from './check.js';

function cluster(hosts: number, vms: number): CheckConfig {
  const names = Array.from({ length: hosts }, (_, i) => `hv${i + 1}`);
  return { hosts: names, vms: Object.fromEntries(Array.from({ length: vms }, (_, i) => [`vm${i + 1}`, names[i % hosts]!])) };
}

async function main(): Promise<number> {
  const { values: a } = parseArgs({
    options: {
      depth: { type: 'string', default: '8' },
      faults: { type: 'string', default: '3' },
      'no-liveness': { type: 'boolean', default: false },
      'max-states': { type: 'string' },
      random: { type: 'string' },
      steps: { type: 'string', default: '40' },
      hosts: { type: 'string' },
      vms: { type: 'string' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string' },
    },
  });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  let violation: CounterExample | null;
  if (a.random) {
    const config = cluster(Number(a.hosts ?? 3), Number(a.vms ?? 4));
    const r = await randomRuns(config, { runs: Number(a.random), steps: Number(a.steps), seed: Number(a.seed), progress: say });
    say(`random: ${config.hosts.length} hosts, ${Object.keys(config.vms).length} VMs, ${r.runs} runs, ${r.steps} steps, ${(r.ms / 1000).toFixed(1)} s`);
    violation = r.violation;
  } else {
    const config = cluster(Number(a.hosts ?? 2), Number(a.vms ?? 2));
    const r = await explore(config, {
      depth: Number(a.depth), maxFaults: Number(a.faults), liveness: !a['no-liveness'],
      ...(a['max-states'] ? { maxStates: Number(a['max-states']) } : {}), progress: say,
    });
    say(`exhaustive: ${config.hosts.length} hosts, ${Object.keys(config.vms).length} VMs, ${r.states} states, ${r.transitions} transitions, depth ${r.depth}${r.complete ? '' : ' (stopped at --max-states)'}, ${(r.ms / 1000).toFixed(1)} s`);
    violation = r.violation;
  }
  if (!violation) {
    say('no violation');
    return 0;
  }
  const text = formatCounterExample(violation);
  say(`VIOLATION of ${violation.invariant} after ${violation.steps.length} steps${violation.settle ? ' and the settle run' : ''}:\n${text}`);
  if (a.out) writeFileSync(a.out, text);
  return 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`modelcheck: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(2);
  },
);
