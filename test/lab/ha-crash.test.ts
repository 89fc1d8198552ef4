/**
 * The HA controller against real parts: two hypervisor hosts with their own libvirtd and sshd
 * (3rc drives them with virsh over SSH, host keys checked), gmond on each read by 3rc's Ganglia
 * monitor, and VMs installed over PXE by the lab's image profile. Then the crash scenarios of the
 * issue, in an order that leaves each one's starting point ready for the next:
 *
 *   without fence commands: crash, hang, controller restart, start timeout, destructive (image,
 *   then cloud-image profile),
 *   management link, partition (fence-pending); with them: partition (fenced), hypervisor failure,
 *   reinstall disabled.
 *
 * Double starts: every scenario watches both VMs through libvirt's lifecycle events of both
 * hosts (`virsh event --loop`: event-driven, so a start while another copy runs is seen however
 * short the overlap) and through /proc sampled every 250 ms (any qemu process, also one libvirt
 * did not start); see DoubleStartWatch in src/lab/qemu-procs.ts.
 *
 * The run's one HA lab also hosts what needs real hypervisors or installs: every install is
 * verified (HaLab.verifyInstall: boot trace, installer console, installed system), the
 * hypervisors are checked over SSH and pass the HypervisorDriver contract with the real libvirt
 * driver (hypervisors-in-ha-lab.ts), and the P2V scenarios run last (p2v-in-ha-lab.ts).
 * Each test has a budget of about twice its measured time; the after hook (also run on a
 * timeout) and the lab's exit/SIGTERM safety net (topology.ts) tear the lab down.
 *
 * Every phase's time is printed; the summary compares detection and recovery with the paper's.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runScenario, type CrashRun, type Scenario } from '../../src/lab/crash-scenarios.js';
import { HaLab } from '../../src/lab/ha-lab.js';
import { hypervisorUnavailable } from '../../src/lab/hypervisor.js';
import { stopAllLabs } from '../../src/lab/lab.js';
import { labBudget, labUnavailable, labWorkDir } from '../../src/lab/topology.js';
import { ROOT } from '../lib/serve.js';
import { hypervisorChecks, hypervisorKillCheck } from './hypervisors-in-ha-lab.js';
import { p2vExtra, p2vScenarios } from './p2v-in-ha-lab.js';

const skip = labUnavailable() ?? hypervisorUnavailable() ?? (existsSync(join(ROOT, 'boot', 'lab', 'images', 'debian12.img.gz')) ? undefined : 'the lab image is not built (run scripts/lab-image.sh)');
if (skip) console.log(`# SKIP HA crash tests: ${skip}`);

const results: CrashRun[] = [];
const MIN = 60_000;
/**
 * Budgets, so that a hang fails in minutes: about twice each part's time measured on quiet runs of
 * this 2-core machine (s): lab set-up 105-164; crash 51-63, hang 75, controller-restart (held
 * start) 188, start-timeout 93-95, destructive (a reinstall) 166-190, management-link 35,
 * partition 45, partition-fenced 66, hypervisor 67-71, no-reinstall 53. With the P2V part (12),
 * pxe-firmware (6) and image-install (2), every lab budget adds up to 59 min (issue 29: under
 * 60). THREERC_LAB_BUDGET_SCALE stretches them on busier machines.
 */
const BUDGET: Record<Scenario, number> = {
  // destructive-cloud (issue 27): 200 s once, on a busy machine (load 7-10), not yet on a quiet run;
  // destructive's budget. It brings the sum to 64.5 min.
  crash: 2 * MIN, hang: 2.5 * MIN, 'controller-restart': 4.5 * MIN, 'start-timeout': 3.5 * MIN, destructive: 5.5 * MIN, 'destructive-cloud': 5.5 * MIN,
  'management-link': 1.5 * MIN, partition: 2 * MIN, 'partition-fenced': 2.5 * MIN, hypervisor: 2.5 * MIN, 'no-reinstall': 2 * MIN,
  // A drain of 1 VM, then of 2 (three live migrations of 1 GiB under TCG) and eight SSH logins:
  // 68 s measured with the machine's load at 8-11 (no quiet run yet).
  drain: 2.5 * MIN,
};

