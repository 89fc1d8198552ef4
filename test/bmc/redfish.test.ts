/**
 * The Redfish driver against the Redfish emulator (test/bmc/redfish-emulator.ts, our own, written
 * from DMTF's schema: no Redfish service emulator is packaged for Debian or npm), over HTTPS with
 * a CA made by openssl for the test.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runBmcContract } from '../../src/bmc/contract.js';
import { RedfishDriver, type RedfishOptions } from '../../src/bmc/redfish.js';
import { buildFencer } from '../../src/hypervisor/fence.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTestPki, RedfishEmulator, removePki, type EmulatorOptions, type TestPki } from './redfish-emulator.js';

const USER = 'root';
const PASSWORD = 'redfish-pw';
let pki: TestPki;
let otherPki: TestPki;
before(() => {
  pki = makeTestPki('a');
  otherPki = makeTestPki('b');
});
after(() => {
  removePki(pki);
  removePki(otherPki);
});

async function emulator(o: Partial<EmulatorOptions> = {}): Promise<RedfishEmulator> {
  const e = new RedfishEmulator({ user: USER, password: PASSWORD, pki, ...o });
  await e.start();
  return e;
}

function driver(e: RedfishEmulator, o: Partial<RedfishOptions> = {}): RedfishDriver {
  return new RedfishDriver({ host: 'hv1', address: e.address, user: USER, password: PASSWORD, ca: pki.ca, settleMs: 10_000, intervalMs: 50, timeoutMs: 5000, ...o });
}

for (const auth of ['session', 'basic'] as const) {
  runBmcContract(`redfish (${auth} auth, against the emulator)`, async () => {
    const e = await emulator();
    return {
      driver: driver(e, { auth }),
      observe: async () => ({ power: e.observed(), boot: e.boot.enabled === 'Once' && e.boot.target === 'Pxe' ? 'pxe' : null }),
      cut: () => e.stop(),
      close: () => e.close(),
    };
  });
}

describe('Redfish driver against the emulator', () => {
  const open: RedfishEmulator[] = [];
  after(async () => {
    for (const e of open) await e.close();
  });
  const start = async (o: Partial<EmulatorOptions> = {}) => {
    const e = await emulator(o);
    open.push(e);
    return e;
  };

  it('a fence posts ForceOff to the action target and waits for PowerState Off', async () => {
    const e = await start({ transitionMs: 400 });
    assert.equal(await driver(e).power('off'), 'off');
    assert.equal(e.power, 'Off');
    assert.ok(e.requests.includes('POST /redfish/v1/Systems/1/Actions/ComputerSystem.Reset'));
    assert.ok(e.requests.includes('ResetType ForceOff'));
    // Read back more than once: the first read saw PoweringOff.
    assert.ok(e.requests.filter((r) => r === 'GET /redfish/v1/Systems/1').length >= 3);
  });

  it('a read-back that stays on past the settle time answers on (never off)', async () => {
    const e = await start({ transitionMs: 60_000 });
    assert.equal(await driver(e, { settleMs: 300 }).power('off'), 'on');
    assert.equal(e.power, 'PoweringOff');
  });

  it('takes the reset type among the allowable values', async () => {
    const e = await start({ resetTypes: ['On', 'GracefulShutdown', 'ForceRestart'] });
    assert.equal(await driver(e).power('off'), 'off');
    assert.ok(e.requests.includes('ResetType GracefulShutdown'));
    assert.equal(await driver(e).power('cycle'), 'on');
    const e2 = await start({ resetTypes: ['ForceRestart'] });
    await assert.rejects(driver(e2).power('off'), { code: 'E_BMC_UNSUPPORTED' });
  });

  it('a one-time PXE or UEFI HTTP override is used by the next boot only', async () => {
    const e = await start({ transitionMs: 50 });
    const d = driver(e);
    await d.bootOnce('pxe');
    assert.deepEqual(e.boot, { target: 'Pxe', enabled: 'Once' });
    assert.equal(await d.power('cycle'), 'on');
    await new Promise((r) => setTimeout(r, 150)); // let the emulator's boot complete
    await d.power('cycle');
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(e.boots, ['Pxe', 'Hdd']);
    await d.bootOnce('uefi-http');
    assert.deepEqual(e.boot, { target: 'UefiHttp', enabled: 'Once' });
  });

  it('TLS is verified: no pinned CA, or another CA, and nothing is sent', async () => {
    const e = await start();
    await assert.rejects(driver(e, { ca: undefined }).powerState(), { code: 'E_BMC_UNREACHABLE' });
    await assert.rejects(driver(e, { ca: otherPki.ca }).powerState(), { code: 'E_BMC_UNREACHABLE' });
    assert.deepEqual(e.requests, []);
  });

  it('wrong credentials are AUTH errors, with the message from the error body', async () => {
    const e = await start();
    await assert.rejects(driver(e, { password: 'nope' }).powerState(), (err: Error & { code?: string }) => err.code === 'E_BMC_AUTH' && /no valid session/i.test(err.message));
    await assert.rejects(driver(e, { password: 'nope', auth: 'basic' }).powerState(), { code: 'E_BMC_AUTH' });
  });

  it('logs in again once when its session has expired, and ends it on close', async () => {
    const e = await start();
    const d = driver(e);
    assert.equal(await d.powerState(), 'on');
    e.sessions.clear();
    assert.equal(await d.powerState(), 'on');
    assert.equal(e.requests.filter((r) => r === 'POST /redfish/v1/SessionService/Sessions').length, 2);
    await d.close();
    assert.equal(e.sessions.size, 0);
  });

  it('through the config: password and pinned CA from files, read at login; a missing file makes the fence unknown, not a crash', async () => {
    const e = await start();
    const pw = join(pki.dir, 'bmc-password');
    writeFileSync(pw, `${PASSWORD}\n`, { mode: 0o600 });
    const fencer = buildFencer([{ name: 'hv1', address: '10.77.0.2', bmc: { driver: 'redfish', address: e.address, user: USER, passwordFile: pw, caFile: pki.caFile } }]);
    assert.equal(await fencer!.fence('hv1'), 'off');
    const gone = buildFencer([{ name: 'hv1', address: '10.77.0.2', bmc: { driver: 'redfish', address: e.address, user: USER, passwordFile: join(pki.dir, 'missing'), caFile: pki.caFile } }]);
    assert.equal(await gone!.fence('hv1'), 'unknown');
  });

  it('health: Status and the SEL entries', async () => {
    const e = await start({ health: 'Warning', events: [{ severity: 'OK', message: 'System boot' }, { severity: 'Warning', message: 'Fan 2 below threshold' }] });
    const h = await driver(e).health();
    assert.equal(h.power, 'on');
    assert.deepEqual(h.faults, ['Health Warning', 'HealthRollup Warning']);
    assert.equal(h.events, 2);
    assert.match(h.recent[1]!, /Warning \| Fan 2 below threshold/);
  });
});
