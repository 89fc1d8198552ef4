/**
 * Lab: a qemu "physical" host with a disk and OpenIPMI's ipmi_sim as its BMC is reinstalled by
 * `3rc boot phys20 --install`: the real `3rc serve` in a network namespace (10.77.0.0/24, no route
 * out) sets its boot entry, then drives the BMC (ipmitool lanplus): a one-time PXE boot, read
 * back, and a power cycle. The host network-boots from 3rc (iPXE ROM -> iPXE script -> the lab
 * installer), writes the lab image with its role, calls install-done, reboots from its disk (the
 * one-time override was for one boot only: qemu's `-boot once=n`, which a reset gives up), and
 * comes back with its name, role and address, reached over SSH with the host keys its installer
 * printed.
 *
 * The BMC's chassis control program is the machine's power supply: power on starts the qemu
 * (with the override when the BMC holds one, which that power-on uses up), power off kills it.
 * ipmi_sim runs inside the namespace, so the BMC answers on that namespace's loopback only.
 *
 * Needs root, qemu-system-x86_64, ipmi_sim and ipmitool (openipmi, ipmitool), ssh, curl and the
 * boot/lab files; without root or the lab files it skips with the reason, a missing tool fails.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serveInNetns, type NsServed } from '../dhcp/ns-serve.js';
import { Lab, netnsUnavailable } from '../lib/netns.js';
import { bridgeWithTap, NS_SERVED, nsRun } from '../lib/ns-run.js';
import { labBudget, LabNetwork, labWorkDir, teardownOnExit } from '../../src/lab/topology.js';
import { printedHostKeys } from '../../src/lab/ha-lab.js';
import { BIN, ROOT, writeLabConfig, type LabConfig } from '../lib/serve.js';
import { chassisProgram, qemuPower, SIM_USER, startIpmiSim, type IpmiSim } from './ipmi-sim.js';

const INSTALLER = join(ROOT, 'boot', 'lab', 'installer');
const IMAGE = join(ROOT, 'boot', 'lab', 'images', 'debian12.img.gz');
const NAME = 'phys20';
const MAC = '52:54:00:77:00:20';
const IP = '10.77.0.20';
const ROLE = 'services';
const SERIAL_PORT = 9002;

function whyNot(): string | undefined {
  const ns = netnsUnavailable();
  if (ns) return ns;
  for (const f of [join(INSTALLER, 'vmlinuz'), join(INSTALLER, 'initrd.gz'), IMAGE, `${IMAGE}.sha256`]) {
    if (!existsSync(f)) return `${f} is missing: build the lab image first (as root: scripts/lab-image.sh)`;
  }
  return undefined;
}
const skip = whyNot();
if (skip) console.log(`BMC reinstall lab test skipped: ${skip}`);

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const readText = (file: string) => (existsSync(file) ? readFileSync(file, 'latin1') : '');
/** The devices SeaBIOS booted from, in order (its debug console). */
const booted = (seabios: string) => [...seabios.matchAll(/Booting from (ROM|Hard Disk|Floppy|DVD\/CD)/g)].map((m) => m[1]);

