import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseVm } from './lab.js';

describe('3rc lab up --vm', () => {
  it('NAME[:FIRMWARE]: bios by default, uefi and uefi-http by name', () => {
    assert.deepEqual(parseVm('vm10'), { host: 'vm10', firmware: 'bios' });
    assert.deepEqual(parseVm('vm11:uefi'), { host: 'vm11', firmware: 'uefi' });
    assert.deepEqual(parseVm('vm12:uefi-http'), { host: 'vm12', firmware: 'uefi-http' });
  });
  it('an unknown firmware or a bad host name is a usage error naming the kinds', () => {
    assert.throws(() => parseVm('vm10:http'), /firmware must be one of bios, uefi, uefi-http/);
    assert.throws(() => parseVm('vm 10:uefi'), /expected a host name/);
  });
});
