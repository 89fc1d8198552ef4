/**
 * The HA crash scenarios, run against the HA lab (ha-lab.ts) with real parts: each injects one
 * fault, follows 3rc's decisions through its API, checks what must hold (the VM back on SSH with
 * its host key, never two copies, the right rung) and measures detection and recovery. Used by
 * the lab tests and by `3rc crash-test`. A broken expectation throws, with the decisions seen.
 *
 * Times are from the fault's injection: detection is 3rc's first decision that the VM is not
 * running; recovery is its decision that the VM is running again (its SSH port answers); ssh is
 * when the test itself logged in (host key checked).
 */
import type { StoreEvent } from '../store/store.js';
import { describeDecision, type Decision, type HaLab } from './ha-lab.js';
import type { DoubleStartWatch } from './qemu-procs.js';

export const SCENARIOS = ['crash', 'hang', 'destructive', 'destructive-cloud', 'hypervisor', 'partition', 'partition-fenced', 'management-link', 'controller-restart', 'start-timeout', 'no-reinstall', 'drain'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const SCENARIO_HELP: Record<Scenario, string> = {
  crash: 'kill -9 of the VM\'s qemu: restarted where it was, reboot rung skipped (the hypervisor says it is off)',
  hang: 'SIGSTOP of the VM\'s qemu: seen dead although its process exists, reset, back',
  destructive: 'boot sector wiped, then rebooted: PXE loop seen, reinstalled from scratch, back with its role',
  'destructive-cloud': 'the same, reinstalled with the cloud-image profile: the image written with only a NoCloud pointer, its cloud-init personalises it from 3rc',
  hypervisor: 'the VM\'s hypervisor dies (every process killed, links cut): fenced, restarted on the other one',
  partition: 'all links of the VM\'s hypervisor cut, no fence command: the VM waits in fence-pending, never runs twice',
  'partition-fenced': 'the same with a fence command: the old copy is powered off first, then the VM starts on the other host',
  'management-link': 'only the hypervisor\'s management link cut, its VMs reachable: nothing is restarted',
  'controller-restart': 'kill -9 of 3rc while its start is held in virsh on the hypervisor: it resumes and does not issue the start again',
  'start-timeout': 'the restart\'s virsh start answers after 3rc\'s command timeout while the host\'s load rises over its threshold: never two copies, runs once',
  'no-reinstall': 'boot sector wiped on a VM with reinstall disabled: quarantined and reported, never reinstalled',
  drain: '`3rc hv drain` of a hypervisor running vm14 and vm15 (vm15 brought there first by a drain of its own host): both migrate live to the other one (uptimes go on, never running on both), then undrain',
};

export interface CrashRun {
  scenario: Scenario;
  vm: string;
  detection_s: number | null;
  recovery_s: number | null;
  ssh_s: number | null;
  doubleStarts: number;
  /** Every decision about the VM, with its time since the fault. */
  timeline: string[];
  /** What was checked, in words. */
  checks: string[];
  /** A reinstall's time: from the decision to reinstall to the install-done call (s). */
  reinstall_s?: number;
}

const MIN = 60_000;
const OTHER: Record<string, string> = { hv1: 'hv2', hv2: 'hv1' };

const isTransition = (d: Decision) => d.kind === 'ha.transition';
const toPhase = (phase: string) => (d: Decision) => isTransition(d) && (d.data as { to?: string } | null)?.to === phase;
const fromRunning = (d: Decision) => isTransition(d) && (d.data as { from?: string } | null)?.from === 'running';
const recovered = (d: Decision) => toPhase('running')(d) && d.reason === 'recovered';

function fail(what: string): never {
  throw new Error(what);
}

function secs(at: number, t0: number): number {
  return Math.round((at - t0) / 100) / 10;
}

/** The VM each scenario breaks. */
export const SCENARIO_VM: Record<Scenario, string> = {
  crash: 'vm14', hang: 'vm14', destructive: 'vm14', 'destructive-cloud': 'vm14', hypervisor: 'vm14', partition: 'vm14', 'partition-fenced': 'vm14',
  'management-link': 'vm14', 'controller-restart': 'vm15', 'start-timeout': 'vm14', 'no-reinstall': 'vm15', drain: 'vm14',
};

/**
 * Makes the scenario's VM ready for another run: when 3rc does not see it running (the
 * no-reinstall scenario leaves it quarantined with a disk that does not boot), an operator's
 * reinstall: HA disabled for it, flipped to install, started where 3rc places it, HA enabled.
 */
export async function ready(h: HaLab, scenario: Scenario): Promise<void> {
  const vm = SCENARIO_VM[scenario];
  const st = await h.status(vm);
  if (st.state === 'running' && h.runningOn(vm)) return;
  h.log(`crash-test: ${vm} is ${st.state} (${st.reason}): reinstalling it by hand before the run`);
  await h.lab.api('POST', `/ha/vms/${vm}/disable`);
  const on = h.runningOn(vm);
  if (on) h.hv.get(on)!.virsh(['destroy', vm]);
  await h.installAll([vm], () => st.host ?? h.homeOf(vm));
  const r = await h.lab.api('POST', `/ha/vms/${vm}/enable`);
  if (r.status !== 200) fail(`could not enable HA for ${vm} again: ${JSON.stringify(r.body)}`);
}

/** Runs one scenario; throws when an expectation fails. */
export function runScenario(h: HaLab, scenario: Scenario): Promise<CrashRun> {
  const runners: Record<Scenario, (h: HaLab) => Promise<CrashRun>> = {
    crash, hang, destructive, 'destructive-cloud': destructiveCloud, hypervisor: hypervisorDies, partition: (x) => partition(x, false), 'partition-fenced': (x) => partition(x, true),
    'management-link': managementLink, 'controller-restart': controllerRestart, 'start-timeout': startTimeout, 'no-reinstall': noReinstall, drain,
  };
  return runners[scenario](h);
}

/** A fault in progress: the marker, the time, the double-start watch. */
class Run {
  readonly t0 = Date.now();
  readonly watch: DoubleStartWatch;
  readonly checks: string[] = [];
  /** Lines printed in the timeline after the decisions (information, not checks). */
  readonly notes: string[] = [];
  detection: Decision | null = null;
  recovery: Decision | null = null;
  sshAt: number | null = null;

  constructor(readonly h: HaLab, readonly scenario: Scenario, readonly vm: string, readonly mark: number) {
    this.watch = h.watchDoubleStarts(['vm14', 'vm15']);
  }

  static async begin(h: HaLab, scenario: Scenario, vm: string): Promise<Run> {
    const st = await h.status(vm);
    if (st.state !== 'running') fail(`${scenario}: ${vm} must be running before the fault, 3rc says ${st.state} (${st.reason})`);
    if (!h.runningOn(vm)) fail(`${scenario}: ${vm} has no qemu process before the fault`);
    return new Run(h, scenario, vm, await h.mark());
  }

  wait(pred: (d: Decision) => boolean, ms: number, what: string, vm = this.vm, pollMs?: number): Promise<Decision> {
    return this.h.waitDecision(vm, pred, ms, what, this.mark, pollMs);
  }

  async detected(ms = 3 * MIN): Promise<Decision> {
    this.detection = await this.wait(fromRunning, ms, 'decision that it is down');
    return this.detection;
  }

  async recovered(ms: number): Promise<Decision> {
    this.recovery = await this.wait(recovered, ms, 'recovery (running again)');
    this.sshAt = await this.h.waitSsh(this.vm, 5 * MIN);
    this.checks.push(`${this.vm} answers on SSH with the host key its install printed`);
    return this.recovery;
  }

  async decisions(vm = this.vm): Promise<Decision[]> {
    return (await this.h.decisions(this.mark)).filter((d) => d.vm === vm);
  }

  /** Checks the watch and finishes the run record. */
  async end(): Promise<CrashRun> {
    const w = this.watch.stop();
    if (w.doubleStarts > 0) fail(`${this.scenario}: a VM ran twice at once (${w.doubleStarts} time(s)${this.watch.lifecycleDoubles.map((d) => `; ${d.vm} started on ${d.host} at +${secs(d.at, this.t0)} s while running on ${d.others.join(', ')}`).join('')})`);
    this.checks.push("no VM ever started while another copy of it ran (libvirt's lifecycle events of both hosts), nor had two live qemu processes (/proc, every 250 ms)");
    const timeline = [...(await this.decisions()).map((d) => `+${secs(d.at, this.t0).toFixed(1)} s ${describeDecision(d)}`), ...this.notes];
    return {
      scenario: this.scenario, vm: this.vm,
      detection_s: this.detection ? secs(this.detection.at, this.t0) : null,
      recovery_s: this.recovery ? secs(this.recovery.at, this.t0) : null,
      ssh_s: this.sshAt ? secs(this.sshAt, this.t0) : null,
      doubleStarts: w.doubleStarts, timeline, checks: this.checks,
    };
  }

  abort(): void {
    this.watch.stop();
  }
}

async function guarded(r: Run, body: () => Promise<void>): Promise<CrashRun> {
  try {
    await body();
    return await r.end();
  } catch (err) {
    r.abort();
    const seen = (await r.decisions().catch(() => [])).map((d) => `+${secs(d.at, r.t0).toFixed(1)} s ${describeDecision(d)}`).join('\n  ');
    throw new Error(`${r.scenario} (${r.vm}): ${(err as Error).message}\ndecisions since the fault:\n  ${seen || '(none)'}`);
  }
}

/** A run whose fault is a signal to the VM's qemu process; `then` follows what 3rc does. */
async function qemuFault(h: HaLab, scenario: Scenario, sig: NodeJS.Signals, then: (r: Run, host: string, pid: number) => Promise<void>): Promise<CrashRun> {
  const vm = SCENARIO_VM[scenario];
  const r = await Run.begin(h, scenario, vm);
  return guarded(r, async () => {
    const host = h.runningOn(vm)!;
    const pid = h.copies(vm)[0]!.pid;
    process.kill(pid, sig);
    await then(r, host, pid);
  });
}

/** 1. kill -9 of the VM's qemu. */
function crash(h: HaLab): Promise<CrashRun> {
  return qemuFault(h, 'crash', 'SIGKILL', async (r, host) => {
    const vm = r.vm;
    await r.detected();
    await r.recovered(6 * MIN);
    const ds = await r.decisions();
    const rebootTried = ds.some((d) => d.kind === 'ha.action' && d.reason === 'reboot');
    const powered = ds.some((d) => isTransition(d) && d.reason === 'vm-powered-off');
    if (rebootTried || !powered) fail(`expected the reboot rung skipped because ${host} reports ${vm} off (reason vm-powered-off)`);
    r.checks.push(`reboot rung skipped: ${host} reported ${vm} off`);
    if (h.runningOn(vm) !== host) fail(`expected ${vm} restarted on ${host}, it runs on ${h.runningOn(vm)}`);
    r.checks.push(`restarted on the same hypervisor (${host})`);
  });
}

/** 2. SIGSTOP of the VM's qemu: the process exists, the VM is frozen. */
function hang(h: HaLab): Promise<CrashRun> {
  return qemuFault(h, 'hang', 'SIGSTOP', async (r, host, pid) => {
    const vm = r.vm;
    try {
      await r.detected();
      await r.recovered(6 * MIN);
    } finally {
      // Never leave a frozen qemu behind if the test failed.
      if (h.copies(vm).some((p) => p.pid === pid)) process.kill(pid, 'SIGCONT');
    }
    const now = h.copies(vm);
    if (now.length !== 1 || now[0]!.pid === pid || now[0]!.stopped) fail(`expected the frozen qemu (pid ${pid}) replaced by one new process, found ${JSON.stringify(now)}`);
    if (now[0]!.host !== host) fail(`expected ${vm} back on ${host}`);
    r.checks.push(`the frozen qemu (pid ${pid}) was killed and ${vm} started again on ${host} (pid ${now[0]!.pid})`);
  });
}

/** Wipes the VM's first MiB (MBR and GRUB) and reboots it at once. */
async function wipeAndReboot(h: HaLab, vm: string): Promise<void> {
  await h.ssh(vm, 'sync; nohup sh -c "sleep 1; dd if=/dev/zero of=/dev/vda bs=1M count=1 conv=fsync; echo b > /proc/sysrq-trigger" >/dev/null 2>&1 &');
}

/** 3. Destructive crash: the disk no longer boots; 3rc must reinstall it. */
function destructive(h: HaLab): Promise<CrashRun> {
  return reinstalled(h, 'destructive');
}

/**
 * A destructive crash: the boot sector wiped, 3rc must reinstall the VM with the profile its boot
 * entry names; `more` checks what is particular to the run (after the checks of every reinstall).
 */
async function reinstalled(h: HaLab, scenario: Scenario, more?: (r: Run, events: number) => Promise<void>): Promise<CrashRun> {
  const vm = SCENARIO_VM[scenario];
  await h.ssh(vm, 'echo before-the-crash > /root/crash-marker && sync');
  const keysBefore = h.latestHostKeys(vm);
  const r = await Run.begin(h, scenario, vm);
  let reinstall: number | undefined;
  const run = await guarded(r, async () => {
    const events = h.lab.events.length;
    await wipeAndReboot(h, vm);
    await r.detected();
    const rein = await r.wait(toPhase('reinstalling'), 10 * MIN, 'decision to reinstall');
    r.checks.push(`reinstall decided ${secs(rein.at, r.t0)} s after the fault, reason ${rein.reason}`);
    const done = await h.lab.waitEvent(vm, (e: StoreEvent) => e.kind === 'install.done' && e.at > r.t0, 15 * MIN, 'install-done', events);
    reinstall = secs(done.at, rein.at);
    r.notes.push(`reinstall ${reinstall} s (decision to reinstall -> install-done)`);
    await r.recovered(10 * MIN);
    if ((await h.ssh(vm, 'test -e /root/crash-marker && echo kept || echo gone')).trim() !== 'gone') fail('the marker written before the crash survived: not a fresh install');
    if ((await h.ssh(vm, 'cat /etc/3rc/role')).trim() !== 'middleware') fail('role middleware not applied after the reinstall');
    if (h.latestHostKeys(vm).join() === keysBefore.join()) fail('the reinstalled system kept its old SSH host keys');
    const entry = await h.lab.api('GET', `/hosts/${vm}/boot`);
    if ((entry.body as { mode?: string }).mode !== 'local') fail(`boot entry after the reinstall: ${JSON.stringify(entry.body)}`);
    r.checks.push('freshly installed: marker gone, new SSH host keys, role middleware applied, boot entry back to local');
    if (!(await h.learnedKeysMatch(vm))) fail('3rc did not learn the new SSH host keys from the install-done call');
    r.checks.push('3rc recorded the new SSH host keys in its store through the install-done call (its reboot rung can log in again)');
    await more?.(r, events);
  });
  return reinstall === undefined ? run : { ...run, reinstall_s: reinstall };
}

/** Points the boot entry of `vm` at `profile` (an install flip, then local at once): 3rc's next install of it uses that profile. */
async function useProfile(h: HaLab, vm: string, profile: string): Promise<void> {
  for (const body of [{ mode: 'install', profile, reason: `crash-test: ${profile}` }, { mode: 'local', reason: `crash-test: ${profile}` }]) {
    const res = await h.lab.api('PUT', `/hosts/${vm}/boot`, body);
    if (res.status !== 200) fail(`PUT /hosts/${vm}/boot ${JSON.stringify(body)}: ${res.status} ${JSON.stringify(res.body)}`);
  }
}

/** The cloud-image profile of the lab (examples/lab.yaml) and the image profile it stands in for. */
const CLOUD_PROFILE = 'debian12-cloud';
const IMAGE_PROFILE = 'debian12-image';

/**
 * 3b. The destructive crash with the cloud-image rung: the VM's boot entry names the cloud-image
 * profile, so 3rc's reinstall writes the image with only cloud-init's NoCloud pointer and boots it
 * (kexec); its cloud-init fetches meta-data, user-data and network-config from 3rc, sets the host
 * name, runs the role step and calls install-done with the host keys. Afterwards the entry names
 * the image profile again.
 */
async function destructiveCloud(h: HaLab): Promise<CrashRun> {
  const vm = SCENARIO_VM['destructive-cloud'];
  const idBefore = (await h.ssh(vm, 'cat /var/lib/cloud/data/instance-id 2>/dev/null || echo none')).trim();
  await useProfile(h, vm, CLOUD_PROFILE);
  try {
    return await reinstalled(h, 'destructive-cloud', async (r, events) => {
      const { ip, mac } = h.lab.host(vm);
      const mine = h.lab.events.slice(events).filter((e) => e.host === vm && e.at > r.t0);
      const script = mine.find((e) => e.kind === 'http.kickstart' && e.data?.nocloud === undefined && e.data?.status === 200);
      if (script?.data?.profile !== CLOUD_PROFILE || script.data.peer !== ip) fail(`install script: profile ${String(script?.data?.profile)} from ${String(script?.data?.peer)}, expected ${CLOUD_PROFILE} from ${ip}`);
      // Bookworm's cloud-init (22.4) reads meta-data, user-data and vendor-data from a network seed;
      // network-config only from a local one (newer releases fetch it too): its NIC keeps the DHCP
      // address of the image's own network file, the host's reservation.
      const served = ['meta-data', 'user-data', 'vendor-data', 'network-config'].filter((f) => mine.some((e) => e.kind === 'http.kickstart' && e.data?.nocloud === f && e.data?.status === 200 && e.data?.peer === ip));
      if (!served.includes('meta-data') || !served.includes('user-data')) fail(`NoCloud files served to ${ip}: ${served.join(', ') || 'none'}; expected meta-data and user-data at least`);
      r.checks.push(`installed by ${CLOUD_PROFILE}: its install script, then ${served.join(', ')} from /ci/${mac.replace(/:/g, '-')}/ fetched by the host's own cloud-init (${ip})`);
      const [id, name, pointer, status] = (await h.ssh(vm, 'cat /var/lib/cloud/data/instance-id; hostname; grep -c "seedfrom: .*/ci/" /etc/cloud/cloud.cfg.d/90-3rc.cfg; timeout 120 cloud-init status --wait 2>&1 | tr -d ".\n"', 150_000)).trim().split('\n');
      if (!id?.startsWith(`3rc-${vm}-`) || id === idBefore) fail(`instance-id ${id}, before the crash ${idBefore}: expected a new 3rc-${vm}-... one`);
      if (name !== vm) fail(`hostname says ${name}, expected ${vm}`);
      if (pointer !== '1') fail('no NoCloud seedfrom pointer in /etc/cloud/cloud.cfg.d/90-3rc.cfg');
      if (!/status: done/.test(status ?? '')) fail(`cloud-init status: ${status}`);
      r.checks.push(`cloud-init ran from 3rc's seed: instance-id ${id} (before: ${idBefore}), hostname ${name}, ${String(status).trim()}`);
    });
  } finally {
    await useProfile(h, vm, IMAGE_PROFILE);
  }
}

/** The other hypervisor of a two-host lab. */
function other(host: string): string {
  return OTHER[host] ?? fail(`no other hypervisor for ${host}`);
}

/** Fence decision (ha.done of a fence saying off) must come before the start on the new host. */
async function checkFencedFirst(r: Run, vm: string, newHost: string): Promise<void> {
  const ds = (await r.h.decisions(r.mark)).filter((d) => d.vm === vm);
  const fenced = ds.find((d) => d.kind === 'ha.done' && (d.data as { action?: string }).action === 'fence' && d.reason === 'off');
  const start = ds.find((d) => d.kind === 'ha.action' && (d.data as { host?: string }).host === newHost && ['start', 'reinstall'].includes(String(d.reason)));
  if (!fenced || !start || fenced.id > start.id) fail(`${vm}: expected the old copy proven off (fence) before the start on ${newHost}`);
  r.checks.push(`${vm}: old copy proven off (${String((fenced.data as { detail?: string }).detail)}) before its start on ${newHost}`);
}

/**
 * The fence of a host the last monitoring pass saw down goes straight to its fence command: no
 * SSH to the dead host first (that would cost a connect timeout). Causal evidence, not a clock:
 * the fence's recorded outcome names the reason it skipped the hypervisor ("was down in the last
 * pass", controller.ts fence()), where an SSH attempt would have recorded its own failure. The
 * gap from the detection to the fence is printed as information.
 */
async function checkFencedWithoutSsh(r: Run, vm: string, dead: string): Promise<void> {
  const ds = await r.decisions(vm);
  const fence = ds.find((d) => d.kind === 'ha.action' && d.reason === 'fence');
  const done = ds.find((d) => d.kind === 'ha.done' && (d.data as { action?: string }).action === 'fence' && d.reason === 'off');
  const detail = String((done?.data as { detail?: string } | undefined)?.detail);
  if (!done || !detail.includes(`${dead} was down in the last pass`)) fail(`${vm}: expected the fence of ${dead} issued because the last pass saw it down, without SSH to it first; its outcome says: ${detail}`);
  r.checks.push(`${vm}: ${dead} fenced straight away because the last pass saw it down, no SSH tried first (${detail})`);
  const detected = r.detection;
  if (detected && fence) r.notes.push(`detection -> fence command: ${((fence.at - detected.at) / 1000).toFixed(1)} s; fence command -> read back off: ${((done.at - fence.at) / 1000).toFixed(1)} s`);
}

/**
 * Where the lab gave the fenced host a BMC (ipmi_sim, HaLab.bmcs), the fence went through it:
 * 3rc's recorded fence outcome says its BMC driver read the host back off, and the BMC's
 * chassis program was asked for a power-off since `offsBefore` (HaLab.bmcPowerOffs).
 */
async function checkBmcFence(r: Run, vm: string, host: string, offsBefore: number): Promise<void> {
  if (!r.h.bmcs.has(host)) return;
  const done = (await r.decisions(vm)).find((d) => d.kind === 'ha.done' && (d.data as { action?: string }).action === 'fence' && d.reason === 'off');
  const detail = String((done?.data as { detail?: string } | undefined)?.detail);
  if (!detail.startsWith(`fence through its BMC (ipmi) read back ${host} off`)) fail(`${vm}: expected the fence of ${host} through its BMC (ipmi) read back off; its outcome says: ${detail}`);
  const offs = r.h.bmcPowerOffs(host) - offsBefore;
  if (offs < 1) fail(`${host}'s BMC (ipmi_sim) was asked for no power-off, yet 3rc says it fenced through it`);
  r.checks.push(`${host} fenced through its BMC: 3rc's IPMI driver (ipmitool lanplus to ipmi_sim) powered it off and read back off; the BMC got ${offs} power-off(s)`);
}

/** 4. The VM's hypervisor dies: every process killed and its links cut. */
async function hypervisorDies(h: HaLab): Promise<CrashRun> {
  if (!h.fence) await h.setConfig({ enabled: true, fence: true });
  const vm = 'vm14';
  const r = await Run.begin(h, 'hypervisor', vm);
  const dead = h.runningOn(vm)!;
  const alive = other(dead);
  const victims = (['vm14', 'vm15'] as const).filter((v) => h.runningOn(v) === dead);
  const offs = h.bmcPowerOffs(dead);
  return guarded(r, async () => {
    const hv = h.hv.get(dead)!;
    hv.kill();
    h.lab.net.setHostLink(dead, false, 'all');
    await r.detected();
    await r.recovered(8 * MIN);
    for (const v of victims) {
      if (v !== vm) {
        await h.waitDecision(v, recovered, 8 * MIN, 'recovery', r.mark);
        await h.waitSsh(v, 5 * MIN);
      }
      if (h.runningOn(v) !== alive) fail(`${v} should run on ${alive} now`);
      await checkFencedFirst(r, v, alive);
    }
    r.checks.push(`${victims.join(' and ')} restarted on ${alive}`);
    await checkFencedWithoutSsh(r, vm, dead);
    await checkBmcFence(r, vm, dead, offs);
    h.lab.net.setHostLink(dead, true, 'all');
    await hv.powerOn();
    r.checks.push(`${dead} powered on again (its VMs stay on ${alive})`);
  });
}

/** 5. A partition: every link of the VM's hypervisor cut while its VMs keep running. */
async function partition(h: HaLab, fenced: boolean): Promise<CrashRun> {
  if (h.fence !== fenced) await h.setConfig({ enabled: true, fence: fenced });
  const vm = 'vm14';
  const r = await Run.begin(h, fenced ? 'partition-fenced' : 'partition', vm);
  const cut = h.runningOn(vm)!;
  const target = other(cut);
  const [orig] = h.copies(vm);
  const offs = h.bmcPowerOffs(cut);
  return guarded(r, async () => {
    h.lab.net.setHostLink(cut, false, 'all');
    await r.detected();
    if (!fenced) {
      const pending = await r.wait(toPhase('fence-pending'), 3 * MIN, 'fence-pending');
      // Hold the partition through several fence retries: nothing may start elsewhere.
      await r.wait((d) => d.kind === 'ha.done' && d.reason === 'not-proven-off' && d.id > pending.id, 2 * MIN, 'a failed fence retry after fence-pending');
      await new Promise((res) => setTimeout(res, 20_000));
      const st = await h.status(vm);
      if (st.state !== 'fence-pending') fail(`expected ${vm} still in fence-pending, it is ${st.state}`);
      const c = h.copies(vm);
      if (c.length !== 1 || c[0]!.pid !== orig!.pid) fail(`expected only the original copy of ${vm} (pid ${orig!.pid} on ${cut}), found ${JSON.stringify(c)}`);
      r.checks.push(`${vm} waited in fence-pending ${secs(Date.now(), pending.at)} s: the original copy kept running on ${cut}, nothing started on ${target}`);
      h.lab.net.setHostLink(cut, true, 'all');
      const back = await r.wait(toPhase('running'), 3 * MIN, 'running again after the partition healed');
      r.sshAt = await h.waitSsh(vm, 3 * MIN);
      if (h.runningOn(vm) !== cut || (await h.status(vm)).host !== cut) fail(`expected ${vm} on ${cut} after the heal`);
      r.checks.push(`partition healed: ${vm} seen running on ${cut} again (${back.reason}), still one copy`);
      return;
    }
    await r.recovered(8 * MIN);
    if (h.runningOn(vm) !== target) fail(`expected ${vm} started on ${target}`);
    await checkFencedFirst(r, vm, target);
    if (h.hv.get(cut)!.pids().length > 0) fail(`${cut} was fenced but processes are left in it`);
    await checkBmcFence(r, vm, cut, offs);
    h.lab.net.setHostLink(cut, true, 'all');
    await h.hv.get(cut)!.powerOn();
    r.checks.push(`${cut} was powered off by its ${h.bmcs.has(cut) ? 'BMC' : 'fence command'}; powered on again afterwards`);
  });
}

/**
 * 10. `3rc hv drain` of a hypervisor running two VMs, through the API: both migrate live, one after
 * the other. vm15 first joins vm14 on its host by a drain of its own host (a drain of one VM), then
 * vm14's host is drained (two VMs); each host is undrained after its drain. It ends as the drain
 * of vm14 alone did: both VMs on the other host of vm14's first one.
 *
 * During a live migration two qemu processes exist (the destination's waits for the memory,
 * paused), so "never twice" is checked on what runs the guest: libvirt's events must show the
 * source suspended before the destination resumed, and /proc one process at the end, a new one
 * on the destination. Each guest's uptime (over SSH) goes on across its move: it never rebooted.
 */
async function drain(h: HaLab): Promise<CrashRun> {
  const vm = SCENARIO_VM.drain;
  const second = 'vm15';
  const r = await Run.begin(h, 'drain', vm);
  r.abort(); // the /proc watch counts the migration's paused destination as a second copy: checked in drainLive instead
  const from = h.runningOn(vm)!;
  const to = other(from);
  const decided = async () => (await h.decisions(r.mark)).filter((d) => d.vm === vm || d.vm === second).map((d) => `+${secs(d.at, r.t0).toFixed(1)} s ${describeDecision(d)}`);
  try {
    const st2 = await h.status(second);
    const at2 = h.runningOn(second);
    if (st2.state !== 'running' || !at2) fail(`${second} must be running before the drain, 3rc says ${st2.state} (${st2.reason}), ${at2 ? `its qemu runs on ${at2}` : 'no qemu process'}`);
    if (at2 !== from) {
      const one = await drainLive(h, r, at2, [second], from);
      r.notes.push(`drain of 1 VM (${at2}, bringing ${second} beside ${vm}): ${one.drainS} s; live migration of ${second} ${one.moves[second]} s`);
    }
    const two = await drainLive(h, r, from, [vm, second], to);
    r.notes.push(`drain of 2 VMs (${from}): ${two.drainS} s (API call), ${two.ms3rc} s (3rc's clock); live migrations: ${[vm, second].map((v) => `${v} ${two.moves[v]} s`).join(', ')}`);
    const timeline = [...(await decided()), ...r.notes];
    return { scenario: 'drain', vm, detection_s: null, recovery_s: null, ssh_s: null, doubleStarts: 0, timeline, checks: r.checks };
  } catch (err) {
    const seen = (await decided().catch(() => [])).join('\n  ');
    throw new Error(`drain (${vm}, ${second}): ${(err as Error).message}\ndecisions since the drain:\n  ${seen || '(none)'}`);
  }
}

/** The guest's uptime (s) over SSH, host key checked. */
async function uptimeOf(h: HaLab, vm: string): Promise<number> {
  // Retried: right after the switch-over the guest under TCG may take a while to answer SSH (seen:
  // a banner-exchange timeout); the check is the uptime it then reports, not how fast it answers.
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      return Number((await h.ssh(vm, 'cut -d" " -f1 /proc/uptime')).trim());
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((res) => setTimeout(res, 2000));
    }
  }
}

