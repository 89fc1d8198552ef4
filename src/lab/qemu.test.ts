import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AAVMF_VARS, createVars, FIRMWARES, isUefi, OVMF_SECBOOT, OVMF_VARS, qemuArgs, qemuBinary, startVm, type Firmware } from './qemu.js';

const base = { name: 'vm10', mac: '52:54:00:77:00:10', tap: 'tap0', memoryMb: 1024, serialLog: '/tmp/s.log', boot: 'network' as const, varsFile: '/tmp/v.fd' };
const knobs = (a: string[]) => a.flatMap((x, i) => (x === '-fw_cfg' ? [a[i + 1]] : []));

describe('qemu: arm64 firmware kinds (AAVMF)', () => {
  it('arm64: qemu-system-aarch64 -M virt, a CPU TCG runs fast (cortex-a57), AAVMF code read-only and its own vars, the NIC without option ROM', () => {
    const a = qemuArgs({ ...base, firmware: 'arm64' });
    const s = a.join(' ');
    assert.equal(a[a.indexOf('-machine') + 1], 'virt');
    assert.equal(a[a.indexOf('-cpu') + 1], 'cortex-a57');
    assert.match(s, /-drive if=pflash,format=raw,readonly=on,file=\/usr\/share\/AAVMF\/AAVMF_CODE\.fd -drive if=pflash,format=raw,file=\/tmp\/v\.fd/);
    assert.doesNotMatch(s, /OVMF/);
    assert.match(s, /virtio-net-pci,disable-legacy=on,netdev=n0,mac=52:54:00:77:00:10,bootindex=1,romfile=( |$)/);
    assert.equal(a[a.indexOf('-serial') + 1], 'file:/tmp/s.log');
    assert.deepEqual(knobs(a), [], 'arm64 keeps its PXE boot options');
    assert.throws(() => qemuArgs({ ...base, firmware: 'arm64', varsFile: undefined }), /arm64 needs a varsFile/);
    assert.equal(qemuBinary('arm64'), 'qemu-system-aarch64');
    assert.ok(isUefi('arm64'));
  });

  it('arm64-http: the same AAVMF with the fw_cfg knobs that leave it only its HTTP boot options', () => {
    const a = qemuArgs({ ...base, firmware: 'arm64-http' });
    assert.equal(a[a.indexOf('-machine') + 1], 'virt');
    assert.match(a.join(' '), /file=\/usr\/share\/AAVMF\/AAVMF_CODE\.fd/);
    assert.deepEqual(knobs(a), ['name=opt/org.tianocore/IPv4PXESupport,string=n', 'name=opt/org.tianocore/IPv6PXESupport,string=n']);
    assert.equal(qemuBinary('arm64-http'), 'qemu-system-aarch64');
  });

  it('the x86 kinds keep qemu-system-x86_64, no -cpu, their machine', () => {
    for (const fw of FIRMWARES.filter((f) => !f.startsWith('arm64'))) {
      const a = qemuArgs({ ...base, firmware: fw });
      assert.equal(qemuBinary(fw), 'qemu-system-x86_64', fw);
      assert.ok(!a.includes('-cpu'), fw);
      assert.notEqual(a[a.indexOf('-machine') + 1], 'virt', fw);
    }
  });

  it('each VM gets a copy of its kind\'s variable store, once (a later boot keeps what the firmware stored)', { skip: !existsSync(AAVMF_VARS) || !existsSync(OVMF_VARS) ? 'OVMF or AAVMF not installed' : false }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'vars-'));
    try {
      const cases: [Firmware, string][] = [['arm64', AAVMF_VARS], ['arm64-http', AAVMF_VARS], ['uefi', OVMF_VARS]];
      for (const [fw, template] of cases) {
        const f = join(dir, `${fw}.fd`);
        createVars(f, fw);
        assert.equal(statSync(f).size, statSync(template).size, fw);
        writeFileSync(f, 'stored');
        createVars(f, fw);
        assert.equal(readFileSync(f, 'utf8'), 'stored', `${fw}: an existing store is kept`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('startVm runs the kind\'s binary', () => {
    const ran: string[] = [];
    const vm = startVm({ ...base, firmware: 'arm64' }, (cmd) => {
      ran.push(cmd);
      return { stderr: null, once: () => undefined, exitCode: 0, signalCode: null } as never;
    });
    assert.deepEqual(ran, ['qemu-system-aarch64']);
    assert.equal(vm.spec.firmware, 'arm64');
  });
});

describe('qemu command line: secureboot', () => {
  const base = { name: 'vm10', mac: '52:54:00:77:00:10', tap: 'tap0', memoryMb: 1024, serialLog: '/tmp/s.log', boot: 'network' as const };

  it('the SMM build of OVMF on q35 with SMM, flash writable only from SMM, no NIC option ROM', () => {
    const a = qemuArgs({ ...base, firmware: 'secureboot', varsFile: '/tmp/v.fd' });
    const s = a.join(' ');
    assert.equal(a[a.indexOf('-machine') + 1], 'q35,smm=on');
    assert.equal(a[a.indexOf('-global') + 1], 'driver=cfi.pflash01,property=secure,value=on');
    assert.match(s, /-drive if=pflash,format=raw,readonly=on,file=\/usr\/share\/OVMF\/OVMF_CODE_4M\.secboot\.fd -drive if=pflash,format=raw,file=\/tmp\/v\.fd/);
    assert.match(s, /virtio-net-pci,disable-legacy=on,netdev=n0,mac=52:54:00:77:00:10,bootindex=1,romfile=( |$)/);
    assert.doesNotMatch(s, /-fw_cfg/, 'Secure Boot keeps OVMF\'s PXE boot options');
    assert.throws(() => qemuArgs({ ...base, firmware: 'secureboot' }), /secureboot needs a varsFile/);
  });

  it('the other UEFI kinds keep the plain OVMF, no SMM and no secure flash', () => {
    for (const firmware of ['uefi', 'uefi-http', 'uefi-http6'] as const) {
      const s = qemuArgs({ ...base, firmware, varsFile: '/tmp/v.fd' }).join(' ');
      assert.match(s, /-machine q35 /);
      assert.doesNotMatch(s, /smm|cfi\.pflash01|secboot/);
    }
  });

  it('uefi-http6 is uefi-http\'s OVMF with the same knobs (no PXE option at all); uefi-pxe6 leaves out PXEv4 only', () => {
    const knobs = (firmware: Firmware) => {
      const a = qemuArgs({ ...base, firmware, varsFile: '/tmp/v.fd' });
      return a.flatMap((x, i) => (x === '-fw_cfg' ? [a[i + 1]] : []));
    };
    assert.deepEqual(knobs('uefi-http6'), ['name=opt/org.tianocore/IPv4PXESupport,string=n', 'name=opt/org.tianocore/IPv6PXESupport,string=n']);
    assert.deepEqual(knobs('uefi-http6'), knobs('uefi-http'));
    assert.deepEqual(knobs('uefi-pxe6'), ['name=opt/org.tianocore/IPv4PXESupport,string=n']);
    assert.deepEqual(knobs('uefi'), []);
  });

  it('a secureboot VM gets its own copy of the variable store with Microsoft\'s keys, the others the empty one', { skip: !existsSync(OVMF_SECBOOT.vars) && 'ovmf is not installed' }, (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'qemu-vars-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    createVars(join(dir, 'sb.fd'), 'secureboot');
    createVars(join(dir, 'uefi.fd'), 'uefi');
    assert.ok(readFileSync(join(dir, 'sb.fd')).equals(readFileSync(OVMF_SECBOOT.vars)));
    assert.ok(readFileSync(join(dir, 'uefi.fd')).equals(readFileSync(OVMF_VARS)));
    assert.ok(!readFileSync(OVMF_SECBOOT.vars).equals(readFileSync(OVMF_VARS)));
  });
});