function print(run: CrashRun): void {
  console.log(`# ${run.scenario} (${run.vm}): detection ${run.detection_s ?? '-'} s, recovery ${run.recovery_s ?? '-'} s, SSH ${run.ssh_s ?? '-'} s, double starts ${run.doubleStarts}`);
  for (const l of run.timeline) console.log(`#   ${l}`);
  for (const c of run.checks) console.log(`#   checked: ${c}`);
}

describe('HA on real parts: libvirt hypervisors, SSH, Ganglia, installed VMs', { skip }, () => {
  let h: HaLab;
  let work: string;
  let workDir: ReturnType<typeof labWorkDir> | undefined;

  before(async () => {
    workDir = labWorkDir('ha-crash');
    work = workDir.dir;
    const t0 = Date.now();
    h = await HaLab.start({ prefix: `L${process.pid % 10000}x`, workDir: work, log: (l) => console.log(`# ${l}`), extra: p2vExtra(work) });
    console.log(`# HA lab ready (2 hypervisors, vm14 and vm15 installed, HA on) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, { timeout: labBudget(6.5 * MIN) });

  after(async () => {
    if (results.length) {
      console.log('# summary (s from the fault): scenario, detection, recovery (3rc sees SSH), SSH login');
      for (const r of results) console.log(`#   ${r.scenario.padEnd(18)} ${String(r.detection_s ?? '-').padStart(6)} ${String(r.recovery_s ?? '-').padStart(7)} ${String(r.ssh_s ?? '-').padStart(7)}${r.reinstall_s === undefined ? '' : `  (reinstall ${r.reinstall_s} s)`}`);
      console.log('#   paper (Ganglia, 60 s polls): detection 100 +/- 30 s; recovery 180 +/- 30 s (restart), 542 +/- 45 s (reinstall)');
    }
    await h?.stop();
    await stopAllLabs(); // also a lab whose start timed out (h unset)
    workDir?.remove();
  });

  const scenario = (name: Scenario, extra?: (r: CrashRun) => void | Promise<void>) =>
    it(name, { timeout: labBudget(BUDGET[name]) }, async () => {
      const r = await runScenario(h, name);
      results.push(r);
      print(r);
      assert.equal(r.doubleStarts, 0);
      await extra?.(r);
    });

  it('3rc drives both hypervisors and reads their load from Ganglia', { timeout: labBudget(1.5 * MIN) }, async () => {
    const deadline = Date.now() + 60_000;
    let hv: { name: string; up: boolean | null; loadFive: number | null; cpuNum: number | null; vms: string[] }[] = [];
    while (Date.now() < deadline) {
      hv = ((await h.lab.api('GET', '/overview')).body as { hypervisors: typeof hv }).hypervisors;
      if (hv.length === 2 && hv.every((x) => x.up && x.loadFive !== null && x.cpuNum !== null)) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    console.log(`# 3rc's view: ${hv.map((x) => `${x.name} up=${x.up} load_five=${x.loadFive} cpu_num=${x.cpuNum} vms=${x.vms.join(',')}`).join('; ')}`);
    assert.deepEqual(hv.map((x) => [x.name, x.up]), [['hv1', true], ['hv2', true]]);
    assert.ok(hv.every((x) => x.loadFive !== null && x.cpuNum !== null), 'loads from Ganglia');
    assert.deepEqual((await h.status('vm14')).state, 'running');
    assert.deepEqual((await h.status('vm15')).state, 'running');
  });

  hypervisorChecks(() => h);
  scenario('drain');
  scenario('crash', (r) => assert.ok(r.recovery_s !== null && r.detection_s !== null));
  scenario('hang');
  scenario('controller-restart');
  scenario('start-timeout');
  scenario('destructive', async () => { await h.verifyInstall('vm14'); });
  scenario('destructive-cloud');
  scenario('management-link', (r) => assert.equal(r.detection_s, null));
  scenario('partition');
  scenario('partition-fenced');
  scenario('hypervisor');
  scenario('no-reinstall', (r) => assert.equal(r.recovery_s, null));
  p2vScenarios(() => h);
  hypervisorKillCheck(() => h);
});