/** A drain's answer (DrainReport, controller.ts). */
interface DrainAnswer {
  moved?: { vm: string; to: string; how: string; ms: number }[];
  stopped?: { why: string } | null;
  ms?: number;
}

/**
 * `3rc hv drain host` where exactly `vms` run: each must move live to `to`, run on one host at a
 * time (libvirt's events), leave one new qemu process there, keep its uptime, and be seen running
 * there by 3rc; the host is in maintenance after the drain, out of it after the undrain. Returns
 * the drain's time (API call, and 3rc's own clock) and each move's (s).
 */
async function drainLive(h: HaLab, r: Run, host: string, vms: readonly string[], to: string): Promise<{ drainS: number; ms3rc: number; moves: Record<string, number> }> {
  const pids = new Map(vms.map((v) => [v, h.copies(v)[0]?.pid]));
  const up0 = new Map<string, number>();
  for (const v of vms) up0.set(v, await uptimeOf(h, v));
  const ev0 = h.lifecycle.events.length;
  const t = Date.now();
  // A drain of 2 VMs under TCG may pass curl's default 30 s.
  const res = await h.lab.api('POST', `/hv/${host}/drain`, undefined, 10 * MIN);
  const drainS = secs(Date.now(), t);
  const body = res.body as DrainAnswer;
  if (res.status !== 200 || body.stopped) fail(`drain of ${host} answered ${res.status}: ${JSON.stringify(res.body)}`);
  const moved = body.moved ?? [];
  if (moved.map((m) => m.vm).sort().join() !== [...vms].sort().join()) fail(`expected the drain of ${host} to move ${vms.join(' and ')}, it moved ${JSON.stringify(moved)}`);
  const ms3rc = Math.round((body.ms ?? 0) / 100) / 10;
  r.checks.push(`3rc hv drain ${host}: ${moved.map((m) => `${m.vm} -> ${m.to} ${m.how} in ${(m.ms / 1000).toFixed(1)} s`).join(', ')}; the whole drain ${drainS} s (API call), ${ms3rc} s (3rc's clock)`);
  const moves: Record<string, number> = {};
  for (const m of moved) {
    const v = m.vm;
    if (m.to !== to || m.how !== 'live') fail(`expected ${v} moved live to ${to}, the drain says ${m.how} to ${m.to}`);
    moves[v] = Math.round(m.ms / 100) / 10;
    const c = h.copies(v);
    if (c.length !== 1 || c[0]!.host !== to || c[0]!.pid === pids.get(v)) fail(`expected one new qemu of ${v} on ${to}, found ${JSON.stringify(c)}`);
    const ev = h.lifecycle.events.slice(ev0).filter((e) => e.vm === v);
    const suspended = ev.find((e) => e.host === host && (e.event === 'Suspended' || e.event === 'Stopped'));
    const resumed = ev.find((e) => e.host === to && e.event === 'Resumed');
    if (!suspended || !resumed) fail(`expected ${host} to suspend ${v} and ${to} to resume it, libvirt says ${ev.map((e) => `${e.host} ${e.event}`).join(', ')}`);
    if (resumed.at < suspended.at) fail(`${v} resumed on ${to} before it was suspended on ${host}: it ran twice`);
    if (ev.some((e) => e.host === to && e.event === 'Started' && e.at > resumed.at)) fail(`${v} was started again on ${to} after its migration`);
    r.checks.push(`${v} ran on one host at a time: ${host} suspended it ${((resumed.at - suspended.at) / 1000).toFixed(2)} s before ${to} resumed it (libvirt events); one qemu process at the end, on ${to}`);
    const up1 = await uptimeOf(h, v);
    if (!(up1 > up0.get(v)!)) fail(`${v}'s uptime went from ${up0.get(v)} s to ${up1} s: it rebooted`);
    r.checks.push(`${v}'s uptime went on across the move (${up0.get(v)!.toFixed(0)} s -> ${up1.toFixed(0)} s, over SSH with its host key)`);
    const st = await h.status(v);
    if (st.host !== to || st.state !== 'running') fail(`3rc should see ${v} running on ${to}, it says ${st.state} on ${st.host}`);
  }
  const hv = (await h.lab.api('GET', '/hv')).body as { hypervisors?: { name: string; maintenance: boolean }[] };
  if (hv.hypervisors?.find((x) => x.name === host)?.maintenance !== true) fail(`${host} should be in maintenance: ${JSON.stringify(hv)}`);
  const u = await h.lab.api('POST', `/hv/${host}/undrain`);
  if (u.status !== 200) fail(`undrain of ${host} answered ${u.status}: ${JSON.stringify(u.body)}`);
  r.checks.push(`${host} in maintenance after the drain, out of it after 3rc hv undrain`);
  return { drainS, ms3rc, moves };
}

