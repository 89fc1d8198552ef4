/**
 * The IPMI driver against a real machine: a qemu "physical" host (no disk, no OS: SeaBIOS and the
 * e1000's iPXE ROM only) whose BMC is ipmi_sim. qemu is attached to the simulator as its BMC
 * (-chardev socket to ipmi_sim's VM serial port, -device ipmi-bmc-extern, -device isa-ipmi-kcs);
 * ipmi_sim's chassis control program is the machine's power supply and boot wiring: power on
 * starts the qemu (network boot first when the BMC holds a one-time PXE override, which that
 * boot consumes), power off ends it. SeaBIOS's debug console (port 0x402) shows what each boot
 * tried first. Network: qemu's user-mode NIC with restrict=on (nothing leaves the process).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { IpmiDriver } from '../../src/bmc/ipmi.js';
import { BmcFencer } from '../../src/hypervisor/fence.js';
import { chassisProgram, qemuPower, SIM_USER, startIpmiSim, type IpmiSim } from './ipmi-sim.js';

async function freeTcpPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** ipmi_sim's chassis control program: the qemu's power and boot device. */
function machine(serialPort: number): (dir: string) => string {
  return (d) =>
    chassisProgram(
      d,
      qemuPower(`  n=$(( $(cat "$d/boots" 2>/dev/null || echo 0) + 1 )); echo $n > "$d/boots"
  nic=e1000,netdev=n0
  # The one-time override: this boot tries the network first, and uses it up.
  [ "$(cat "$d/boot" 2>/dev/null)" = pxe ] && nic="$nic,bootindex=1"
  rm -f "$d/boot"
  qemu-system-x86_64 -daemonize -pidfile "$d/qemu.pid" -display none -nodefaults -machine pc,accel=tcg -m 64 \\
    -netdev user,id=n0,restrict=on -device "$nic" \\
    -chardev file,id=dbg,path="$d/boot-$n.log" -device isa-debugcon,iobase=0x402,chardev=dbg \\
    -chardev socket,id=ipmi0,host=127.0.0.1,port=${serialPort},reconnect=1 \\
    -device ipmi-bmc-extern,id=bmc0,chardev=ipmi0 -device isa-ipmi-kcs,bmc=bmc0 >> "$d/qemu.out" 2>&1 </dev/null`),
    );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The first device boot number n tried (SeaBIOS's "Booting from ..." on the debug console). */
async function firstBootDevice(sim: IpmiSim, n: number): Promise<string> {
  const file = join(sim.dir, `boot-${n}.log`);
  for (let i = 0; i < 400; i++) {
    const m = existsSync(file) ? /Booting from ([^.\n]+)/.exec(readFileSync(file, 'latin1')) : null;
    if (m) return m[1]!;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`boot ${n} tried no device in 40 s: ${existsSync(file) ? readFileSync(file, 'latin1').slice(-500) : 'no debug console output'}`);
}

describe('IPMI driver powering a qemu host through ipmi_sim', () => {
  let sim: IpmiSim | undefined;
  const pids: number[] = [];
  after(async () => {
    // Our own qemus only, by the pids their pidfile gave.
    for (const p of pids) if (alive(p)) process.kill(p, 'SIGKILL');
    await sim?.close();
  });

  it('power on starts it, off ends it, a one-time PXE override makes the next boot (only) a network boot, and a fence powers it off', async () => {
    const serialPort = await freeTcpPort();
    sim = await startIpmiSim({ chassis: machine(serialPort), lanConfig: `  serial 15 127.0.0.1 ${serialPort} codec VM` });
    const pidFile = join(sim.dir, 'qemu.pid');
    const pid = () => Number(readFileSync(pidFile, 'utf8').trim());
    const d = new IpmiDriver({ host: 'hv1', address: sim.address, user: SIM_USER, passwordFile: sim.passwordFile, cipherSuite: 3, settleMs: 15_000, intervalMs: 250 });

    assert.equal(await d.powerState(), 'off');
    assert.equal(await d.power('on'), 'on');
    const first = pid();
    pids.push(first);
    assert.ok(alive(first));
    assert.equal(await firstBootDevice(sim, 1), 'Hard Disk');

    await d.bootOnce('pxe');
    assert.equal(await d.power('off'), 'off');
    assert.equal(alive(first), false, 'the qemu still runs after a power-off read back as off');

    assert.equal(await d.power('on'), 'on');
    const second = pid();
    pids.push(second);
    assert.equal(await firstBootDevice(sim, 2), 'ROM'); // the e1000's iPXE: a network boot

    // The override was for that boot only. A cycle is an off read back off, then an on.
    assert.equal(await d.power('cycle'), 'on');
    const third = pid();
    pids.push(third);
    assert.equal(alive(second), false);
    assert.equal(await firstBootDevice(sim, 3), 'Hard Disk');

    assert.equal(await new BmcFencer(new Map([['hv1', d]])).fence('hv1'), 'off');
    assert.equal(alive(third), false, 'the fence read back off but the qemu still runs');
  });
});
