import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cidrBroadcast, cidrContains, formatIpv4, isOwnerAddress, macFromBytes, normalizeMac, parseCidr, parseIpv4, peerAddress, plainAddress } from './net.js';
import { eui64LinkLocal } from './net6.js';

describe('net helpers', () => {
  it('canonicalises MACs in the usual spellings and refuses the rest', () => {
    for (const m of ['52:54:00:77:00:10', '52-54-00-77-00-10', '525400770010', '52:54:00:77:00:10 ', '52:54:00:77:00:10'.toUpperCase()]) {
      assert.equal(normalizeMac(m), '52:54:00:77:00:10', m);
    }
    for (const m of ['52:54:00:77:00', '52:54:00:77:00:10:11', 'zz:54:00:77:00:10', '', '52:54:00:77:00:1']) assert.equal(normalizeMac(m), null, m);
    assert.equal(macFromBytes(Uint8Array.from([0x52, 0x54, 0, 0x77, 0, 0x10])), '52:54:00:77:00:10');
  });

  it('parses IPv4 strictly', () => {
    assert.equal(parseIpv4('10.77.0.1'), 0x0a4d0001);
    assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
    for (const bad of ['10.77.0', '10.77.0.256', '010.77.0.1', '10.77.0.1.', 'a.b.c.d', '', '1e1.0.0.1']) assert.equal(parseIpv4(bad), null, bad);
    assert.equal(formatIpv4(0xffffffff), '255.255.255.255');
    assert.equal(formatIpv4(parseIpv4('10.77.0.13')!), '10.77.0.13');
  });

  it('parses IPv4 and formats MACs as the split/regex forms did, on edge cases and random strings', () => {
    // The definitions before issue 26's hand-written ones: the reference.
    const reference = (input: string): number | null => {
      const parts = input.split('.');
      if (parts.length !== 4) return null;
      let n = 0;
      for (const p of parts) {
        if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
        if (Number(p) > 255) return null;
        n = n * 256 + Number(p);
      }
      return n >>> 0;
    };
    const cases = ['0.0.0.0', '00.0.0.0', '0.0.0.00', '1.2.3.4', '1.2.3.04', '999.1.1.1', '256.0.0.0', '1..2.3', '.1.2.3', '1.2.3.', '1.2.3.4.5', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.1000', '100.200.250.255', '٣.1.1.1', '1.2.3.-4', '+1.2.3.4'];
    let seed = 26;
    const rnd = (k: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % k;
    const alphabet = '0123456789.. x';
    for (let i = 0; i < 20_000; i++) cases.push(Array.from({ length: rnd(18) }, () => alphabet[rnd(alphabet.length)]).join(''));
    for (let i = 0; i < 2_000; i++) cases.push([rnd(300), rnd(300), rnd(300), rnd(300)].join('.'));
    for (const c of cases) assert.equal(parseIpv4(c), reference(c), JSON.stringify(c));
    for (let i = 0; i < 1_000; i++) {
      const b = Uint8Array.from({ length: 8 }, () => rnd(256));
      assert.equal(macFromBytes(b, 1), [...b.subarray(1, 7)].map((x) => x.toString(16).padStart(2, '0')).join(':'));
      const n = (rnd(2 ** 16) * 2 ** 16 + rnd(2 ** 16)) >>> 0;
      assert.equal(formatIpv4(n), [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.'));
    }
  });

  it('parses subnets and answers membership', () => {
    const c = parseCidr('10.77.0.0/24')!;
    assert.ok(cidrContains(c, parseIpv4('10.77.0.255')!));
    assert.ok(!cidrContains(c, parseIpv4('10.77.1.0')!));
    assert.equal(formatIpv4(cidrBroadcast(c)), '10.77.0.255');
    assert.equal(parseCidr('10.77.0.1/24'), null); // host bits set
    assert.equal(parseCidr('10.77.0.0/33'), null);
    assert.ok(cidrContains(parseCidr('0.0.0.0/0')!, parseIpv4('10.1.2.3')!));
    assert.ok(cidrContains(parseCidr('10.77.0.5/32')!, parseIpv4('10.77.0.5')!));
  });

  it('peerAddress: the address of a trace peer, IPv4 or IPv6, with or without its port', () => {
    assert.equal(peerAddress('10.77.0.5:2070'), '10.77.0.5');
    assert.equal(peerAddress('10.77.0.5'), '10.77.0.5');
    assert.equal(peerAddress('[fd77::5]:2070'), 'fd77::5');
    assert.equal(peerAddress('fd77::5'), 'fd77::5');
    for (const bad of [undefined, null, 5, '']) assert.equal(peerAddress(bad), null);
  });
  it('plainAddress: the IPv4-mapped form is IPv4, a zone id is dropped, the rest as it is', () => {
    assert.equal(plainAddress('::ffff:10.77.0.5'), '10.77.0.5');
    assert.equal(plainAddress('::FFFF:10.77.0.5'), '10.77.0.5');
    assert.equal(plainAddress('10.77.0.5'), '10.77.0.5');
    assert.equal(plainAddress('fd77::5'), 'fd77::5');
    assert.equal(plainAddress('fe80::1%eth0'), 'fe80::1');
    assert.equal(plainAddress('::ffff:0a4d:5'), '::ffff:0a4d:5', 'mapped, but not in dotted form: left alone');
    assert.equal(plainAddress(''), '');
  });

  it('isOwnerAddress: the host\'s reserved IPv4 address (also dual-stack) or its IPv6 one, in any spelling; nobody else', () => {
    const owner = { ip: '10.77.0.10', ipv6: 'fd77::10' };
    for (const a of ['10.77.0.10', '::ffff:10.77.0.10', 'fd77::10', 'FD77::10', 'fd77:0:0:0:0:0:0:10']) assert.equal(isOwnerAddress(a, owner), true, a);
    for (const a of ['10.77.0.11', 'fd77::11', '::ffff:10.77.0.11', '', 'fd77::10::', '::ffff:fd77::10']) assert.equal(isOwnerAddress(a, owner), false, a);
    // Without hosts[].ipv6, no IPv6 address is the owner; without an owner address, nobody is.
    assert.equal(isOwnerAddress('fd77::10', { ip: '10.77.0.10' }), false);
    assert.equal(isOwnerAddress('fd77::10', { ip: '10.77.0.10', ipv6: null }), false);
    assert.equal(isOwnerAddress('', { ip: null, ipv6: null }), false);
  });

  it('isOwnerAddress: with an IPv6 reservation, the link-local address of the host\'s MAC (modified EUI-64) too, in any zone and spelling; no other link-local address', () => {
    const owner = { ip: '10.77.0.10', ipv6: 'fd77::10', mac: '52:54:00:77:00:10' };
    for (const a of ['fe80::5054:ff:fe77:10', 'fe80::5054:ff:fe77:10%eth0', 'FE80:0:0:0:5054:FF:FE77:10']) assert.equal(isOwnerAddress(a, owner), true, a);
    const others = [
      'fe80::5054:ff:fe77:11', // another MAC's
      'fe80::5254:ff:fe77:10', // the MAC itself, without the universal/local bit flipped
      'fe80::5054:ff:fe77:10::', // not an address
      'fe80:0:0:1:5054:ff:fe77:10', // not in fe80::/64
      'fd77::5054:ff:fe77:10', // the same interface identifier under the ULA prefix (SLAAC): not the reservation
      'fe80::1c2d:3e4f:5a6b:7c8d', // a stable-privacy (RFC 7217) or random one
    ];
    for (const a of others) assert.equal(isOwnerAddress(a, owner), false, a);
    // Only with an IPv6 reservation: a host 3rc does not serve over IPv6 owns no link-local address.
    assert.equal(isOwnerAddress('fe80::5054:ff:fe77:10', { ip: '10.77.0.10', mac: '52:54:00:77:00:10' }), false);
    assert.equal(isOwnerAddress('fe80::5054:ff:fe77:10', { ip: '10.77.0.10', ipv6: null, mac: '52:54:00:77:00:10' }), false);
    // Without the MAC, none either (the TFTP owner check of virtual files gives none).
    assert.equal(isOwnerAddress('fe80::5054:ff:fe77:10', { ip: '10.77.0.10', ipv6: 'fd77::10' }), false);
  });

  it('eui64LinkLocal: fe80:: and the modified EUI-64 of the MAC (universal/local bit flipped, ff:fe in the middle)', () => {
    assert.equal(eui64LinkLocal('52:54:00:77:00:10'), 'fe80::5054:ff:fe77:10');
    assert.equal(eui64LinkLocal('00:1B:21:0A:0B:0C'), 'fe80::21b:21ff:fe0a:b0c');
    assert.equal(eui64LinkLocal('02:00:00:00:00:00'), 'fe80::ff:fe00:0');
    for (const bad of ['52-54-00-77-00-10', '52:54:00:77:00', '', 'zz:54:00:77:00:10']) assert.equal(eui64LinkLocal(bad), null, bad);
  });
});
