import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDnsmasq } from './dnsmasq.js';
import { ImportError } from './model.js';
import { memFiles, noteLines } from './testkit.js';

const MAIN = `# a comment line
domain=lab.test   # a comment after whitespace
dhcp-range=10.77.0.100,10.77.0.150,255.255.255.0,12h
dhcp-range=10.77.1.0,static
dhcp-option=option:router,10.77.0.1
dhcp-option=6,10.77.0.1,10.77.0.2
dhcp-match=set:efi64,option:client-arch,7
dhcp-match=set:arm,93,11
dhcp-boot=tag:efi64,syslinux.efi,,10.77.0.1
dhcp-boot=tag:arm,grubaa64.efi
dhcp-boot=pxelinux.0,boothost,10.77.0.1
dhcp-host=52:54:00:77:00:10,10.77.0.10,vm10
dhcp-host=52-54-00-77-00-11,set:grub,10.77.0.11,"vm 11"
dhcp-boot=tag:grub,grubx64.efi
dhcp-host=id:01:52:54:00:77:00:12,10.77.0.12,vm12
dhcp-host=01:52:54:00:77:00:13,10.77.0.13
dhcp-host=52:54:00:77:00:14,52:54:00:77:00:15,10.77.0.14,laptop,infinite
dhcp-host=52:54:00:77:00:16,ignore
dhcp-boot=tag:!efi64,other.0
dhcp-boot=tag:nowhere,x.0
txt-record=lab.test,"v=spf1 # not a comment"
host-record=vm13.lab.test,10.77.0.13
addn-hosts=hosts.extra
conf-file=more.conf
conf-dir=/etc/dnsmasq.d,*.conf
`;

const files = {
  '/etc/dnsmasq.conf': MAIN,
  '/etc/hosts.extra': '# extra names\n10.77.0.20 printer printer.lab.test\nfe80::1 v6only\n',
  '/etc/more.conf': 'conf-file=/etc/dnsmasq.conf\nenable-tftp\n', // includes the main file again: read once
  '/etc/dnsmasq.d/a.conf': 'dhcp-host=52:54:00:77:00:17,10.77.0.17,fromdir\n',
  '/etc/dnsmasq.d/b.bak': 'dhcp-host=52:54:00:77:00:18,10.77.0.18,skipped\n',
};

describe('dnsmasq parser', () => {
  const m = parseDnsmasq(memFiles(files), '/etc/dnsmasq.conf');

  it('reads domain, ranges (with and without a pool), router and DNS servers', () => {
    assert.equal(m.domain?.value, 'lab.test');
    assert.deepEqual(m.subnets.map((s) => [s.cidr, s.pools.map((p) => `${p.start}-${p.end}`), s.leaseTime]), [
      ['10.77.0.0/24', ['10.77.0.100-10.77.0.150'], 43200],
      ['10.77.1.0/24', [], undefined],
    ]);
    assert.equal(m.router?.value, '10.77.0.1');
    assert.deepEqual(m.nameServers?.value, ['10.77.0.1', '10.77.0.2']);
  });

  it('reads hosts with quoted names, MAC forms and client ids, tags tying a boot file to a host', () => {
    const hosts = m.hosts.map((h) => [h.mac, h.clientId, h.ip, h.name, h.bootFile]);
    assert.deepEqual(hosts, [
      ['52:54:00:77:00:10', undefined, '10.77.0.10', 'vm10', undefined],
      ['52-54-00-77-00-11', undefined, '10.77.0.11', 'vm 11', 'grubx64.efi'],
      [undefined, '01:52:54:00:77:00:12', '10.77.0.12', 'vm12', undefined],
      ['01:52:54:00:77:00:13', undefined, '10.77.0.13', undefined, undefined],
      ['52:54:00:77:00:14', undefined, '10.77.0.14', 'laptop', undefined],
      ['52:54:00:77:00:17', undefined, '10.77.0.17', 'fromdir', undefined],
    ]);
    assert.equal(m.hosts[5]!.source.file, '/etc/dnsmasq.d/a.conf');
  });

  it('turns dhcp-match on the client architecture into boot rules by architecture', () => {
    assert.deepEqual(m.bootRules.map((r) => [r.arch, r.file, r.nextServer]), [
      [7, 'syslinux.efi', '10.77.0.1'],
      [11, 'grubaa64.efi', undefined],
      [null, 'pxelinux.0', '10.77.0.1'],
    ]);
  });

  it('reads names from host-record and addn-hosts', () => {
    assert.deepEqual(m.names.map((n) => [n.name, n.ip]), [['vm13.lab.test', '10.77.0.13'], ['printer', '10.77.0.20'], ['printer.lab.test', '10.77.0.20']]);
  });

  it('notes every line it cannot carry over, on its own line, with quotes and # kept in the text', () => {
    assert.deepEqual(noteLines(m.notes), [
      'dnsmasq.conf:4: gives no netmask (dnsmasq takes it from the interface): imported as a /24, check network.subnets',
      'dnsmasq.conf:17: has lease time infinite, which 3rc sets per subnet; the host itself is imported',
      'dnsmasq.conf:17: names 2 MACs for one address; 3rc reserves one address per MAC: only 52:54:00:77:00:14 is imported',
      'dnsmasq.conf:18: has no 3rc equivalent (3rc answers only the MACs it knows and its pools), left out',
      'dnsmasq.conf:21: no equivalent',
      'hosts.extra:3: no equivalent',
      'more.conf:2: no equivalent',
      'dnsmasq.conf:19: has no 3rc equivalent (a boot file goes to everyone, to one architecture or to one host), left out',
      'dnsmasq.conf:20: has no 3rc equivalent (tag nowhere is set neither by a dhcp-host nor by a dhcp-match on the client architecture), left out',
    ]);
    assert.equal(m.notes[4]!.source.text, 'txt-record=lab.test,"v=spf1 # not a comment"');
  });

  it('a missing include is an ImportError naming the line that includes it', () => {
    assert.throws(() => parseDnsmasq(memFiles({ '/a.conf': 'domain=x\nconf-file=/nope.conf\n' }), '/a.conf'), (e: unknown) => e instanceof ImportError && /^\/a\.conf:2: cannot read \/nope\.conf: file not found/.test(e.message));
    assert.throws(() => parseDnsmasq(memFiles({}), '/missing.conf'), ImportError);
  });
});
