import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDhcpd } from './dhcpd.js';
import { ImportError } from './model.js';
import { memFiles, noteLines } from './testkit.js';

const MAIN = `# dhcpd.conf
authoritative;
default-lease-time 600;
option domain-name "lab.test";
option domain-name-servers 10.77.0.1,
                           10.77.0.2;     # a statement continued on the next line
next-server 10.77.0.1;
filename "pxelinux.0";
option space pxelinux;   # ; inside a comment: ignored

shared-network lab {
  subnet 10.77.0.0 netmask 255.255.255.0 {
    option routers 10.77.0.1, 10.77.0.254;
    pool { range 10.77.0.100 10.77.0.150; }
    range dynamic-bootp 10.77.0.200;
  }
  subnet 10.77.1.0 netmask 255.255.255.0 {
    filename "uefi/shimx64.efi";
    default-lease-time 60;
  }
}
group {
  filename "grub\\"x.efi";
  host a { hardware ethernet 52:54:00:77:00:10; fixed-address 10.77.0.10; }
}
if option arch = 00:07 { filename "syslinux.efi"; }
include "hosts.conf";
`;
const HOSTS = `host b {
  hardware ethernet 52:54:00:77:00:11;
  fixed-address 10.77.1.11;               # gets the subnet's filename: its address is there
  option host-name "bee";
}
host c { option dhcp-client-identifier 1:52:54:00:77:00:12; fixed-address 10.77.0.12; }
host d { hardware ethernet 52:54:00:77:00:13; fixed-address d.lab.test; ddns-hostname "x"; }
`;

describe('dhcpd parser', () => {
  const m = parseDhcpd(memFiles({ '/etc/dhcp/dhcpd.conf': MAIN, '/etc/dhcp/hosts.conf': HOSTS }), '/etc/dhcp/dhcpd.conf');

  it('reads the global options, subnets in a shared-network, ranges in and out of pools', () => {
    assert.equal(m.domain?.value, 'lab.test');
    assert.deepEqual(m.nameServers?.value, ['10.77.0.1', '10.77.0.2']);
    assert.equal(m.leaseTime?.value, 600);
    assert.equal(m.nextServer?.value, '10.77.0.1');
    assert.deepEqual(m.bootRules.map((r) => [r.arch, r.file, r.source.line]), [[null, 'pxelinux.0', 8]]);
    assert.deepEqual(m.subnets.map((s) => [s.cidr, s.router, s.pools.map((p) => `${p.start}-${p.end}`), s.leaseTime]), [
      ['10.77.0.0/24', '10.77.0.1', ['10.77.0.100-10.77.0.150', '10.77.0.200-10.77.0.200'], undefined],
      ['10.77.1.0/24', undefined, [], 60],
    ]);
  });

  it('reads host blocks: a group\'s filename (escaped quote), a subnet\'s by address, client ids, host-name', () => {
    assert.deepEqual(m.hosts.map((h) => [h.name, h.mac, h.clientId, h.ip, h.bootFile]), [
      ['a', '52:54:00:77:00:10', undefined, '10.77.0.10', 'grub"x.efi'],
      ['bee', '52:54:00:77:00:11', undefined, '10.77.1.11', 'uefi/shimx64.efi'],
      ['c', undefined, '1:52:54:00:77:00:12', '10.77.0.12', undefined],
      ['d', '52:54:00:77:00:13', undefined, undefined, undefined],
    ]);
    assert.equal(m.hosts[1]!.source.file, '/etc/dhcp/hosts.conf');
  });

  it('notes each statement it cannot carry over, a continued one on its first line', () => {
    assert.deepEqual(noteLines(m.notes), [
      'dhcpd.conf:2: no equivalent',
      'dhcpd.conf:9: no equivalent',
      'dhcpd.conf:13: names 2 routers; 3rc hands out one: 10.77.0.1 is imported',
      'dhcpd.conf:26: no equivalent',
      'hosts.conf:7: names the address by DNS name; 3rc needs the address itself, left out',
      'hosts.conf:7: no equivalent',
    ]);
    assert.equal(m.notes[3]!.source.text, 'if option arch = 00:07 { ... }');
    assert.equal(m.notes[5]!.source.text, 'ddns-hostname "x";');
  });

  it('refuses what dhcpd would refuse: unbalanced braces, an unclosed string, a missing ;, a missing include', () => {
    const bad = (text: string) => () => parseDhcpd(memFiles({ '/d.conf': text }), '/d.conf');
    assert.throws(bad('subnet 10.0.0.0 netmask 255.0.0.0 {\n'), /\/d\.conf: a \{ is not closed/);
    assert.throws(bad('}\n'), /\/d\.conf:1: \} without a matching \{/);
    assert.throws(bad('option domain-name "x;\n'), /\/d\.conf:1: a string is not closed/);
    assert.throws(bad('host a { fixed-address 10.0.0.1 }\n'), /\/d\.conf:1: fixed-address 10\.0\.0\.1 is missing its ;/);
    assert.throws(bad('\ninclude "nope.conf";\n'), (e: unknown) => e instanceof ImportError && /^\/d\.conf:2: cannot read \/nope\.conf: file not found/.test(e.message));
  });
});
