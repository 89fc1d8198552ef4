/**
 * OpenIPMI's ipmi_sim as a LAN BMC on loopback (the tests' and the HA lab's), configured by its user: one admin user whose
 * password is in a 0600 file, and a chassis control program that ipmi_sim runs for every power
 * and boot-device change (`PROG 0x20 get power`, `PROG 0x20 set power 0`, `set boot pxe`...).
 * The default program keeps the state in files and logs each call, so that a test sees what the
 * simulator was asked to do; a test may give its own (the qemu test starts and kills a qemu).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BootTarget, PowerState } from '../bmc/driver.js';

export const SIM_USER = 'admin';
export const SIM_PASSWORD = 'bmc-s3cret';

/**
 * A chassis control program for ipmi_sim (`PROG 0x20 get power boot`, `PROG 0x20 set power 1`):
 * the boot device in $d/boot, each call logged in $d/calls; `power` gives the shell functions
 * `power_get` (prints 1 or 0), `power_on`, `power_off` and `power_reset`.
 */
export function chassisProgram(dir: string, power: string): string {
  return `#!/bin/sh
d='${dir}'
echo "$*" >> "$d/calls"
shift
op=$1; shift
${power}
if [ "$op" = get ]; then
  for p in "$@"; do
    case $p in
      power) echo "power:$(power_get)" ;;
      boot) echo "boot:$(cat "$d/boot" 2>/dev/null || echo default)" ;;
      *) echo "unknown parameter $p"; exit 1 ;;
    esac
  done
else
  while [ -n "$1" ]; do
    case $1 in
      power) if [ "$2" = 1 ]; then power_on; else power_off; fi ;;
      reset) power_reset ;;
      boot) echo "$2" > "$d/boot" ;;
      *) echo "unknown parameter $1"; exit 1 ;;
    esac
    shift 2
  done
fi
`;
}

/**
 * The power functions of a machine that is a qemu process (pid in $d/qemu.pid): `start` is the
 * body of power_on after the "already on" check (it runs `qemu-system-x86_64 -daemonize
 * -pidfile "$d/qemu.pid" ...`). IPMI "power off" is a hard off (the soft one is "power soft"):
 * a SIGKILL; ipmi_sim gives the program about a second, so no long wait here, the BMC's
 * read-back says when the process is gone.
 */
export function qemuPower(start: string): string {
  return `alive() { [ -f "$d/qemu.pid" ] && kill -0 "$(cat "$d/qemu.pid")" 2>/dev/null; }
power_get() { if alive; then echo 1; else echo 0; fi; }
power_on() {
  alive && return 0
${start}
}
power_off() {
  alive && kill -9 "$(cat "$d/qemu.pid")"
  i=0; while alive && [ $i -lt 5 ]; do sleep 0.1; i=$((i+1)); done
  return 0
}
power_reset() { power_off; power_on; }`;
}

/** The default program: the power is a file ($d/power, 1 or 0). */
function defaultChassis(dir: string): string {
  return chassisProgram(
    dir,
    `power_get() { cat "$d/power"; }
power_on() { echo 1 > "$d/power"; }
power_off() { echo 0 > "$d/power"; }
power_reset() { :; }`,
  );
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', resolve);
  });
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export interface IpmiSim {
  dir: string;
  address: string;
  passwordFile: string;
  /** The chassis program's calls so far (default program only). */
  calls(): string[];
  /** The state the default program holds. */
  observe(): Promise<{ power: PowerState; boot: BootTarget | null }>;
  /** Kills the simulator (the BMC stops answering). */
  kill(): Promise<void>;
  close(): Promise<void>;
}

export interface SimOptions {
  /** A chassis control program (its text); default: the file-backed one above. */
  chassis?: (dir: string) => string;
  /** Extra lines for the LAN config (e.g. a `serial 15 127.0.0.1 PORT codec VM` for qemu). */
  lanConfig?: string;
  /** Extra lines for the command file (e.g. sel_add). */
  commands?: string;
  /** Initial power (default program): default on. */
  power?: PowerState;
  /**
   * Runs the simulator (and so its chassis program) inside this network namespace, on its
   * loopback: the BMC is then reachable from that namespace only (a 3rc served in it).
   */
  netns?: string;
  /** Its UDP port (with netns). Default: 623 in a namespace, else a free one. */
  port?: number;
}

export async function startIpmiSim(o: SimOptions = {}): Promise<IpmiSim> {
  const dir = mkdtempSync(join(tmpdir(), '3rc-ipmisim-'));
  // A namespace of the test's own has every port free.
  const port = o.port ?? (o.netns ? 623 : await freeUdpPort());
  const inNs = (cmd: string, args: string[]): [string, string[]] => (o.netns ? ['ip', ['netns', 'exec', o.netns, cmd, ...args]] : [cmd, args]);
  const passwordFile = join(dir, 'password');
  writeFileSync(passwordFile, `${SIM_PASSWORD}\n`, { mode: 0o600 });
  const chassis = join(dir, 'chassis');
  writeFileSync(chassis, (o.chassis ?? defaultChassis)(dir));
  chmodSync(chassis, 0o755);
  writeFileSync(join(dir, 'power'), o.power === 'off' ? '0\n' : '1\n');
  mkdirSync(join(dir, 'state'));
  writeFileSync(
    join(dir, 'lan.conf'),
    `name "threerc"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 ${port}
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "${chassis} 0x20"
  user 2 true "${SIM_USER}" "${SIM_PASSWORD}" admin 10 none md2 md5 straight
${o.lanConfig ?? ''}
`,
  );
  writeFileSync(
    join(dir, 'sim.emu'),
    `mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02
sel_enable 0x20 1000 0x0a
${o.commands ?? ''}
mc_enable 0x20
`,
  );
  // A missing ipmi_sim fails the test here (spawn error), never skips it.
  // `ip netns exec` execs the command: the child's pid is ipmi_sim's.
  const child: ChildProcess = spawn(...inNs('ipmi_sim', ['-c', join(dir, 'lan.conf'), '-f', join(dir, 'sim.emu'), '-s', join(dir, 'state'), '-n']), { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (b: Buffer) => (log += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) => reject(new Error(`ipmi_sim cannot run (Debian package openipmi): ${err.message}`)));
  });
  await spawned;
  const address = `127.0.0.1:${port}`;
  // Ready when a session works (ipmi_sim has no readiness signal).
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((resolve) =>
      execFile(...inNs('ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', SIM_USER, '-f', passwordFile, '-R', '1', '-N', '1', '-C', '3', 'mc', 'info']), (err) => resolve(!err)),
    );
    if (ok) break;
    if (i >= 20 || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`ipmi_sim did not answer on ${address}: ${log}`);
    }
  }
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  return {
    dir,
    address,
    passwordFile,
    calls: () => (existsSync(join(dir, 'calls')) ? readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n') : []),
    observe: async () => ({
      power: readFileSync(join(dir, 'power'), 'utf8').trim() === '1' ? 'on' : 'off',
      boot: existsSync(join(dir, 'boot')) && readFileSync(join(dir, 'boot'), 'utf8').trim() === 'pxe' ? 'pxe' : null,
    }),
    kill,
    close: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
