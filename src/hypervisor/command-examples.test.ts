import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import type { CommandSpec } from '../lib/command-spec.js';
import { CommandDriver } from './command.js';
import { QM, VBOXMANAGE, VIM_CMD, XL } from './command-examples.js';
import type { RunResult, SshRunner } from './ssh.js';

const hv = { name: 'hv1', address: '10.0.0.21', ssh: { user: 'root', port: 22 } };

function driver(spec: CommandSpec, stdout: string) {
  const calls: string[] = [];
  const ssh: SshRunner = {
    async run(_t, command): Promise<RunResult> {
      calls.push(command);
      return { code: 0, signal: null, stdout, stderr: '' };
    },
  };
  return { d: new CommandDriver({ ssh, hypervisors: [{ ...hv, command: spec }], vars: () => ({ vmid: 104 }) }), calls };
}

describe('command driver examples', () => {
  it('all compile, and their shell parses', () => {
    for (const spec of [QM, VIM_CMD, XL, VBOXMANAGE]) {
      const { d } = driver(spec, '');
      assert.equal(d.kind, 'command');
      for (const src of Object.values(spec.commands)) execFileSync('/bin/sh', ['-n', '-c', src.replace(/\{\{\s*\w+\s*\}\}/g, 'x')]);
    }
  });

  it('qm: list and status as Proxmox prints them', async () => {
    const list = `      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID\n       104 web01                running    2048              32.00 2841\n       105 db01                 stopped    4096              64.00 0\n`;
    assert.deepEqual(await driver(QM, list).d.listVms('hv1'), [{ name: 'web01', state: 'running' }, { name: 'db01', state: 'off' }]);
    const { d, calls } = driver(QM, 'status: stopped\n');
    assert.equal(await d.vmState('hv1', 'web01'), 'off');
    assert.deepEqual(calls, ["qm status '104'"]);
  });

  it('vim-cmd: power.getstate as ESXi prints it', async () => {
    assert.equal(await driver(VIM_CMD, 'Retrieved runtime info\nPowered on\n').d.vmState('hv1', 'web01'), 'running');
    assert.equal(await driver(VIM_CMD, 'Retrieved runtime info\nPowered off\n').d.vmState('hv1', 'web01'), 'off');
    assert.deepEqual(await driver(VIM_CMD, 'web01 Powered on\ndb01 Powered off\n').d.listVms('hv1'), [{ name: 'web01', state: 'running' }, { name: 'db01', state: 'off' }]);
  });

  it('VBoxManage: showvminfo --machinereadable', async () => {
    const info = `name="web01"\nostype="Debian (64-bit)"\nVMState="poweroff"\nVMStateChangeTime="2026-01-01T00:00:00.000000000"\n`;
    assert.equal(await driver(VBOXMANAGE, info).d.vmState('hv1', 'web01'), 'off');
    assert.equal(await driver(VBOXMANAGE, info.replace('poweroff', 'running')).d.vmState('hv1', 'web01'), 'running');
  });

  it('xl: the state template quotes the name outside the quotes', async () => {
    const { d, calls } = driver(XL, 'off\n');
    assert.equal(await d.vmState('hv1', 'web01'), 'off');
    assert.match(calls[0]!, /^test -f \/etc\/xen\/'web01'\.cfg /);
  });
});