/** Polls `probe` every `everyMs` until it answers something, or throws after `ms` with `what` and `tail()`. */
async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined> | T | undefined, tail: () => string, everyMs = 1000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${secs(ms)}\n${tail()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * The machine: its power is a qemu (TCG) with a 4 GiB disk and a virtio NIC on the lab's tap.
 * Normally it boots from its disk (`-boot order=c`); a power-on while the BMC holds the one-time
 * PXE override adds `once=n` (network first for that boot; qemu goes back to the disk on the
 * next reset) and clears the override. Each power-on n writes SeaBIOS's debug console to
 * boot-n.log (what each boot tried) and the serial console to console-n.log.
 */
function machine(disk: string): (dir: string) => string {
  return (d) =>
    chassisProgram(
      d,
      qemuPower(`  n=$(( $(cat "$d/boots" 2>/dev/null || echo 0) + 1 )); echo $n > "$d/boots"
  boot=order=c
  [ "$(cat "$d/boot" 2>/dev/null)" = pxe ] && boot=order=c,once=n
  rm -f "$d/boot"
  qemu-system-x86_64 -daemonize -pidfile "$d/qemu.pid" -display none -nodefaults -machine pc,accel=tcg -m 768 -boot $boot \\
    -drive file=${disk},if=virtio,format=qcow2,cache=unsafe \\
    -netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device virtio-net-pci,netdev=n0,mac=${MAC} \\
    -serial file:"$d/console-$n.log" \\
    -chardev file,id=dbg,path="$d/boot-$n.log" -device isa-debugcon,iobase=0x402,chardev=dbg \\
    -chardev socket,id=ipmi0,host=127.0.0.1,port=${SERIAL_PORT},reconnect=1 \\
    -device ipmi-bmc-extern,id=bmc0,chardev=ipmi0 -device isa-ipmi-kcs,bmc=bmc0 >> "$d/qemu.out" 2>&1 </dev/null`),
    );
}

describe('lab: BMC reinstall of a qemu physical host (ipmi_sim) by 3rc boot --install', { skip }, () => {
  let lab: Lab;
  let ns: string;
  let work: ReturnType<typeof labWorkDir> | undefined;
  let cfg: LabConfig | undefined;
  let server: NsServed | undefined;
  let sim: IpmiSim | undefined;
  let untrack: (() => void) | undefined;
  let key: string;
  const phases: [string, number][] = [];
  const phase = (name: string, ms: number) => {
    phases.push([name, ms]);
    console.log(`bmc-reinstall: ${name}: ${secs(ms)}`);
  };
  let apiToken = '';
  const api = async <T>(path: string): Promise<T> => {
    const r = await nsRun(ns, 'curl', ['-sf', '-H', `Authorization: Bearer ${apiToken}`, `http://10.77.0.1/api/v1${path}`]);
    assert.equal(r.code, 0, `GET ${path}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  const file = (name: string) => join(sim!.dir, name);
  const tail = (n: number) => () => `console tail:\n${readText(file(`console-${n}.log`)).slice(-1500)}\nSeaBIOS:\n${readText(file(`boot-${n}.log`)).slice(-400)}\nqemu: ${readText(file('qemu.out'))}\n3rc: ${server?.lines.slice(-5).join('\n')}`;

  before(async () => {
    const t0 = Date.now();
    work = labWorkDir('bmc-reinstall');
    lab = new Lab('bmr');
    untrack = teardownOnExit(() => LabNetwork.destroyAll(lab.prefix));
    ns = lab.netns('srv');
    // 3rc's side of the lab: a bridge at 10.77.0.1 with the machine's tap on it. No route out.
    bridgeWithTap(ns);
    const disk = join(work.dir, 'phys20.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '4G']);
    key = join(work.dir, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    sim = await startIpmiSim({ netns: ns, chassis: machine(disk), lanConfig: `  serial 15 127.0.0.1 ${SERIAL_PORT} codec VM` });
    cfg = await writeLabConfig({
      ...NS_SERVED,
      hypervisors: [],
      hosts: [{
        name: NAME, mac: MAC, ip: IP, profile: 'debian12-image', role: ROLE,
        bmc: { driver: 'ipmi', address: '127.0.0.1:623', user: SIM_USER, passwordFile: sim.passwordFile, cipherSuite: 3 },
        vars: { sshKeys: [readFileSync(`${key}.pub`, 'utf8').trim()] },
      }],
      ha: { enabled: false },
    });
    server = await serveInNetns(lab, ns, cfg, { timeoutMs: 30_000 });
    apiToken = readFileSync(join(cfg.dir, 'api-token'), 'utf8').trim();
    phase('lab set up (namespace, bridge, tap, disk, ipmi_sim, 3rc ready)', Date.now() - t0);
  }, { timeout: labBudget(60_000) });

  after(async () => {
    // Our own qemu, by its pidfile (lab.destroy kills what is left in the namespace too).
    const pidFile = sim && file('qemu.pid');
    if (pidFile && existsSync(pidFile)) {
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await server?.stop().catch(() => undefined);
    await sim?.close();
    await lab?.destroy();
    untrack?.();
    cfg?.cleanup();
    work?.remove();
    if (phases.length) console.log(`bmc-reinstall: phases\n${phases.map(([n, ms]) => `  ${secs(ms).padStart(8)}  ${n}`).join('\n')}`);
  });

  it('boot --install: one-time PXE and a power cycle through the BMC, the install, a reboot from disk, back with its role', { timeout: labBudget(9 * 60_000) }, async () => {
    // The machine runs (from its empty disk) before the reinstall: the cycle powers off a running host.
    const on = await nsRun(ns, 'ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-U', SIM_USER, '-f', sim!.passwordFile, '-C', '3', 'chassis', 'power', 'on']);
    assert.equal(on.code, 0, on.stderr);
    await until('the first power-on booting from its disk', 60_000, () => (/Booting from Hard Disk/.test(readText(file('boot-1.log'))) ? true : undefined), tail(1), 250);
    // Its empty disk first (then SeaBIOS tries the network, which 3rc answers "local").
    assert.equal(booted(readText(file('boot-1.log')))[0], 'Hard Disk', 'the first boot tried the network before its disk');

    const t0 = Date.now();
    const boot = await nsRun(ns, process.execPath, [BIN, 'boot', NAME, '--install', '-c', cfg!.file], 120_000);
    assert.equal(boot.code, 0, `${boot.stdout}${boot.stderr}`);
    assert.match(boot.stdout, /phys20 \(52:54:00:77:00:20\): install debian12-image, set through http:/);
    assert.match(boot.stdout, /phys20: one-time PXE boot set and power-cycled through its BMC \(ipmi\): power on/);
    phase('3rc boot --install: entry set, one-time PXE, power cycle read back', Date.now() - t0);
    // What the BMC was asked, in order (ipmi_sim's own reads left out; a request ipmitool sent
    // again on a busy machine counted once): the first power-on, then the override, off, on.
    const sets = sim!.calls().filter((c) => c.includes(' set '));
    assert.deepEqual(sets.filter((c, i) => c !== sets[i - 1]), ['0x20 set power 1', '0x20 set boot pxe', '0x20 set power 0', '0x20 set power 1']);
    assert.equal(readText(file('boots')).trim(), '2');
    assert.ok(!existsSync(file('boot')), 'the power-on did not use up the one-time override');

    const t1 = Date.now();
    await until('install-done', labBudget(240_000), async () => {
      const h = await api<{ boot: { mode: string; lastInstall: string | null } }>(`/hosts/${NAME}`);
      if (h.boot.lastInstall === 'failed') throw new Error(`the install failed\n${tail(2)()}`);
      return h.boot.mode === 'local' && h.boot.lastInstall === 'done' ? true : undefined;
    }, tail(2), 2000);
    phase('power-on -> install-done', Date.now() - t1);

    const t2 = Date.now();
    // Up to install-done that power-on booted once, from the network (iPXE's ROM); its next boot
    // (the installer's reboot) is from the disk: the one-time override is gone.
    await until('the reboot from disk', labBudget(90_000), () => (booted(readText(file('boot-2.log'))).length > 1 ? true : undefined), tail(2), 500);
    assert.deepEqual(booted(readText(file('boot-2.log'))).slice(0, 2), ['ROM', 'Hard Disk'], 'that power-on: not a network boot, then the disk');
    const console2 = readText(file('console-2.log'));
    const printed = printedHostKeys(console2);
    assert.ok(printed.length > 0, `the installer printed no host key\n${tail(2)()}`);
    assert.match(console2, new RegExp(`3rc-install: role ${ROLE} installed`));
    assert.match(console2, /3rc-install: done callback answered: .*"result":"done"/);
    const knownHosts = join(work!.dir, 'known_hosts');
    writeFileSync(knownHosts, printed.map((k) => `${IP} ${k}`).join('\n') + '\n');
    const ssh = ['-i', key, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'ConnectTimeout=5', `root@${IP}`];
    const answer = await until('SSH into the installed system', labBudget(150_000), async () => {
      const r = await nsRun(ns, 'ssh', [...ssh, "hostname; cat /etc/3rc/role; ip -4 -o addr show scope global | awk '{print $4}'"], 20_000);
      return r.code === 0 ? r.stdout : undefined;
    }, tail(2), 2000);
    phase('install-done -> back with its role (reboot from disk, SSH answers)', Date.now() - t2);
    phase('BMC reinstall in all: power cycle -> back with role', Date.now() - t0);
    assert.deepEqual(answer.trim().split('\n'), [NAME, ROLE, `${IP}/24`]);

    // 3rc's side: the install went through iPXE from 3rc, and nothing network-booted after install-done.
    const events = await api<{ id: number; kind: string; data: Record<string, unknown> | null }[]>(`/hosts/${NAME}/events?limit=1000`);
    const done = events.filter((e) => e.kind === 'install.done').pop();
    assert.ok(done, `no install.done event: ${events.map((e) => e.kind).join(' ')}`);
    assert.ok(events.some((e) => e.id < done.id && e.kind === 'http.ipxe' && e.data?.mode === 'install'), 'no iPXE install script before install-done');
    assert.deepEqual(events.filter((e) => e.id > done.id && (e.kind === 'http.ipxe' || (e.kind.startsWith('dhcp.') && e.data?.client === 'ipxe'))).map((e) => e.kind), [], 'a network boot after install-done');
    assert.ok(server!.lines.some((l) => l.includes(`"host":"${NAME}"`) && l.includes('bmc: one-time PXE boot set, power cycle read back on')), 'no 3rc log line for the BMC cycle');
  });
});
