/**
 * `3rc boot HOST --install` for a host with a BMC (hosts[].bmc): after the boot entry is set, the
 * BMC gets a one-time PXE boot and a power cycle, from the CLI itself when no server runs and
 * from the server (POST /api/v1/hosts/NAME/power) when one does. The BMC is OpenIPMI's ipmi_sim
 * on loopback (test/bmc/ipmi-sim.ts); its chassis program logs what it was asked, in order.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { cli, LAB_YAML, serve, writeLabConfig, type LabConfig, type Served } from '../lib/serve.js';
import { SIM_USER, startIpmiSim, type IpmiSim } from './ipmi-sim.js';

type Obj = Record<string, unknown>;

/** lab.yaml plus a physical host phys20 whose BMC is the simulator. */
function configFor(sim: IpmiSim): Promise<LabConfig> {
  const base = parse(readFileSync(LAB_YAML, 'utf8')) as { hosts: Obj[] };
  return writeLabConfig({
    hosts: [
      ...base.hosts,
      { name: 'phys20', mac: '52:54:00:77:00:20', ip: '10.77.0.20', profile: 'debian12-image', role: 'services', bmc: { driver: 'ipmi', address: sim.address, user: SIM_USER, passwordFile: sim.passwordFile, cipherSuite: 3 } },
    ],
    ha: { enabled: false },
  });
}

/** The changes the chassis program was asked for (ipmi_sim's own reads left out). */
const changes = (sim: IpmiSim) => sim.calls().filter((c) => c.includes(' set '));

describe('3rc boot --install power-cycles a host with a BMC into its network boot', () => {
  const sims: IpmiSim[] = [];
  const cfgs: LabConfig[] = [];
  let server: Served | undefined;
  after(async () => {
    await server?.stop();
    for (const s of sims) await s.close();
    for (const c of cfgs) c.cleanup();
  });
  const setUp = async () => {
    const sim = await startIpmiSim();
    sims.push(sim);
    const cfg = await configFor(sim);
    cfgs.push(cfg);
    return { sim, cfg };
  };

  it('without a server: the CLI sets the entry, then one-time PXE and a cycle through the BMC; --no-power only the entry', async () => {
    const { sim, cfg } = await setUp();
    const plain = await cli(['boot', 'phys20', '--install', '--no-power', '-c', cfg.file]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual(changes(sim), []);
    const r = await cli(['boot', 'phys20', '--install', '-c', cfg.file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /phys20 \(52:54:00:77:00:20\): install debian12-image, set in the store/);
    assert.match(r.stdout, /phys20: one-time PXE boot set and power-cycled through its BMC \(ipmi\): power on/);
    assert.deepEqual(changes(sim), ['0x20 set boot pxe', '0x20 set power 0', '0x20 set power 1']);
    assert.deepEqual(await sim.observe(), { power: 'on', boot: 'pxe' });
    // A host without a BMC: the entry only, as before.
    const vm = await cli(['boot', 'vm10', '--install', '-c', cfg.file]);
    assert.equal(vm.code, 0, vm.stderr);
    assert.doesNotMatch(vm.stdout, /BMC/);
  });

  it('with a server: the server drives the BMC; the API refuses a bmc in a host body and a power change of a host without BMC', async () => {
    const { sim, cfg } = await setUp();
    server = await serve(cfg);
    const r = await cli(['boot', 'phys20', '--install', '-c', cfg.file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /set through http:/);
    assert.match(r.stdout, /phys20: one-time PXE boot set and power-cycled through its BMC \(ipmi\): power on/);
    assert.deepEqual(changes(sim), ['0x20 set boot pxe', '0x20 set power 0', '0x20 set power 1']);
    assert.ok(server.lines.some((l) => l.includes('"host":"phys20"') && l.includes('bmc: one-time PXE boot set, power cycle read back on')), 'no server log line for the BMC cycle');

    const token = readFileSync(join(cfg.dir, 'api-token'), 'utf8').trim();
    const call = (method: string, path: string, body: unknown) =>
      fetch(`${server!.url}/api/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const noBmc = await call('POST', '/hosts/vm10/power', { action: 'cycle', boot: 'pxe' });
    assert.equal(noBmc.status, 409);
    const badAction = await call('POST', '/hosts/phys20/power', { action: 'reboot' });
    assert.equal(badAction.status, 400);
    const put = await call('POST', '/hosts', { name: 'vm30', mac: '52:54:00:77:00:30', ip: '10.77.0.30', profile: 'debian12', bmc: { driver: 'ipmi', address: '127.0.0.1', user: 'x', passwordFile: '/etc/shadow' } });
    assert.equal(put.status, 400);
    assert.equal(((await put.json()) as { error: { field?: string } }).error.field, 'bmc');
    // A BMC that stops answering: 502 with the driver's code, not a 500.
    await sim.kill();
    const gone = await call('POST', '/hosts/phys20/power', { action: 'off' });
    assert.equal(gone.status, 502);
    assert.equal(((await gone.json()) as { error: { code: string } }).error.code, 'E_BMC_UNREACHABLE');
  });
});
