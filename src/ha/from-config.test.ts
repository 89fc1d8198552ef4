import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config/load.js';
import { controllerSettings, hostSpecs, vmSpecs } from './from-config.js';

describe('controller inputs from the example config', () => {
  const config = loadConfig(fileURLToPath(new URL('../../../examples/lab.yaml', import.meta.url)));
  it('keeps every VM with its hypervisor and reinstall flag', () => {
    const vms = vmSpecs(config.hosts);
    assert.deepEqual(vms.map((v) => [v.name, v.host, v.reinstall]), [['vm10', 'hv1', true], ['vm11', 'hv1', true], ['vm12', 'hv2', true], ['vm13', 'hv2', false], ['vm14', 'hv1', true], ['vm15', 'hv2', true]]);
    assert.equal(vms[0]!.mac, '52:54:00:77:00:10');
  });
  it('takes thresholds and capacities from the hypervisors', () => {
    assert.deepEqual(hostSpecs(config.hypervisors)[0], { name: 'hv1', loadThreshold: 2, maintenance: false, capacity: { cpus: 2, memoryMb: 4096, vms: 4 } });
  });
  it('takes T1, T2, the budget and the scan interval from ha', () => {
    const s = controllerSettings(config.ha);
    assert.equal(s.scanInterval, 10_000);
    assert.equal(s.rules.t1, 180_000);
    assert.equal(s.rules.t2, 180_000);
    assert.deepEqual(s.rules.budget, { recoveries: 3, window: 3_600_000 });
    assert.equal(s.rules.fence, true);
  });
});
