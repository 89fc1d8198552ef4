import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseKea } from './kea.js';
import { ImportError } from './model.js';
import { memFiles, noteLines } from './testkit.js';

const MAIN = `// Kea DHCPv4
{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "eth0" ] },
    # a hash comment
    "valid-lifetime": 3600,
    "next-server": "10.77.0.1",
    "boot-file-name": "pxelinux.0",
    /* a C comment
       over two lines, with "quotes" and a // inside */
    "option-data": [
      { "name": "domain-name", "data": "lab.test" },
      { "code": 6, "data": "10.77.0.1, 10.77.0.2" },
      { "name": "ntp-servers", "data": "10.77.0.1" }
    ],
    "client-classes": [
      { "name": "efi64", "test": "option[93].hex == 0x0007", "boot-file-name": "syslinux.efi" },
      { "name": "vendor", "test": "substring(option[60].hex,0,9) == 'PXEClient'" }
    ],
    "subnet4": [
      {
        "id": 1,
        "subnet": "10.77.0.0/24",
        "pools": [ { "pool": "10.77.0.100 - 10.77.0.150" }, { "pool": "10.77.0.160/28" } ],
        "option-data": [ { "name": "routers", "data": "10.77.0.1" } ],
        "boot-file-name": "sub.0",
        "reservations": <?include "reservations.json"?>,
      },
    ],
    "reservations": [
      { "hw-address": "52:54:00:77:00:20", "ip-address": "10.77.0.20", "hostname": "global" }
    ]
  }
}
`;
const RES = `[
  { "hw-address": "52:54:00:77:00:10", "ip-address": "10.77.0.10", "hostname": "vm10" },
  { "hw-address": "52:54:00:77:00:11", "ip-address": "10.77.0.11", "boot-file-name": "grubx64.efi", "client-classes": [ "x" ] },
  { "client-id": "01:52:54:00:77:00:12", "ip-address": "10.77.0.12" }
]`;

describe('Kea parser', () => {
  const m = parseKea(memFiles({ '/etc/kea/kea-dhcp4.conf': MAIN, '/etc/kea/reservations.json': RES }), '/etc/kea/kea-dhcp4.conf');

  it('reads the global settings through every kind of comment', () => {
    assert.equal(m.domain?.value, 'lab.test');
    assert.deepEqual(m.nameServers?.value, ['10.77.0.1', '10.77.0.2']);
    assert.equal(m.leaseTime?.value, 3600);
    assert.equal(m.nextServer?.value, '10.77.0.1');
    assert.deepEqual(m.bootRules.map((r) => [r.arch, r.file]), [[null, 'pxelinux.0'], [7, 'syslinux.efi']]);
  });

  it('reads subnets with range and prefix pools, and reservations from an include', () => {
    assert.deepEqual(m.subnets.map((s) => [s.cidr, s.router, s.pools.map((p) => `${p.start}-${p.end}`)]), [
      ['10.77.0.0/24', '10.77.0.1', ['10.77.0.100-10.77.0.150', '10.77.0.160-10.77.0.175']],
    ]);
    assert.deepEqual(m.hosts.map((h) => [h.name, h.mac, h.clientId, h.ip, h.bootFile, `${h.source.file.split('/').pop()}:${h.source.line}`]), [
      ['vm10', '52:54:00:77:00:10', undefined, '10.77.0.10', 'sub.0', 'reservations.json:2'],
      [undefined, '52:54:00:77:00:11', undefined, '10.77.0.11', 'grubx64.efi', 'reservations.json:3'],
      [undefined, undefined, 'client-id 01:52:54:00:77:00:12', '10.77.0.12', 'sub.0', 'reservations.json:4'],
      // a global reservation gets the boot file of the subnet its address is in
      ['global', '52:54:00:77:00:20', undefined, '10.77.0.20', 'sub.0', 'kea-dhcp4.conf:31'],
    ]);
  });

  it('notes every key it cannot carry over, on the key\'s line', () => {
    assert.deepEqual(noteLines(m.notes), [
      'kea-dhcp4.conf:14: no equivalent',
      'kea-dhcp4.conf:18: has no 3rc equivalent (3rc matches the client architecture, option[93].hex == 0x0007, with a boot-file-name), left out',
      'reservations.json:3: no equivalent',
      'kea-dhcp4.conf:4: no equivalent',
    ]);
    assert.equal(m.notes[2]!.source.text, '{ "hw-address": "52:54:00:77:00:11", "ip-address": "10.77.0.11", "boot-file-name": "grubx64.efi", "client-classes": [ "x" ] },');
  });

  it('refuses what is not JSON or not Kea DHCPv4, naming the line', () => {
    const bad = (text: string) => () => parseKea(memFiles({ '/k.json': text }), '/k.json');
    assert.throws(bad('{\n  "Dhcp4": {\n    "a": 1\n    "b": 2\n  }\n}'), /\/k\.json:4: not valid JSON: expected , or \}/);
    assert.throws(bad('{ "Dhcp6": {} }'), /no "Dhcp4" object/);
    assert.throws(bad('{ "Dhcp4": {} /* open'), /a \/\* comment is not closed/);
    assert.throws(bad('{ "Dhcp4": <?include "nope.json"?> }'), (e: unknown) => e instanceof ImportError && /^\/k\.json:1: cannot read \/nope\.json/.test(e.message));
  });
});
