import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createVars, OVMF_SECBOOT, OVMF_VARS, qemuArgs } from './qemu.js';

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
    for (const firmware of ['uefi', 'uefi-http'] as const) {
      const s = qemuArgs({ ...base, firmware, varsFile: '/tmp/v.fd' }).join(' ');
      assert.match(s, /-machine q35 /);
      assert.doesNotMatch(s, /smm|cfi\.pflash01|secboot/);
    }
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