/** 5b. Only the management link is cut: the VMs stay reachable, so nothing may happen. */
async function managementLink(h: HaLab): Promise<CrashRun> {
  const vm = 'vm14';
  const r = await Run.begin(h, 'management-link', vm);
  const host = h.runningOn(vm)!;
  const [orig] = h.copies(vm);
  return guarded(r, async () => {
    h.lab.net.setHostLink(host, false, 'management');
    try {
      const deadline = Date.now() + 2 * MIN;
      for (;;) {
        const ov = (await h.lab.api('GET', '/overview')).body as { hypervisors?: { name: string; up: boolean | null }[] };
        if (ov.hypervisors?.find((x) => x.name === host)?.up === false) break;
        if (Date.now() > deadline) fail(`3rc never saw ${host} unreachable`);
        await new Promise((res) => setTimeout(res, 1000));
      }
      r.checks.push(`3rc saw ${host} unreachable`);
      // Six more monitoring passes with the hypervisor unreachable and the VM answering.
      await new Promise((res) => setTimeout(res, 30_000));
    } finally {
      h.lab.net.setHostLink(host, true, 'management');
    }
    const ds = (await r.decisions()).filter(isTransition);
    if (ds.length > 0) fail(`expected no decision about ${vm}, got ${ds.map(describeDecision).join('; ')}`);
    const c = h.copies(vm);
    if (c.length !== 1 || c[0]!.pid !== orig!.pid) fail(`expected ${vm} untouched (pid ${orig!.pid}), found ${JSON.stringify(c)}`);
    r.checks.push(`${vm} stayed running on ${host}, untouched, while its hypervisor was unreachable`);
  });
}

