import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BmcDriver, BmcTarget } from './driver.js';
import { BmcRegistry } from './registry.js';

const bmc = (address: string) => ({ driver: 'ipmi' as const, address, user: 'admin', passwordFile: '/etc/3rc/bmc.pw' });

test('one driver per BMC, shared by every caller; a changed or removed bmc: entry is seen on the next call', () => {
  const opened: BmcTarget[] = [];
  const config = { hosts: [{ name: 'node1', bmc: bmc('10.77.9.1') }], hypervisors: [{ name: 'hv1', bmc: bmc('10.77.9.11') }, { name: 'hv2' }] } as never as ConstructorParameters<typeof BmcRegistry>[0];
  const reg = new BmcRegistry(config, {}, (t) => {
    opened.push(t);
    return { kind: 'ipmi', target: t } as unknown as BmcDriver;
  });
  const hv1 = reg.of('hv1');
  assert.ok(hv1);
  assert.equal(reg.of('hv1'), hv1, 'the same driver object for every caller');
  assert.equal(reg.of('hv2'), undefined, 'no bmc: none');
  assert.equal(reg.of('nobody'), undefined);
  assert.equal((reg.of('node1') as unknown as { target: BmcTarget }).target.host, 'node1', 'hosts[].bmc too, named by the host');
  assert.deepEqual(opened.map((t) => t.host), ['hv1', 'node1']);
  // A reload changes hv1's BMC address: a new driver; removes node1's: none.
  (config as unknown as { hypervisors: { name: string; bmc?: unknown }[] }).hypervisors[0]!.bmc = bmc('10.77.9.12');
  (config as unknown as { hosts: { name: string; bmc?: unknown }[] }).hosts[0]!.bmc = undefined;
  const moved = reg.of('hv1');
  assert.notEqual(moved, hv1);
  assert.equal((moved as unknown as { target: BmcTarget }).target.address, '10.77.9.12');
  assert.equal(reg.of('node1'), undefined);
});
