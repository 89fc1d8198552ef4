import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { crashReportJson, formatCrashReport } from '../../lab/crash-report.js';
import { ready, runScenario, SCENARIO_HELP, SCENARIOS, type CrashRun, type Scenario } from '../../lab/crash-scenarios.js';
import { HaLab } from '../../lab/ha-lab.js';
import { hypervisorUnavailable } from '../../lab/hypervisor.js';
import { LabNetwork, labUnavailable } from '../../lab/topology.js';
import { ErrorCodes, InputError } from '../../lib/errors.js';
import { packageRoot } from '../../lib/paths.js';
import { EXIT_FAIL, EXIT_OK, type Io } from '../io.js';

const width = Math.max(...SCENARIOS.map((s) => s.length));

export const help = `Usage: 3rc crash-test [--scenario NAME]... [--runs N] [--json] [--verbose]

Crash-tests the HA controller on real parts (root): builds the HA lab (network namespaces, two
libvirt hypervisors hv1 and hv2 driven over SSH, Ganglia, VMs vm14 and vm15 installed over PXE
by the image profile; about 5-8 min), then injects each scenario's fault N times, checks what
must hold and measures detection and recovery from the fault. Prints every run, the distribution
(min, median, p90, max, mean ± sd) and the paper's figures beside it. Needs the lab tools
(qemu, libvirt, sshd, gmond) and the lab image (scripts/lab-image.sh).

  --scenario  one of the names below; repeat for several, run in the order given (default crash)
  --runs      runs of each scenario, 1 to 1000 (default 1): scenario A N times, then B
  --json      one JSON object a scenario on stdout: {scenario, runs, detection_s, recovery_s,
              double_starts, failed}; the lab's log goes to stderr
  --verbose   each run's checks and the controller's decisions with their times

Scenarios:
${SCENARIOS.map((s) => `  ${s.padEnd(width)}  ${SCENARIO_HELP[s]}`).join('\n')}

State (3rc's config, store and logs, the VMs' consoles and disks) stays in var/lab/crash/ until
the next crash-test. Exits 0 when every run held, 1 when one failed (its message says what and
the decisions seen).`;

/** Namespace prefix of the crash-test lab (not `lab up`'s 3rclab, nor the test suite's). */
export const PREFIX = '3rccrash';
const IMAGE = join('boot', 'lab', 'images', 'debian12.img.gz');

export interface CrashTestArgs {
  scenarios: string[];
  runs: string | undefined;
  json: boolean;
  verbose: boolean;
}

function scenarios(names: string[]): Scenario[] {
  if (names.length === 0) return ['crash'];
  for (const s of names) {
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new InputError(ErrorCodes.USAGE, `unknown scenario ${JSON.stringify(s)}: expected one of ${SCENARIOS.join(', ')}`, 'scenario');
  }
  return names as Scenario[];
}

function runCount(v: string | undefined): number {
  if (v === undefined) return 1;
  if (!/^[0-9]+$/.test(v) || Number(v) < 1 || Number(v) > 1000) throw new InputError(ErrorCodes.USAGE, `--runs expects an integer from 1 to 1000, got ${JSON.stringify(v)}`, 'runs');
  return Number(v);
}

/** Stops the lab (or, while it is still being built, kills what its namespaces run) and exits. */
function onSignals(lab: () => HaLab | undefined, log: (l: string) => void): () => void {
  const handler = (sig: NodeJS.Signals) => {
    log(`crash-test: ${sig}: stopping the lab`);
    const h = lab();
    void (h ? h.stop() : Promise.resolve())
      .catch(() => undefined)
      .finally(() => {
        try {
          LabNetwork.destroyAll(PREFIX);
        } finally {
          process.exit(sig === 'SIGINT' ? 130 : 143);
        }
      });
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/**
 * Checks the command line, then the machine (root, lab tools, image), builds the HA lab, runs each
 * scenario `runs` times and prints one report a scenario. A failed run is reported and the next
 * one goes on; the lab is stopped at the end, on an error, and on SIGINT/SIGTERM.
 */
export async function run(args: CrashTestArgs, io: Io): Promise<number> {
  const chosen = scenarios(args.scenarios);
  const runs = runCount(args.runs);
  const why = labUnavailable() ?? hypervisorUnavailable();
  if (why) {
    io.err(`3rc crash-test: ${why}`);
    return EXIT_FAIL;
  }
  const root = packageRoot();
  if (!existsSync(join(root, IMAGE))) {
    io.err(`3rc crash-test: the lab image ${IMAGE} is not built: run scripts/lab-image.sh`);
    return EXIT_FAIL;
  }
  // With --json stdout carries only the reports.
  const log = args.json ? io.err : io.out;
  if (LabNetwork.destroyAll(PREFIX).length) log('crash-test: removed the namespaces of an earlier crash-test');
  const workDir = join(root, 'var', 'lab', 'crash');
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });

  let h: HaLab | undefined;
  const unhook = onSignals(() => h, log);
  let failed = 0;
  try {
    const t0 = Date.now();
    try {
      h = await HaLab.start({ prefix: PREFIX, workDir, log });
    } catch (err) {
      io.err(`3rc crash-test: the HA lab did not come up: ${(err as Error).message}`);
      return EXIT_FAIL;
    }
    log(`crash-test: HA lab ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (state in ${workDir})`);
    for (const scenario of chosen) {
      const done: CrashRun[] = [];
      const failures: string[] = [];
      for (let i = 1; i <= runs; i++) {
        log(`crash-test: ${scenario} run ${i} of ${runs}`);
        try {
          await ready(h, scenario);
          done.push(await runScenario(h, scenario));
        } catch (err) {
          // The next run checks its own starting point and fails clearly if the lab is unusable.
          failures.push((err as Error).message);
          io.err(`3rc crash-test: ${scenario} run ${i} failed: ${(err as Error).message}`);
        }
      }
      failed += failures.length;
      if (args.json) io.out(JSON.stringify(crashReportJson(scenario, done, failures)));
      else for (const line of formatCrashReport(scenario, done, failures, { verbose: args.verbose })) io.out(line);
    }
  } finally {
    unhook();
    await h?.stop();
  }
  return failed === 0 ? EXIT_OK : EXIT_FAIL;
}
