import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Inventory, type Host, type Hypervisor } from './inventory.js';

const profiles = [{ name: 'debian12', installer: 'preseed', kernel: 'k', initrd: 'i', kernelArgs: '', vars: {} }] as const;
const vm: Host = { name: 'vm10', mac: '52:54:00:77:00:10', ip: '10.77.0.10', profile: 'debian12', reinstall: true, priority: 0, cpus: 1, memoryMb: 1024, boot: 'local', vars: {}, hypervisor: 'hv1' };

function hv(name: string, address: string, extra: Partial<Hypervisor> = {}): Hypervisor {
  return { name, address, driver: 'libvirt', ssh: { user: 'root', port: 22 }, loadThreshold: 4, maintenance: false, migrateFlags: [], capacity: {}, boot: 'local', vars: {}, ...extra };
}

describe('Inventory: hypervisors as hosts', () => {
  const inv = new Inventory([vm], [...profiles], [hv('hv1', '10.77.0.2'), hv('hv2', '10.77.0.3', { mac: '52:54:00:77:00:03', profile: 'debian12', role: 'hypervisor', boot: 'install', vars: { disk: 'vda' } })]);

  it('a hypervisor with a MAC and a profile is found by MAC, IP and name, after the other hosts', () => {
    const h = inv.hostByMac('52-54-00-77-00-03');
    assert.ok(h);
    assert.deepEqual({ name: h.name, ip: h.ip, profile: h.profile, role: h.role, boot: h.boot, vars: h.vars, hypervisor: h.hypervisor, reinstall: h.reinstall }, { name: 'hv2', ip: '10.77.0.3', profile: 'debian12', role: 'hypervisor', boot: 'install', vars: { disk: 'vda' }, hypervisor: undefined, reinstall: false });
    assert.equal(inv.hostByIp('10.77.0.3'), h);
    assert.equal(inv.hostByName('HV2'), h);
    assert.deepEqual(inv.hosts().map((x) => x.name), ['vm10', 'hv2']);
    assert.ok(inv.isHypervisorHost('hv2'));
    assert.ok(!inv.isHypervisorHost('hv1') && !inv.isHypervisorHost('vm10'));
    assert.deepEqual(inv.vmsOn('hv2'), [], 'a hypervisor host is no VM');
  });

  it('a hypervisor without a MAC is no host, but the DNS zone still names it', () => {
    assert.equal(inv.hostByName('hv1'), undefined);
    assert.equal(inv.hostByIp('10.77.0.2'), undefined);
    assert.deepEqual(inv.hypervisorsWithoutHost().map((h) => h.name), ['hv1']);
  });

  it('replaceHosts (the API) keeps the hypervisor hosts, whether the list it gets carries them or not', () => {
    const own = new Inventory([vm], [...profiles], [hv('hv2', '10.77.0.3', { mac: '52:54:00:77:00:03', profile: 'debian12' })]);
    own.replaceHosts(own.hosts().filter((h) => h.name !== 'vm10'));
    assert.deepEqual(own.hosts().map((h) => h.name), ['hv2']);
    own.replaceHosts([vm]);
    assert.deepEqual(own.hosts().map((h) => h.name), ['vm10', 'hv2']);
    // A stale copy in the list never replaces the hypervisor's own.
    own.replaceHosts([vm, { ...vm, name: 'hv2', mac: '52:54:00:77:00:99', ip: '10.77.0.99' }]);
    assert.equal(own.hostByName('hv2')!.mac, '52:54:00:77:00:03');
    assert.equal(own.hostByMac('52:54:00:77:00:99'), undefined);
  });
});
