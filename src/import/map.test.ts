import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { parseConfig } from '../config/load.js';
import { parseDnsmasq } from './dnsmasq.js';
import { hostName, importMac, mapToConfig } from './map.js';
import { mergeConfig } from './merge.js';
import { emptyModel, formatNote, type ImportModel, type Source } from './model.js';
import { memFiles } from './testkit.js';

const at = (line: number, text = `line ${line}`): Source => ({ file: '/in.conf', line, text });

function model(parts: Partial<ImportModel>): ImportModel {
  return { ...emptyModel(), ...parts };
}

const SUBNET = { cidr: '10.77.0.0/24', router: '10.77.0.1', pools: [{ start: '10.77.0.100', end: '10.77.0.150', source: at(2) }], source: at(1) };

describe('import mapping', () => {
  it('normalizes MAC forms (dashes, one-digit octets, the 01: hardware type prefix) and refuses the rest', () => {
    assert.equal(importMac('52-54-00-77-00-10'), '52:54:00:77:00:10');
    assert.equal(importMac('1:52:54:0:77:0:10'), '52:54:00:77:00:10');
    assert.equal(importMac('01:52:54:00:77:00:10'), '52:54:00:77:00:10');
    assert.equal(importMac('52:54:00:77:0:a'), '52:54:00:77:00:0a');
    assert.equal(importMac('06:52:54:00:77:00:10'), null); // another hardware type
    assert.equal(importMac('52:54:00:*:*:*'), null);
  });

  it('makes host names valid: first label, lower case, other characters as -', () => {
    assert.equal(hostName('vm10.lab.test'), 'vm10');
    assert.equal(hostName('VM_11'), 'vm-11');
    assert.equal(hostName('___'), null);
  });

  it('maps subnets, hosts, boot files by architecture and per host, and the result validates', () => {
    const m = model({
      domain: { value: 'Lab.Test.', source: at(1) },
      subnets: [SUBNET],
      bootRules: [
        { arch: null, file: 'pxelinux.0', nextServer: '10.77.0.1', source: at(3) },
        { arch: 7, file: 'syslinux.efi', source: at(4) },
        { arch: 16, file: 'ipxe.efi', source: at(5) },
        { arch: 7, file: 'other.efi', source: at(6) },
        { arch: 99, file: 'x.efi', source: at(7) },
      ],
      hosts: [
        { name: 'vm10', mac: '52:54:00:77:00:10', ip: '10.77.0.10', source: at(10) },
        { name: 'VM 11', mac: '01:52:54:00:77:00:11', ip: '10.77.0.11', bootFile: 'grubx64.efi', source: at(11) },
        { mac: '52:54:00:77:00:12', ip: '10.77.0.12', bootFile: 'pxelinux.0', source: at(12) },
        { mac: '52:54:00:77:00:13', ip: '10.77.0.13', source: at(13) },
        { name: 'dup', mac: '52-54-00-77-00-10', ip: '10.77.0.14', source: at(14) },
        { name: 'dupip', mac: '52:54:00:77:00:15', ip: '10.77.0.10', source: at(15) },
        { name: 'vm10', mac: '52:54:00:77:00:16', ip: '10.77.0.16', source: at(16) },
        { clientId: '01:52:54:00:77:00:17', ip: '10.77.0.17', source: at(17) },
        { name: 'far', mac: '52:54:00:77:00:18', ip: '10.99.0.18', source: at(18) },
        { name: 'abs', mac: '52:54:00:77:00:19', ip: '10.77.0.19', bootFile: '/tftpboot/x.0', nextServer: '10.77.0.2', source: at(19) },
      ],
      names: [{ name: 'thirteen.lab.test', ip: '10.77.0.13', source: at(20) }, { name: 'lonely', ip: '10.77.0.99', source: at(21) }],
    });
    const r = mapToConfig(m);
    assert.deepEqual(r.config.network, { domain: 'lab.test', serverIp: '10.77.0.1', subnets: [{ cidr: '10.77.0.0/24', router: '10.77.0.1', pool: { start: '10.77.0.100', end: '10.77.0.150' } }] });
    assert.deepEqual(r.config.servers, { dhcp: { bootFiles: { efiX64: 'syslinux.efi', httpX64: 'ipxe.efi', bios: 'pxelinux.0', efiIa32: 'pxelinux.0', efiArm32: 'pxelinux.0', efiArm64: 'pxelinux.0' } } });
    assert.deepEqual(r.config.hosts, [
      { name: 'vm10', mac: '52:54:00:77:00:10', ip: '10.77.0.10', profile: 'imported' },
      { name: 'vm-11', mac: '52:54:00:77:00:11', ip: '10.77.0.11', profile: 'boot-grubx64-efi' },
      // pxelinux.0 is the BIOS file but not every slot's (efiX64 is syslinux.efi): its own profile keeps it for every architecture
      { name: 'host-10-77-0-12', mac: '52:54:00:77:00:12', ip: '10.77.0.12', profile: 'boot-pxelinux-0' },
      { name: 'thirteen', mac: '52:54:00:77:00:13', ip: '10.77.0.13', profile: 'imported' },
      { name: 'abs', mac: '52:54:00:77:00:19', ip: '10.77.0.19', profile: 'imported' },
    ]);
    const profiles = r.config.profiles as Array<{ name: string; loaders?: Record<string, string> }>;
    assert.deepEqual(profiles.map((p) => [p.name, p.loaders?.bios, p.loaders?.efiX64, p.loaders?.httpX64]), [
      ['imported', undefined, undefined, undefined],
      ['boot-grubx64-efi', 'grubx64.efi', 'grubx64.efi', undefined],
      ['boot-pxelinux-0', 'pxelinux.0', 'pxelinux.0', undefined],
    ]);
    assert.deepEqual(r.notes.map(formatNote), [
      '/in.conf:6: line 6 gives architecture 7 a second boot file; /in.conf:4 already did, left out',
      '/in.conf:7: line 7 gives a boot file to client architecture 99, which 3rc does not know, left out',
      '/in.conf:14: line 14 reserves MAC 52:54:00:77:00:10 again (first at /in.conf:10), left out',
      '/in.conf:15: line 15 reserves address 10.77.0.10 again (first at /in.conf:10), left out',
      '/in.conf:16: line 16 reserves name vm10 again (first at /in.conf:10), left out',
      '/in.conf:17: line 17 reserves by client identifier (01:52:54:00:77:00:17); 3rc reserves by MAC only, left out',
      '/in.conf:18: line 18 reserves 10.99.0.18, outside every imported subnet, left out',
      '/in.conf:19: line 19 has boot file "/tftpboot/x.0"; 3rc serves files relative to paths.boot (no leading /, no .., no spaces, no URL), left out',
      '/in.conf:19: line 19 names next-server 10.77.0.2; 3rc hands out its own address (network.serverIp 10.77.0.1) to everyone, left out',
      '/in.conf:21: line 21 names lonely, an address no imported host reserves; 3rc\'s DNS publishes its hosts only, left out',
    ]);
    assert.ok(r.remarks.some((x) => x.includes('host 10.77.0.12 named host-10-77-0-12 (no name in the input)')), r.remarks.join('\n'));
    assert.ok(r.remarks.some((x) => x.includes('host 10.77.0.11 named vm-11 (from "VM 11")')), r.remarks.join('\n'));
    // 3rc's own loader accepts it (the schema and the cross-field rules, not a copy of them).
    const c = parseConfig(stringify(r.config), '/tmp/imported.yaml');
    assert.equal(c.hosts.length, 5);
  });

  it('without next-server, domain or subnets it says what it chose', () => {
    const r = mapToConfig(model({ subnets: [{ ...SUBNET, router: undefined }] }));
    assert.deepEqual(r.config.network, { domain: 'lan', serverIp: '10.77.0.1', subnets: [{ cidr: '10.77.0.0/24', pool: { start: '10.77.0.100', end: '10.77.0.150' } }] });
    assert.ok(r.remarks.some((x) => x.startsWith('network.serverIp: no next-server in the input; set to 10.77.0.1')));
    assert.ok(r.remarks.some((x) => x.startsWith('network.domain: none in the input')));
  });
});

