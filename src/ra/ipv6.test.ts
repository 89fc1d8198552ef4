import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatIpv6, isLinkLocal, isMulticast, isUnspecified, parseIpv6, parseIpv6Prefix } from './ipv6.js';

describe('ipv6 text <-> bytes', () => {
  it('parses the usual forms', () => {
    assert.equal(parseIpv6('fd77::1')!.toString('hex'), 'fd770000000000000000000000000001');
    assert.equal(parseIpv6('::')!.toString('hex'), '0'.repeat(32));
    assert.equal(parseIpv6('fe80::5054:ff:fe77:10')!.toString('hex'), 'fe800000000000005054' + '00fffe770010');
    assert.equal(parseIpv6('1:2:3:4:5:6:7:8')!.toString('hex'), '00010002000300040005000600070008');
    // Dotted (embedded IPv4) forms are refused, as the config refuses them (lib/net6.ts).
    for (const bad of ['::ffff:10.77.0.1', '10.77.0.1', 'fd77::1::2', 'fe80::1%eth0', '', 'fd77:::1', '1:2:3:4:5:6:7:8:9']) assert.equal(parseIpv6(bad), null, bad);
  });

  it('formats as RFC 5952 (longest zero run, lower case, no lone ::)', () => {
    for (const [text, canon] of [['FD77:0:0:0:0:0:0:1', 'fd77::1'], ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'], ['::', '::'], ['ff02::1', 'ff02::1'], ['fd77::', 'fd77::']]) {
      assert.equal(formatIpv6(parseIpv6(text!)!), canon);
    }
  });

  it('prefixes: host bits must be zero', () => {
    assert.equal(parseIpv6Prefix('fd77:0::/64')!.text, 'fd77::/64');
    assert.equal(parseIpv6Prefix('fd77::1/64'), null);
    assert.equal(parseIpv6Prefix('fd77::/129'), null);
    assert.equal(parseIpv6Prefix('fd77::'), null);
  });

  it('classifies', () => {
    assert.ok(isUnspecified(parseIpv6('::')!));
    assert.ok(isLinkLocal(parseIpv6('fe80::1')!) && !isLinkLocal(parseIpv6('fd77::1')!));
    assert.ok(isMulticast(parseIpv6('ff02::2')!) && !isMulticast(parseIpv6('fe80::1')!));
  });
});
