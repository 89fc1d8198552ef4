import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CommandSpec } from '../lib/command-spec.js';
import { CommandDriver } from './command.js';
import { DriverErrorCodes } from './driver.js';
import { SshError, SshErrorCodes, type RunResult, type SshRunner, type SshTarget } from './ssh.js';
import { TemplateError } from '../lib/errors.js';

/** A runner that records commands and answers from a script. */
function fakeRunner(answer: (command: string) => Partial<RunResult>) {
  const calls: { host: string; command: string }[] = [];
  const ssh: SshRunner = {
    async run(t: SshTarget, command: string) {
      calls.push({ host: t.name, command });
      return { code: 0, signal: null, stdout: '', stderr: '', ...answer(command) };
    },
  };
  return { ssh, calls };
}

const hv = { name: 'esx1', address: '10.0.0.21', ssh: { user: 'root', port: 22, key: '/k', knownHosts: '/kh' } };

// ESXi: VMs by numeric id (vmsvc ids), kept in the inventory host's vars.
const VIMCMD: CommandSpec = {
  commands: {
    list: 'vim-cmd vmsvc/getallvms',
    state: 'vim-cmd vmsvc/power.getstate {{vmid}}',
    start: 'vim-cmd vmsvc/power.on {{vmid}}',
    stop: 'vim-cmd vmsvc/power.off {{vmid}}',
    reset: 'vim-cmd vmsvc/power.reset {{vmid}}',
  },
  // getallvms prints "Vmid Name File Guest OS Version Annotation": no state column, so a list
  // template for ESXi would wrap it; here the list is not used.
};

describe('command driver', () => {
  it('fills {{vmid}} from the VM vars and {{hypervisor}}/{{address}}, all quoted', async () => {
    const { ssh, calls } = fakeRunner((c) => (c.includes('getstate') ? { stdout: 'Retrieved runtime info\nPowered off\n' } : {}));
    const d = new CommandDriver({ ssh, hypervisors: [{ ...hv, command: VIMCMD }], vars: (vm) => ({ vmid: vm === 'web01' ? 12 : undefined }) });
    assert.equal(await d.vmState('esx1', 'web01'), 'off');
    await d.start('esx1', 'web01');
    assert.deepEqual(calls.map((c) => c.command), ["vim-cmd vmsvc/power.getstate '12'", "vim-cmd vmsvc/power.getstate '12'", "vim-cmd vmsvc/power.on '12'"]);
    await assert.rejects(d.vmState('esx1', 'db01'), (err: Error & { code?: string }) => {
      assert.equal(err.code, DriverErrorCodes.FAILED);
      assert.match(err.message, /no value for \{\{vmid\}\}/);
      return true;
    });
  });

  it('never lets a VM variable override vm, hypervisor or address', async () => {
    const { ssh, calls } = fakeRunner(() => ({ stdout: 'running' }));
    const spec: CommandSpec = { commands: { list: 'l', state: 's {{vm}} {{hypervisor}} {{address}} {{x}}', start: 'x', stop: 'x', reset: 'x' } };
    const d = new CommandDriver({ ssh, hypervisors: [{ ...hv, command: spec }], vars: () => ({ vm: 'evil', hypervisor: 'evil', address: 'evil', x: "'; reboot; '" }) });
    await d.vmState('esx1', 'web01');
    assert.equal(calls[0]!.command, `s 'web01' 'esx1' '10.0.0.21' ''\\''; reboot; '\\'''`);
  });

  it('parses a qm list and maps states; unknown states count as running', async () => {
    const qmList = [
      '      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID       ',
      '       100 web01                running    2048              32.00 2841      ',
      '       101 db01                 stopped    4096              64.00 0         ',
      '       102 odd                  migrating  1024               8.00 0         ',
    ].join('\n');
    const { ssh } = fakeRunner(() => ({ stdout: qmList }));
    const spec: CommandSpec = { commands: { list: 'qm list', state: 's', start: 's', stop: 's', reset: 's' }, listPattern: String.raw`^\s*\d+\s+(?<name>\S+)\s+(?<state>\S+)` };
    const d = new CommandDriver({ ssh, hypervisors: [{ ...hv, command: spec }] });
    assert.deepEqual(await d.listVms('esx1'), [
      { name: 'web01', state: 'running' },
      { name: 'db01', state: 'off' },
      { name: 'odd', state: 'running' },
    ]);
  });

  it('classifies tool messages with the default patterns', async () => {
    const cases: { out: Partial<RunResult>; code: string }[] = [
      { out: { code: 2, stderr: "Configuration file 'nodes/pve/qemu-server/999.conf' does not exist\n" }, code: DriverErrorCodes.NO_SUCH_VM },
      { out: { code: 1, stderr: 'VBoxManage: error: Could not find a registered machine named \'x\'\n' }, code: DriverErrorCodes.NO_SUCH_VM },
      { out: { code: 127, stderr: 'sh: 1: qm: not found\n' }, code: DriverErrorCodes.FAILED },
      { out: { code: 1, stderr: 'something else broke\n' }, code: DriverErrorCodes.FAILED },
    ];
    for (const c of cases) {
      const { ssh } = fakeRunner(() => c.out);
      const d = new CommandDriver({ ssh, hypervisors: [{ ...hv, command: { commands: { list: 'l', state: 's {{vm}}', start: 'x', stop: 'x', reset: 'x' } } }] });
      await assert.rejects(d.vmState('esx1', 'x'), { code: c.code }, JSON.stringify(c.out));
    }
  });

  it('stop is idempotent and reset of an off VM is NOT_RUNNING, from the state read first', async () => {
    let state = 'running';
    const { ssh, calls } = fakeRunner((c) => {
      if (c.startsWith('state')) return { stdout: `${state}\n` };
      if (c.startsWith('stop')) {
        // The VM went off between our read and the stop: the tool complains.
        state = 'off';
        return { code: 1, stderr: 'VM 100 not running' };
      }
      return {};
    });
    const d = new CommandDriver({ ssh, hypervisors: [{ ...hv, command: { commands: { list: 'l', state: 'state {{vm}}', start: 'start {{vm}}', stop: 'stop {{vm}}', reset: 'reset {{vm}}' } } }] });
    await d.destroy('esx1', 'vm1');
    await d.destroy('esx1', 'vm1');
    await assert.rejects(d.reset('esx1', 'vm1'), { code: DriverErrorCodes.NOT_RUNNING });
    assert.deepEqual(calls.map((c) => c.command.split(' ')[0]), ['state', 'stop', 'state', 'state']);
  });

  it('refuses unusable configurations when built', () => {
    const base = { list: 'l', state: 's {{vm}}', start: 'x', stop: 'x', reset: 'x' };
    const bad: CommandSpec[] = [
      { commands: { ...base, list: 'list {{vm}}' } },
      { commands: { ...base, start: "start '{{vm}}'" } },
      { commands: base, listPattern: '(?<name>\\S+)' },
      { commands: base, statePattern: 'status: (\\S+)' },
      { commands: base, running: '(' },
      { commands: { ...base, stop: undefined as unknown as string } },
    ];
    for (const command of bad) {
      assert.throws(() => new CommandDriver({ ssh: fakeRunner(() => ({})).ssh, hypervisors: [{ ...hv, command }] }), TemplateError, JSON.stringify(command));
    }
  });

  it('answers UNREACHABLE for a hypervisor it was not given', async () => {
    const d = new CommandDriver({ ssh: fakeRunner(() => ({})).ssh, hypervisors: [] });
    assert.equal(await d.reachable('nope'), false);
    await assert.rejects(d.listVms('nope'), { code: DriverErrorCodes.UNREACHABLE });
  });
});