/** Waits until `f` returns something (polled every 100 ms). */
async function until<T>(what: string, ms: number, f: () => T | undefined | null | Promise<T | undefined | null>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== null) return v;
    if (Date.now() > deadline) fail(`no ${what} within ${Math.round(ms / 1000)} s`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/**
 * 6. kill -9 of 3rc while its restart action is in flight, every time: both hosts' virsh hold a
 * start (hypervisor.ts, virshWrapper) until 3rc is dead; it is released before 3rc starts again.
 * The resumed controller must find the start done and not issue it again: the hosts' virsh saw
 * exactly one start of the VM.
 */
function controllerRestart(h: HaLab): Promise<CrashRun> {
  const hosts = [...h.hv.values()];
  const since = Date.now();
  for (const x of hosts) x.setStartMode('hold');
  return qemuFault(h, 'controller-restart', 'SIGKILL', async (r) => {
    const vm = r.vm;
    try {
      await r.detected();
      const held = await until(`start of ${vm} held in virsh`, 3 * MIN, () => h.startsOf(vm, since)[0]);
      const action = await r.wait((d) => d.kind === 'ha.action' && ['reset', 'start', 'reinstall'].includes(String(d.reason)), MIN, 'restart action', vm, 100);
      await h.restart3rc('SIGKILL', () => hosts.forEach((x) => x.releaseStarts()));
      const id = String((action.data as { id?: string }).id);
      r.checks.push(`3rc killed -9 while its ${action.reason} (${id}) was held in virsh on ${held.host}; released, 3rc restarted on the same store`);
      r.notes.push(`start asked on ${held.host} at +${secs(held.asked, r.t0).toFixed(1)} s, held until 3rc was killed`);
    } finally {
      for (const x of hosts) x.setStartMode('pass');
    }
    await r.recovered(6 * MIN);
    const ds = await r.decisions();
    const actions = ds.filter((d) => d.kind === 'ha.action' && ['reset', 'start', 'reinstall'].includes(String(d.reason)));
    const id = String((actions[0]?.data as { id?: string } | undefined)?.id);
    const done = ds.filter((d) => d.kind === 'ha.done' && (d.data as { id?: string }).id === id);
    if (actions.length !== 1) fail(`expected exactly one restart action, got ${actions.map(describeDecision).join('; ')}`);
    if (done.length !== 1) fail(`expected the action's outcome recorded exactly once, got ${done.length}`);
    const starts = h.startsOf(vm, since);
    if (starts.length !== 1) fail(`expected the hypervisors' virsh to see exactly one start of ${vm}, saw ${starts.length}: ${starts.map((x) => `${x.host} at +${secs(x.asked, r.t0)} s`).join(', ')}`);
    const pids = r.watch.pids.get(vm) ?? new Set();
    if (pids.size !== 2) fail(`expected exactly one new qemu process of ${vm} (the killed one and one start), saw pids ${[...pids].join(', ')}`);
    r.checks.push(`one restart action, its outcome recorded once (${String((done[0]!.data as { detail?: string }).detail ?? done[0]!.reason)}); the hypervisors' virsh saw exactly one start of ${vm}`);
  });
}

/** load_five a host is given in start-timeout: over any lab threshold (haConfig's is 1000). */
const OVERLOAD = 5000;

/**
 * 6b. The restart's `virsh start` takes longer than 3rc's command timeout: the host's virsh
 * starts the domain, then answers only after 120 s (3rc gives up at 30 s: outcome unknown), and
 * meanwhile the host's load_five rises over its threshold, so that a new placement picks the other
 * host. 3rc must not start the VM there while the first copy may run: it never runs twice, and it
 * ends running exactly once.
 */
async function startTimeout(h: HaLab): Promise<CrashRun> {
  if (h.fence) await h.setConfig({ enabled: true, fence: false });
  const vm = SCENARIO_VM['start-timeout'];
  const host = h.runningOn(vm) ?? fail(`${vm} runs nowhere`);
  const hv = h.hv.get(host)!;
  const since = Date.now();
  hv.setStartMode('slow');
  try {
    return await qemuFault(h, 'start-timeout', 'SIGKILL', async (r) => {
      await r.detected();
      const seen = await until(`start of ${vm} in virsh`, 3 * MIN, () => h.startsOf(vm, since)[0]);
      if (seen.host !== host) fail(`expected the restart on ${host}, it went to ${seen.host}`);
      hv.setLoad(OVERLOAD);
      r.notes.push(`virsh start asked on ${host} at +${secs(seen.asked, r.t0).toFixed(1)} s; its load_five set to ${OVERLOAD}`);
      const load = await until(`load_five of ${host} over its threshold in 3rc's view`, 2 * MIN, async () => {
        const ov = (await h.lab.api('GET', '/overview')).body as { hypervisors?: { name: string; loadFive: number | null }[] };
        const l = ov.hypervisors?.find((x) => x.name === host)?.loadFive;
        return l !== undefined && l !== null && l >= OVERLOAD ? l : undefined;
      });
      r.notes.push(`3rc saw ${host}'s load_five ${load} at +${secs(Date.now(), r.t0).toFixed(1)} s`);
      r.checks.push(`${host} over its load threshold in 3rc's view while its start hung`);
      // Where it ends running is 3rc's choice (the first copy, or a new one once the first is proven
      // off); on a busy machine a boot may pass T2 and the controller reinstalls it: that is allowed.
      // A PXE-loop decision is not: the copies' boots were healthy (a run once counted the boots of
      // the copy destroyed on hv1 with the new one's and reinstalled a healthy VM).
      r.recovery = await r.wait(toPhase('running'), 20 * MIN, 'running again');
      r.sshAt = await h.waitSsh(vm, 5 * MIN);
      // Past the command timeout (the slow virsh answers after 120 s): whatever 3rc made of the unknown outcome has happened.
      await until('the command timeout of the slow start', 2 * MIN, () => (Date.now() > seen.asked + 45_000 ? true : undefined));
      const ds = await r.decisions();
      const unknown = ds.find((d) => d.reason === 'outcome-unknown');
      r.notes.push(unknown ? `start outcome unknown (command timeout) at +${secs(unknown.at, r.t0).toFixed(1)} s` : 'the VM was seen running before the start command timed out');
      // After the unknown outcome, a start elsewhere only once the first copy was proven off.
      const startElsewhere = ds.find((d) => d.kind === 'ha.action' && ['start', 'reinstall'].includes(String(d.reason)) && (d.data as { host?: string }).host !== host);
      if (startElsewhere) {
        const proven = ds.find((d) => d.id < startElsewhere.id && d.reason === 'old-copy-off');
        if (!proven) fail(`${vm} was started on ${String((startElsewhere.data as { host?: string }).host)} before its copy on ${host} was proven off`);
        r.checks.push(`the possible copy on ${host} was proven off (${describeDecision(proven)}) before the start on ${String((startElsewhere.data as { host?: string }).host)}`);
      }
      const loop = ds.find((d) => d.reason === 'pxe-loop');
      if (loop) fail(`a healthy ${vm} was taken for a PXE loop: ${describeDecision(loop)}`);
      r.checks.push('no PXE-loop decision: the boots of the copy proven off were not counted against the new one');
      const copies = h.copies(vm);
      if (copies.length !== 1) fail(`expected exactly one copy of ${vm}, found ${JSON.stringify(copies)}`);
      const starts = h.startsOf(vm, since);
      const elsewhere = starts.filter((x) => x.host !== host);
      r.checks.push(`${vm} runs exactly once, on ${copies[0]!.host}; virsh starts seen: ${starts.map((x) => `${x.host} (rc ${x.rc ?? '?'})`).join(', ')}`);
      if (elsewhere.length > 0 && copies[0]!.host === host) fail(`${vm} was started on ${elsewhere[0]!.host} as well`);
    });
  } finally {
    hv.setStartMode('pass');
    hv.setLoad(null);
  }
}

/** 7. Reinstall disabled: a VM whose disk no longer boots is quarantined and reported. */
async function noReinstall(h: HaLab): Promise<CrashRun> {
  const vm = 'vm15';
  const r = await Run.begin(h, 'no-reinstall', vm);
  return guarded(r, async () => {
    const events = h.lab.events.length;
    h.lab.follow(vm);
    await wipeAndReboot(h, vm);
    await r.detected();
    const q = await r.wait(toPhase('quarantined'), 10 * MIN, 'quarantine');
    if (q.reason !== 'reinstall-disabled') fail(`quarantined for ${q.reason}, expected reinstall-disabled`);
    r.checks.push(`quarantined ${secs(q.at, r.t0)} s after the fault: ${String((q.data as { detail?: string }).detail ?? q.reason)}`);
    await new Promise((res) => setTimeout(res, 20_000));
    const st = await h.status(vm);
    if (st.state !== 'quarantined') fail(`expected ${vm} reported quarantined, it is ${st.state}`);
    const entry = (await h.lab.api('GET', `/hosts/${vm}/boot`)).body as { mode?: string };
    if (entry.mode !== 'local') fail(`the boot entry of ${vm} changed to ${entry.mode}`);
    const installs = h.lab.events.slice(events).filter((e) => e.host === vm && (e.kind === 'boot.set' || (e.kind === 'http.ipxe' && (e.data as { mode?: string } | null)?.mode === 'install')));
    if (installs.length > 0) fail(`${vm} was set to install or served an installer: ${installs.map((e) => e.kind).join(', ')}`);
    r.checks.push(`${vm} reported quarantined (reinstall-disabled) by the API; boot entry still local, no installer served`);
    // It would PXE-loop forever: switch it off.
    const host = h.runningOn(vm);
    if (host) h.hv.get(host)!.virsh(['destroy', vm]);
  });
}