const EXISTING = `# my 3rc config
network:
  domain: lab.test   # the lab's domain
  serverIp: 10.77.0.1
  subnets:
    - cidr: 10.77.0.0/24
profiles:
  - name: debian12
    installer: image
    kernel: k
    initrd: i
hosts:
  - name: old
    mac: 52-54-00-77-00-01
    ip: 10.77.0.5
    profile: debian12
`;

describe('import --merge', () => {
  const imported = mapToConfig(parseDnsmasq(memFiles({ '/d.conf': [
    'dhcp-range=10.77.0.100,10.77.0.150,255.255.255.0',
    'dhcp-option=3,10.77.0.1',
    'dhcp-boot=pxelinux.0,,10.77.0.1',
    'dhcp-host=52:54:00:77:00:10,10.77.0.10,vm10',
    'dhcp-host=52:54:00:77:00:01,10.77.0.5,old',
  ].join('\n') }), '/d.conf')).config;

  it('adds hosts, profiles and boot files to the config, keeping its comments and what it already has', () => {
    const r = mergeConfig(EXISTING, imported);
    assert.deepEqual(r.conflicts, []);
    assert.ok(r.text);
    assert.match(r.text, /^# my 3rc config\n/);
    assert.match(r.text, /domain: lab\.test +# the lab's domain/);
    const c = parseConfig(r.text, '/tmp/merged.yaml');
    assert.deepEqual(c.hosts.map((h) => [h.name, h.mac, h.profile]), [['old', '52:54:00:77:00:01', 'debian12'], ['vm10', '52:54:00:77:00:10', 'imported']]);
    assert.deepEqual(c.network.subnets, [{ cidr: '10.77.0.0/24', router: '10.77.0.1', pool: { start: '10.77.0.100', end: '10.77.0.150' } }]);
    assert.equal(c.servers.dhcp.bootFiles.efiX64, 'pxelinux.0');
    assert.ok(r.remarks.includes('host old is already hosts[0], kept as it is'));
  });

  it('refuses conflicts, listing every one: same MAC, address or name, a subnet setting, a boot-file slot', () => {
    const conflicting = EXISTING.replace('    - cidr: 10.77.0.0/24\n', '    - cidr: 10.77.0.0/24\n      router: 10.77.0.254\n').replace('ip: 10.77.0.5', 'ip: 10.77.0.7')
      + '  - name: vm10\n    mac: 52:54:00:77:00:99\n    ip: 10.77.0.99\n    profile: debian12\n'
      + 'servers:\n  dhcp:\n    bootFiles:\n      bios: lpxelinux.0\n';
    const r = mergeConfig(conflicting, imported);
    assert.equal(r.text, null);
    assert.deepEqual(r.conflicts, [
      'subnet 10.77.0.0/24: router "10.77.0.1" differs from network.subnets[0].router "10.77.0.254"',
      'servers.dhcp.bootFiles.bios: the import gives "pxelinux.0", the config "lpxelinux.0"',
      'host vm10 (52:54:00:77:00:10, 10.77.0.10): same name vm10 as hosts[1] (vm10, 52:54:00:77:00:99, 10.77.0.99)',
      'host old (52:54:00:77:00:01, 10.77.0.5): same MAC 52:54:00:77:00:01, name old as hosts[0] (old, 52:54:00:77:00:01, 10.77.0.7)',
    ]);
  });
});