describe('SSH failures as driver errors', () => {

  const cases = [
    [SshErrorCodes.CONNECT, DriverErrorCodes.UNREACHABLE],
    // Sent, but no result came back: it may have taken effect (libvirtd goes on with a start).
    [SshErrorCodes.TIMEOUT, DriverErrorCodes.UNKNOWN_OUTCOME],
    [SshErrorCodes.DROPPED, DriverErrorCodes.UNKNOWN_OUTCOME],
    // Key and login problems say nothing about the host's power: never a reason to fence it.
    [SshErrorCodes.HOST_KEY_MISMATCH, DriverErrorCodes.FAILED],
    [SshErrorCodes.HOST_UNKNOWN, DriverErrorCodes.FAILED],
    [SshErrorCodes.KNOWN_HOSTS, DriverErrorCodes.FAILED],
    [SshErrorCodes.AUTH, DriverErrorCodes.FAILED],
    [SshErrorCodes.KEY, DriverErrorCodes.FAILED],
    [SshErrorCodes.EXEC, DriverErrorCodes.FAILED],
  ] as const;
  for (const [ssh, driver] of cases) {
    it(`${ssh} -> ${driver}`, async () => {
      const runner: SshRunner = {
        run: async (t) => {
          throw new SshError(ssh, t.name, `${ssh} for ${t.name}`);
        },
      };
      const d = new CommandDriver({ ssh: runner, hypervisors: [{ ...hv, command: { commands: { list: 'l', state: 's {{vm}}', start: 'x', stop: 'x', reset: 'x' } } }] });
      await assert.rejects(d.listVms('esx1'), (err: Error & { code?: string; cause?: unknown }) => {
        assert.equal(err.code, driver);
        assert.ok(err.message.includes(`${ssh} for esx1`));
        assert.ok(err.cause instanceof SshError);
        return true;
      });
      assert.equal(await d.reachable('esx1'), false);
    });
  }
});
