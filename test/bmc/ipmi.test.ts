/**
 * The IPMI driver against OpenIPMI's ipmi_sim on loopback: the shared BMC contract, then what the
 * simulator was asked to do and what the driver's command lines hold.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { IpmiDriver, type ToolResult } from '../../src/bmc/ipmi.js';
import { runBmcContract } from '../../src/bmc/contract.js';
import { SIM_PASSWORD, SIM_USER, startIpmiSim, type IpmiSim } from './ipmi-sim.js';
import { execFile } from 'node:child_process';

function driverFor(sim: IpmiSim, run?: (args: string[]) => Promise<ToolResult>): IpmiDriver {
  return new IpmiDriver({ host: 'hv1', address: sim.address, user: SIM_USER, passwordFile: sim.passwordFile, cipherSuite: 3, settleMs: 10_000, intervalMs: 200, run });
}

runBmcContract('ipmi (ipmitool against ipmi_sim)', async () => {
  const sim = await startIpmiSim();
  return { driver: driverFor(sim), observe: sim.observe, cut: sim.kill, close: sim.close };
});

describe('IPMI driver against ipmi_sim', () => {
  const sims: IpmiSim[] = [];
  after(async () => {
    for (const s of sims) await s.close();
  });

  it('the simulator sees each power and boot change; the password never is on a command line', async () => {
    const sim = await startIpmiSim();
    sims.push(sim);
    const lines: string[][] = [];
    const real = (args: string[]) =>
      new Promise<ToolResult>((resolve) => {
        lines.push(args);
        execFile('ipmitool', args, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` }));
      });
    const d = driverFor(sim, real);
    assert.equal(await d.power('off'), 'off');
    await d.bootOnce('pxe');
    assert.equal(await d.power('on'), 'on');
    const calls = sim.calls();
    // Order of the changes as the chassis program got them (reads in between are ipmi_sim's own).
    assert.deepEqual(calls.filter((c) => c.includes(' set ')), ['0x20 set power 0', '0x20 set boot pxe', '0x20 set power 1']);
    for (const args of lines) {
      assert.ok(!args.includes('-P') && !args.some((a) => a.includes(SIM_PASSWORD)), `password on a command line: ${args.join(' ')}`);
      assert.equal(args[args.indexOf('-f') + 1], sim.passwordFile);
      assert.deepEqual(args.slice(0, 2), ['-I', 'lanplus']);
    }
  });

  it('health: chassis faults and the SEL entries the simulator holds', async () => {
    // Two SEL records (a temperature sensor event, then a power unit event) added by the sim at start.
    const sim = await startIpmiSim({
      commands: 'sel_add 0x20 2 0 0 0 0 0x20 0 4 1 1 0x6f 0 0 0\nsel_add 0x20 2 0 0 0 0 0x20 0 4 9 2 0x6f 1 0 0',
    });
    sims.push(sim);
    const h = await driverFor(sim).health();
    assert.equal(h.power, 'on');
    assert.deepEqual(h.faults, []);
    assert.equal(h.events, 2);
    assert.equal(h.recent.length, 2);
  });

  it('a wrong password is no session (UNREACHABLE), not a state', async () => {
    const sim = await startIpmiSim();
    sims.push(sim);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(sim.passwordFile, 'not-the-password\n', { mode: 0o600 });
    await assert.rejects(driverFor(sim).powerState(), { code: 'E_BMC_UNREACHABLE' });
  });
});
