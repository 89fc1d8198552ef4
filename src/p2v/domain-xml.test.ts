import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { p2vDomainXml, type P2vDomainSpec } from './domain-xml.js';

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseAttributeValue: false,
  parseTagValue: false,
  isArray: (name) => name === 'disk',
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- walking parsed XML in a test
type Node = Record<string, any>;

function parse(xml: string): Node {
  assert.equal(XMLValidator.validate(xml), true, xml);
  return parser.parse(xml).domain as Node;
}

const SPEC: P2vDomainSpec = {
  name: 'db1',
  mac: '52:54:00:77:00:16',
  cpus: 2,
  memoryMb: 1024,
  disks: [
    { path: '/var/lib/3rc/p2v/db1/sda.raw', target: 'vda' },
    { path: '/var/lib/3rc/p2v/db1/sdb.raw', target: 'vdb' },
  ],
  bridge: 'br0',
  domainType: 'kvm',
  firmware: 'bios',
  serialLog: '/var/log/3rc/db1.serial.log',
};

describe('p2v domain XML', () => {
  it('describes a BIOS guest: raw virtio disks, network boot first, bridge NIC, serial log', () => {
    const d = parse(p2vDomainXml(SPEC));
    assert.equal(d['@type'], 'kvm');
    assert.equal(d.name, 'db1');
    assert.deepEqual(d.memory, { '#text': '1024', '@unit': 'MiB' });
    assert.equal(d.vcpu, '2');
    assert.deepEqual(d.os.type, { '#text': 'hvm', '@arch': 'x86_64', '@machine': 'pc' });
    assert.equal(d.os.bios['@rebootTimeout'], '5000');
    assert.equal(d.os['@firmware'], undefined);
    assert.equal(d.features.acpi, '');
    assert.equal(d.on_poweroff, 'destroy');
    assert.equal(d.on_reboot, 'restart');
    assert.equal(d.on_crash, 'destroy');
    const disks = d.devices.disk as Node[];
    assert.equal(disks.length, 2);
    assert.deepEqual(
      disks.map((x) => [x['@type'], x['@device'], x.driver['@name'], x.driver['@type'], x.source['@file'], x.target['@dev'], x.target['@bus']]),
      [
        ['file', 'disk', 'qemu', 'raw', '/var/lib/3rc/p2v/db1/sda.raw', 'vda', 'virtio'],
        ['file', 'disk', 'qemu', 'raw', '/var/lib/3rc/p2v/db1/sdb.raw', 'vdb', 'virtio'],
      ],
    );
    assert.equal(disks[0]!.boot['@order'], '2');
    assert.equal(disks[1]!.boot, undefined, 'only the first disk is bootable');
    const nic = d.devices.interface;
    assert.equal(nic['@type'], 'bridge');
    assert.equal(nic.source['@bridge'], 'br0');
    assert.equal(nic.mac['@address'], '52:54:00:77:00:16');
    assert.equal(nic.model['@type'], 'virtio-non-transitional');
    assert.equal(nic.boot['@order'], '1');
    for (const dev of [d.devices.serial, d.devices.console]) {
      assert.equal(dev['@type'], 'file');
      assert.equal(dev.source['@path'], '/var/log/3rc/db1.serial.log');
      assert.equal(dev.source['@append'], 'on');
    }
    assert.equal(d.devices.console.target['@type'], 'serial');
  });

  it('describes a UEFI guest on q35 without secure boot, and a TCG one', () => {
    const d = parse(p2vDomainXml({ ...SPEC, firmware: 'uefi', domainType: 'qemu', rebootTimeoutMs: 1000 }));
    assert.equal(d['@type'], 'qemu');
    assert.equal(d.os['@firmware'], 'efi');
    assert.deepEqual(d.os.type, { '#text': 'hvm', '@arch': 'x86_64', '@machine': 'q35' });
    assert.equal(d.os.bios, undefined);
    assert.deepEqual(d.os.firmware.feature, { '@enabled': 'no', '@name': 'secure-boot' });
    assert.equal(parse(p2vDomainXml({ ...SPEC, rebootTimeoutMs: 1000 })).os.bios['@rebootTimeout'], '1000');
  });

  it('escapes every value', () => {
    const evil = `/tmp/a'b"c<d>&e.raw`;
    const xml = p2vDomainXml({ ...SPEC, name: `x</name><evil/>`, disks: [{ path: evil, target: 'vda' }], bridge: `br'0`, serialLog: `/tmp/<log>` });
    assert.doesNotMatch(xml, /<evil\/>/);
    const d = parse(xml);
    assert.equal(d.name, 'x</name><evil/>');
    assert.equal(d.devices.disk[0].source['@file'], evil);
    assert.equal(d.devices.interface.source['@bridge'], `br'0`);
    assert.equal(d.devices.serial.source['@path'], '/tmp/<log>');
  });

  it('refuses numbers that are not integers and an empty disk list', () => {
    assert.throws(() => p2vDomainXml({ ...SPEC, cpus: 1.5 }), RangeError);
    assert.throws(() => p2vDomainXml({ ...SPEC, memoryMb: Number.NaN }), RangeError);
    assert.throws(() => p2vDomainXml({ ...SPEC, disks: [] }), RangeError);
  });
});
