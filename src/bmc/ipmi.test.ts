import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../lib/clock.js';
import { IpmiDriver, parseBootParam, parseChassisFaults, parsePowerStatus, parseSelEntries, parseSelList, splitAddress, type ToolResult } from './ipmi.js';

// ipmitool 1.8.19 output, as printed against ipmi_sim.
const CHASSIS = `System Power         : on
Power Overload       : false
Power Interlock      : inactive
Main Power Fault     : true
Power Control Fault  : false
Power Restore Policy : always-off
Last Power Event     :
Chassis Intrusion    : active
Drive Fault          : false
Cooling/Fan Fault    : true`;

describe('ipmitool output', () => {
  it('power status, chassis faults, SEL and boot parameter', () => {
    assert.equal(parsePowerStatus('Chassis Power is off'), 'off');
    assert.equal(parsePowerStatus('Chassis Power is on\n'), 'on');
    assert.equal(parsePowerStatus('Error: Unable to establish IPMI v2 / RMCP+ session'), null);
    assert.deepEqual(parseChassisFaults(CHASSIS), { power: 'on', faults: ['Main Power Fault', 'Chassis Intrusion', 'Cooling/Fan Fault'] });
    assert.equal(parseSelEntries('SEL Information\nVersion          : 1.5 (v1.5, v2 compliant)\nEntries          : 12\n'), 12);
    assert.deepEqual(parseSelList('   1 | 12/07/2026 | 10:00:00 | Temperature #0x01 | Upper Critical going high | Asserted\nSEL has no entries'), [
      '1 | 12/07/2026 | 10:00:00 | Temperature #0x01 | Upper Critical going high | Asserted',
    ]);
    assert.deepEqual(parseBootParam(' Boot Flags :\n   - Options apply to only next boot\n   - Boot Device Selector : Force PXE\n'), { device: 'Force PXE', once: true });
    assert.deepEqual(parseBootParam('   - Options apply to all future boots\n   - Boot Device Selector : Force PXE'), { device: 'Force PXE', once: false });
  });

  it('addresses with and without a port', () => {
    assert.deepEqual(splitAddress('10.77.9.2', 623), { host: '10.77.9.2', port: 623 });
    assert.deepEqual(splitAddress('10.77.9.2:9001', 623), { host: '10.77.9.2', port: 9001 });
    assert.deepEqual(splitAddress('bmc1.lab.test:9001', 623), { host: 'bmc1.lab.test', port: 9001 });
    assert.deepEqual(splitAddress('fd77::9', 623), { host: 'fd77::9', port: 623 });
    assert.deepEqual(splitAddress('[fd77::9]:9001', 623), { host: 'fd77::9', port: 9001 });
  });
});

/** A scripted ipmitool: answers per command, records every argument list. */
function scripted(answer: (cmd: string) => ToolResult) {
  const calls: string[][] = [];
  const run = async (args: string[]) => {
    calls.push(args);
    return answer(args.slice(args.indexOf('-N') + 2).join(' '));
  };
  return { calls, run };
}

describe('IpmiDriver', () => {
  it('passes the password as a file, never on the command line', async () => {
    const t = scripted(() => ({ code: 0, out: 'Chassis Power is on' }));
    const d = new IpmiDriver({ host: 'hv1', address: '10.77.9.2', user: 'admin', passwordFile: '/etc/3rc/bmc-hv1', run: t.run });
    await d.powerState();
    assert.deepEqual(t.calls[0], ['-I', 'lanplus', '-H', '10.77.9.2', '-p', '623', '-U', 'admin', '-f', '/etc/3rc/bmc-hv1', '-R', '2', '-N', '2', 'chassis', 'power', 'status']);
  });

  it('reads back until off, on the injected clock; a state that stays on is answered as on', async () => {
    const clock = new FakeClock();
    /** Powers off with ipmitool's status saying off from the `offAt`-th read on; steps the clock by 1 s. */
    const powerOff = async (offAt: number, settleMs: number) => {
      let reads = 0;
      const t = scripted((cmd) => ({ code: 0, out: cmd === 'chassis power status' ? `Chassis Power is ${++reads >= offAt ? 'off' : 'on'}` : 'Chassis Power Control: Down/Off' }));
      const p = new IpmiDriver({ host: 'hv1', address: '10.77.9.2', user: 'admin', passwordFile: '/p', run: t.run, clock, settleMs, intervalMs: 1000 }).power('off');
      for (let i = 0; i < 6; i++) {
        await new Promise((r) => setImmediate(r));
        clock.advance(1000);
      }
      return { state: await p, reads };
    };
    assert.deepEqual(await powerOff(3, 10_000), { state: 'off', reads: 3 });
    assert.deepEqual(await powerOff(Infinity, 3000), { state: 'on', reads: 4 });
  });

  it('maps failures: no session, no answer, a refusal, unknown output, a persistent override', async () => {
    const mk = (r: ToolResult) => new IpmiDriver({ host: 'hv1', address: '10.77.9.2', user: 'a', passwordFile: '/p', run: async () => r });
    await assert.rejects(mk({ code: 1, out: 'Error: Unable to establish IPMI v2 / RMCP+ session' }).powerState(), { code: 'E_BMC_UNREACHABLE' });
    await assert.rejects(mk({ code: null, out: 'killed' }).powerState(), { code: 'E_BMC_UNREACHABLE' });
    await assert.rejects(mk({ code: 1, out: 'Unable to set Chassis Power Control to Down/Off' }).power('off'), { code: 'E_BMC_FAILED' });
    await assert.rejects(mk({ code: 0, out: 'Chassis Power is sideways' }).powerState(), { code: 'E_BMC_PROTOCOL' });
    await assert.rejects(mk({ code: 0, out: 'Boot Device Selector : Force PXE\n - Options apply to all future boots' }).bootOnce('pxe'), { code: 'E_BMC_FAILED' });
    await assert.rejects(mk({ code: 0, out: '' }).bootOnce('uefi-http'), { code: 'E_BMC_UNSUPPORTED' });
  });
});
