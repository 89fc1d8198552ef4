import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../../config/load.js';
import { packageRoot } from '../../lib/paths.js';
import { ARM64_PROFILE, parseVm } from './lab.js';

describe('3rc lab up --vm', () => {
  it('NAME[:FIRMWARE]: bios by default, uefi, uefi-http, arm64 and arm64-http by name', () => {
    assert.deepEqual(parseVm('vm10'), { host: 'vm10', firmware: 'bios' });
    assert.deepEqual(parseVm('vm11:uefi'), { host: 'vm11', firmware: 'uefi' });
    assert.deepEqual(parseVm('vm12:uefi-http'), { host: 'vm12', firmware: 'uefi-http' });
    assert.deepEqual(parseVm('vm10:arm64'), { host: 'vm10', firmware: 'arm64' });
    assert.deepEqual(parseVm('vm11:arm64-http'), { host: 'vm11', firmware: 'arm64-http' });
  });
  it('an unknown firmware or a bad host name is a usage error naming the kinds', () => {
    assert.throws(() => parseVm('vm10:http'), /firmware must be one of bios, uefi, uefi-http, uefi-http6, uefi-pxe6, secureboot, arm64, arm64-http/);
    assert.throws(() => parseVm('vm 10:uefi'), /expected a host name/);
  });
  it('an arm64 VM installs the lab\'s arm64 profile: the arm64 installer, its console, GRUB configs', () => {
    const lab = join(packageRoot(), 'examples', 'lab.yaml');
    const p = parseConfig(readFileSync(lab, 'utf8'), lab).profiles.find((x) => x.name === ARM64_PROFILE);
    assert.ok(p, `examples/lab.yaml has no profile ${ARM64_PROFILE}`);
    assert.deepEqual([p.kernel, p.initrd, p.chain], ['debian-installer/12/arm64/linux', 'debian-installer/12/arm64/initrd.gz', 'grub']);
    assert.match(p.kernelArgs, /console=ttyAMA0/);
  });
});
