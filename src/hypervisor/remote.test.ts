import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Remote } from './remote.js';
import type { SshRunner } from './ssh.js';

describe('Remote: SSH targets of hypervisors', () => {
  it('a hypervisor 3rc installs is checked against the host keys learned from its install, as a VM is', async () => {
    const learned = async () => [{ keyType: 'ssh-ed25519', base64: 'AAAAC3NzaC1lZDI1NTE5AAAAIE' }];
    const ssh = {} as SshRunner;
    const r = new Remote({
      ssh,
      hypervisors: [
        { name: 'hv1', address: '10.77.0.2', ssh: { user: 'root', port: 22, knownHosts: '/etc/3rc/known_hosts' }, learnedKeys: learned },
        { name: 'hv2', address: '10.77.0.3', ssh: { user: 'root', port: 22, knownHosts: '/etc/3rc/known_hosts' } },
      ],
    });
    assert.equal(r.target('hv1')?.learnedKeys, learned);
    assert.equal(r.target('hv1')?.knownHostsFile, '/etc/3rc/known_hosts');
    assert.equal(r.target('hv2')?.learnedKeys, undefined);
  });
});
