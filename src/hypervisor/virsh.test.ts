import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyVirshError, isPlainDomainName, parseDomstate, parseVirshList, parseVirshListTable } from './virsh.js';

// `virsh list --all` as libvirt >= 5.3 prints it (vshTable: columns padded to the widest cell).
const LIST_NEW = ` Id   Name          State
------------------------------
 1    web01         running
 3    db01          paused
 7    batch         in shutdown
 -    spare01       shut off
 -    crashy        crashed

`;
// libvirt < 5.3: printf(" %-5s %-30s %s\\n"); a name longer than 30 characters pushes the state right.
const LIST_OLD = ` Id    Name                           State
----------------------------------------------------
 2     web01                          running
 -     a-very-long-domain-name-over-thirty-chars shut off

`;
const LIST_EMPTY = ` Id   Name   State
--------------------

`;

describe('virsh output', () => {
  it('parses the list table of current libvirt', () => {
    assert.deepEqual(parseVirshListTable(LIST_NEW), [
      { id: '1', name: 'web01', state: 'running' },
      { id: '3', name: 'db01', state: 'paused' },
      { id: '7', name: 'batch', state: 'in shutdown' },
      { id: null, name: 'spare01', state: 'shut off' },
      { id: null, name: 'crashy', state: 'crashed' },
    ]);
    // Only "shut off" is off: a paused or preserved crashed domain still holds its disk.
    assert.deepEqual(parseVirshList(LIST_NEW).map((v) => `${v.name}:${v.state}`), ['web01:running', 'db01:running', 'batch:running', 'spare01:off', 'crashy:running']);
  });

  it('parses the list table of old libvirt, long names included', () => {
    assert.deepEqual(parseVirshList(LIST_OLD), [
      { name: 'web01', state: 'running' },
      { name: 'a-very-long-domain-name-over-thirty-chars', state: 'off' },
    ]);
  });

  it('parses an empty list, a name with spaces, and an unknown state as running', () => {
    assert.deepEqual(parseVirshList(LIST_EMPTY), []);
    assert.deepEqual(parseVirshList(' Id   Name        State\n---------------------\n -    my test vm  shut off\n 4    odd         wobbling\n'), [
      { name: 'my test vm', state: 'off' },
      { name: 'odd', state: 'running' },
    ]);
  });

  it('parses domstate, with and without --reason', () => {
    assert.equal(parseDomstate('running\n\n'), 'running');
    assert.equal(parseDomstate('shut off\n\n'), 'shut off');
    assert.equal(parseDomstate('shut off (destroyed)\n\n'), 'shut off');
    assert.equal(parseDomstate('\n'), null);
  });

  it('classifies libvirt error messages', () => {
    assert.equal(classifyVirshError("error: failed to get domain 'nope'\n"), 'no-such-vm');
    assert.equal(classifyVirshError("error: failed to get domain 'nope'\nerror: Domain not found: no domain with matching name 'nope'\n"), 'no-such-vm');
    assert.equal(classifyVirshError("error: Failed to start domain 'vm1'\nerror: Requested operation is not valid: domain is already active\n"), 'already-running');
    assert.equal(classifyVirshError("error: Failed to destroy domain 'vm1'\nerror: Requested operation is not valid: domain is not running\n"), 'not-running');
    assert.equal(classifyVirshError("error: Failed to reset domain 'vm1'\nerror: Requested operation is not valid: domain is not running\n"), 'not-running');
    assert.equal(classifyVirshError("error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory\n"), 'no-connection');
    assert.equal(classifyVirshError("error: Failed to start domain 'vm1'\nerror: internal error: process exited while connecting to monitor: qemu-system-x86_64: Failed to get \"write\" lock\n"), 'other');
  });

  it('accepts only plain domain names', () => {
    for (const ok of ['vm1', 'web-01.lab', 'a_b', '0db']) assert.equal(isPlainDomainName(ok), true, ok);
    for (const bad of ['', '-c', 'vm 1', "vm'1", 'vm;id', '$(id)', 'vm/1', 'é', 'x'.repeat(129)]) assert.equal(isPlainDomainName(bad), false, bad);
  });
});
