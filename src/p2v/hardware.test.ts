import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_REPORT_BYTES, parseHardwareReport, vmShape, type HardwareReport } from './hardware.js';

const GOOD = `cpus 2
memory_kb 1014236
firmware bios

nic eth0 52:54:00:77:00:16
nic eth1 52-54-00-77-00-AB
disk vda 2147483648
disk vdb 1048576
`;

function ok(text: string): HardwareReport {
  const r = parseHardwareReport(text);
  assert.ok('report' in r, 'problems' in r ? r.problems.join('\n') : '');
  return r.report;
}

function problems(text: string): string[] {
  const r = parseHardwareReport(text);
  assert.ok('problems' in r, 'expected problems');
  return r.problems;
}

describe('p2v hardware report', () => {
  it('parses a report, normalising MACs and keeping disk order', () => {
    assert.deepEqual(ok(GOOD), {
      cpus: 2,
      memoryKb: 1014236,
      firmware: 'bios',
      nics: [
        { name: 'eth0', mac: '52:54:00:77:00:16' },
        { name: 'eth1', mac: '52:54:00:77:00:ab' },
      ],
      disks: [
        { name: 'vda', bytes: 2147483648 },
        { name: 'vdb', bytes: 1048576 },
      ],
    });
  });

  it('ignores unknown keys, blank lines, CRLF and extra spacing; NICs are optional', () => {
    const r = ok('  cpus   4\r\nvendor Dell Inc.\r\n\r\nmemory_kb 8000000\r\nfirmware uefi\r\ndisk nvme0n1 512\r\n');
    assert.equal(r.cpus, 4);
    assert.equal(r.firmware, 'uefi');
    assert.deepEqual(r.nics, []);
    assert.deepEqual(r.disks, [{ name: 'nvme0n1', bytes: 512 }]);
  });

  it('names the missing fields', () => {
    const p = problems('nic eth0 52:54:00:77:00:16\n');
    assert.ok(p.some((m) => m.startsWith('cpus: missing')), p.join('\n'));
    assert.ok(p.some((m) => m.startsWith('memory_kb: missing')), p.join('\n'));
    assert.ok(p.some((m) => m.startsWith('firmware: missing')), p.join('\n'));
    assert.ok(p.some((m) => m.startsWith('disk: no disks')), p.join('\n'));
  });

  it('names the line of each bad value', () => {
    const text = [
      'cpus 0', // 1
      'memory_kb -5', // 2
      'firmware coreboot', // 3
      'nic eth0 not-a-mac', // 4
      'disk Sda 512', // 5
      'disk vda 1000', // 6
      'disk vdb 512', // 7
      'disk vdb 1024', // 8
      'cpus 2', // 9
      'nic eth0', // 10
    ].join('\n');
    const p = problems(text);
    const expect = [
      /^line 1: cpus: expected an integer 1\.\.1024/,
      /^line 2: memory_kb: expected a positive integer/,
      /^line 3: firmware: expected bios or uefi, got "coreboot"/,
      /^line 4: nic eth0: "not-a-mac" is not a MAC address/,
      /^line 5: disk: "Sda" is not a block device name/,
      /^line 6: disk vda: size must be a positive multiple of 512/,
      /^line 8: disk vdb: given twice/,
      /^line 9: cpus: given again \(first on line 1\)/,
      /^line 10: nic: expected `nic NAME MAC`/,
    ];
    for (const re of expect) assert.ok(p.some((m) => re.test(m)), `${re} not in\n${p.join('\n')}`);
    assert.equal(p.length, expect.length, p.join('\n'));
  });

  it('refuses too many disks or NICs, unsafe numbers and a report over 64 KiB', () => {
    const base = 'cpus 1\nmemory_kb 1\nfirmware bios\n';
    const disks = Array.from({ length: 17 }, (_, i) => `disk vd${String.fromCharCode(97 + i)} 512`).join('\n');
    assert.match(problems(base + disks).join('\n'), /^line 20: disk vdq: more than 16 disks$/m);
    const nics = Array.from({ length: 33 }, (_, i) => `nic eth${i} 52:54:00:00:00:${i.toString(16).padStart(2, '0')}`).join('\n');
    assert.match(problems(`${base}disk vda 512\n${nics}`).join('\n'), /nic eth32: more than 32 NICs/);
    assert.match(problems(`${base}disk vda 99999999999999999999\n`).join('\n'), /disk vda: size must be/);
    assert.match(problems(`cpus 1025\nmemory_kb 1\nfirmware bios\ndisk vda 512\n`).join('\n'), /line 1: cpus/);
    assert.match(problems(`${base}disk vda 512\n# ${'x'.repeat(MAX_REPORT_BYTES)}\n`).join('\n'), /larger than 65536 bytes/);
  });

  it('shapes the VM: memory rounded up to 256 MiB', () => {
    const r = ok(GOOD);
    assert.deepEqual(vmShape(r), { cpus: 2, memoryMb: 1024 });
    assert.equal(vmShape({ ...r, memoryKb: 1024 * 1024 }).memoryMb, 1024);
    assert.equal(vmShape({ ...r, memoryKb: 1024 * 1024 + 1 }).memoryMb, 1280);
    assert.equal(vmShape({ ...r, memoryKb: 8_153_000 }).memoryMb, 8192); // an 8 GiB host
    assert.equal(vmShape({ ...r, memoryKb: 1 }).memoryMb, 256);
    assert.equal(vmShape({ ...r, memoryKb: 16_300_000 }).memoryMb, 16384); // a 16 GiB host
    assert.equal(vmShape({ ...r, memoryKb: 65_900_000 }).memoryMb, 65536); // 64 GiB
    assert.equal(vmShape({ ...r, memoryKb: 6_080_000 }).memoryMb, 6144); // 6 GiB
  });
});
