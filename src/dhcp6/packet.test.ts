import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalIpv6, ipv6ToBytes, parsePrefix6, prefixContains, ipv6ToBigInt } from '../lib/net6.js';
import { clientMac6, macFromDuid, macFromLinkLocal, serverDuid } from './duid.js';
import { Dhcp6CodecError, Dhcp6ErrorCodes } from './errors.js';
import { decodeDomainList, decodeIaNa, encodeDomainList, encodeIaNa, Opt6 } from './options.js';
import { decode, encode, Msg6, unwrap, type Dhcp6Packet } from './packet.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    assert.ok(err instanceof Dhcp6CodecError, `not a Dhcp6CodecError: ${String(err)}`);
    return err.code;
  }
}

/**
 * A Solicit laid out as dhclient -6 sends one (written by hand, not captured): client id DUID-LLT
 * of MAC 52:54:00:77:00:10, ORO 23 24 39, elapsed time 0, IA_NA iaid 0x00770010.
 */
const DHCLIENT_SOLICIT = hex(`
  01 a1b2c3
  0001 000e 0001 0001 2c3d4e5f 525400770010
  0006 0006 0017 0018 0027
  0008 0002 0000
  0003 000c 00770010 00000e10 00001518`);

describe('dhcp6 codec', () => {
  it('decodes a Solicit: type, transaction id, options in order', () => {
    const p = decode(DHCLIENT_SOLICIT);
    assert.equal(p.relay, false);
    if (p.relay) return;
    assert.equal(p.type, Msg6.SOLICIT);
    assert.equal(p.xid, 0xa1b2c3);
    assert.deepEqual(p.options.map((o) => o.code), [Opt6.CLIENTID, Opt6.ORO, Opt6.ELAPSED_TIME, Opt6.IA_NA]);
    assert.deepEqual(decodeIaNa(p.options[3]!.data), { iaid: 0x00770010, t1: 3600, t2: 5400, addresses: [] });
    assert.equal(toHex(encode(p)), toHex(DHCLIENT_SOLICIT));
  });

  it('recovers the MAC from DUID-LLT and DUID-LL, and from option 79 of the nearest relay', () => {
    assert.equal(macFromDuid(hex('0001 0001 2c3d4e5f 525400770010')), '52:54:00:77:00:10');
    assert.equal(macFromDuid(hex('0003 0001 525400770011')), '52:54:00:77:00:11');
    assert.equal(macFromDuid(hex('0004 00112233445566778899aabbccddeeff')), null, 'DUID-UUID has no MAC');
    assert.equal(macFromDuid(hex('0003 0006 525400770011')), null, 'not Ethernet');
    const relayed = decode(encode({
      relay: true, type: Msg6.RELAY_FORW, hopCount: 0, linkAddress: 'fd77:1::1', peerAddress: 'fe80::1',
      options: [{ code: Opt6.CLIENT_LINKLAYER_ADDR, data: hex('0001 525400770012') }],
      message: { relay: false, type: Msg6.SOLICIT, xid: 1, options: [{ code: Opt6.CLIENTID, data: hex('0004 00112233445566778899aabbccddeeff') }] },
    }));
    const { message, relays } = unwrap(relayed);
    assert.equal(message.type, Msg6.SOLICIT);
    assert.equal(clientMac6(message.options[0]!.data, relays), '52:54:00:77:00:12');
  });

  it('recovers the MAC of a DUID-UUID client (iPXE) from its EUI-64 link-local address, and from nothing else', () => {
    const uuid = hex('0004 00112233445566778899aabbccddeeff');
    assert.equal(macFromLinkLocal('fe80::5054:ff:fe77:11'), '52:54:00:77:00:11');
    assert.equal(macFromLinkLocal('fe80::200:ff:fe00:1'), '00:00:00:00:00:01', 'the universal/local bit flipped back');
    assert.equal(macFromLinkLocal('fe80::1'), null, 'no ff:fe in the middle');
    assert.equal(macFromLinkLocal('fd77::5054:ff:fe77:11'), null, 'not link-local');
    assert.equal(macFromLinkLocal('fe80:0:0:1:5054:ff:fe77:11'), null, 'not fe80::/64');
    assert.equal(macFromLinkLocal('nonsense'), null);
    assert.equal(clientMac6(uuid, [], 'fe80::5054:ff:fe77:11'), '52:54:00:77:00:11');
    assert.equal(clientMac6(uuid, [], 'fe80::a1b2:c3d4:e5f6:789'), null, 'a stable-privacy interface id names no MAC');
    // The DUID comes first; relayed, the nearest relay's peer-address is the client's address.
    assert.equal(clientMac6(hex('0003 0001 525400770010'), [], 'fe80::5054:ff:fe77:11'), '52:54:00:77:00:10');
    const relay = { relay: true as const, type: Msg6.RELAY_FORW, hopCount: 0, linkAddress: 'fd77:1::1', peerAddress: 'fe80::5054:ff:fe77:12', options: [], message: { relay: false as const, type: Msg6.SOLICIT, xid: 1, options: [] } };
    assert.equal(clientMac6(uuid, [relay], 'fd77:1::1'), '52:54:00:77:00:12');
  });

  it('round-trips nested relay messages and IA_NA with addresses and status', () => {
    const ia = encodeIaNa({ iaid: 7, t1: 1800, t2: 2880, addresses: [{ address: 'fd77::10', preferred: 3600, valid: 3600 }, { address: 'fd77::99', preferred: 0, valid: 0, status: { code: 2, message: 'x' } }] });
    const inner: Dhcp6Packet = { relay: false, type: Msg6.REPLY, xid: 0xffffff, options: [ia] };
    const p: Dhcp6Packet = {
      relay: true, type: Msg6.RELAY_REPL, hopCount: 1, linkAddress: '::', peerAddress: 'fd77:2::5', options: [{ code: Opt6.INTERFACE_ID, data: hex('657468302e3737') }],
      message: { relay: true, type: Msg6.RELAY_REPL, hopCount: 0, linkAddress: 'fd77:1::1', peerAddress: 'fe80::5054:ff:fe77:10', options: [], message: inner },
    };
    assert.deepEqual(decode(encode(p)), p);
    assert.deepEqual(decodeIaNa(ia.data).addresses[1], { address: 'fd77::99', preferred: 0, valid: 0, status: { code: 2, message: 'x' } });
  });

  it('domain lists: encode, decode, and refuse compression or a missing root label', () => {
    const o = encodeDomainList(Opt6.DOMAIN_LIST, ['lab.test', 'x.y']);
    assert.deepEqual(decodeDomainList(o.code, o.data), ['lab.test', 'x.y']);
    assert.equal(codeOf(() => decodeDomainList(24, hex('03616263'))), Dhcp6ErrorCodes.OPTION_VALUE);
    assert.equal(codeOf(() => decodeDomainList(24, hex('c00c'))), Dhcp6ErrorCodes.OPTION_VALUE);
  });

  it('refuses truncated and malformed messages with the codec\'s own codes', () => {
    assert.equal(codeOf(() => decode(hex('01a1b2'))), Dhcp6ErrorCodes.SHORT);
    // Cut anywhere but between two options: the option being read is truncated.
    const boundaries = new Set([22, 32, 38]);
    for (let n = 5; n < DHCLIENT_SOLICIT.length; n++) {
      const cut = DHCLIENT_SOLICIT.subarray(0, n);
      assert.equal(codeOf(() => decode(cut)), boundaries.has(n) ? undefined : Dhcp6ErrorCodes.OPTION_TRUNCATED, `cut at ${n}`);
    }
    assert.equal(codeOf(() => decode(hex('0c00' + '00'.repeat(20)))), Dhcp6ErrorCodes.SHORT, 'relay header');
    assert.equal(codeOf(() => decode(hex('0c00' + '00'.repeat(32)))), Dhcp6ErrorCodes.OPTION_VALUE, 'relay without a message');
    assert.equal(codeOf(() => decode(hex('01000001 0001 0000'))), Dhcp6ErrorCodes.OPTION_LENGTH, 'empty DUID');
    assert.equal(codeOf(() => decode(hex('01000001 0003 0004 00000001'))), Dhcp6ErrorCodes.OPTION_LENGTH, 'short IA_NA');
    assert.equal(codeOf(() => decode(hex('01000001 000e 0001 00'))), Dhcp6ErrorCodes.OPTION_LENGTH, 'rapid commit with data');
    assert.equal(codeOf(() => decode(hex('01000001 0006 0003 000100'))), Dhcp6ErrorCodes.OPTION_LENGTH, 'odd ORO');
    // Relays nested beyond the hop limit.
    let deep: Uint8Array = hex('01000001');
    for (let i = 0; i < 12; i++) deep = Uint8Array.from([12, i, ...new Uint8Array(32), 0, 9, deep.length >> 8, deep.length & 255, ...deep]);
    assert.equal(codeOf(() => decode(deep)), Dhcp6ErrorCodes.TOO_DEEP);
  });

  it('any bytes either decode (and re-encode to bytes that decode the same) or raise Dhcp6CodecError', () => {
    const mutate = fc.tuple(fc.nat(DHCLIENT_SOLICIT.length - 1), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.array(mutate, { maxLength: 6 }).map((ms) => {
        const b = DHCLIENT_SOLICIT.slice();
        for (const [i, v] of ms) b[i] = v;
        return b;
      }), fc.uint8Array({ maxLength: 200 }).map((tail) => Uint8Array.from([12, 0, ...new Uint8Array(32), ...tail]))), (bytes) => {
        let p: Dhcp6Packet;
        try {
          p = decode(bytes);
        } catch (err) {
          assert.ok(err instanceof Dhcp6CodecError, String(err));
          return;
        }
        assert.deepEqual(decode(encode(p)), p);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('IPv6 helpers', () => {
  it('canonical text form (RFC 5952), no zones nor dotted forms', () => {
    assert.equal(canonicalIpv6('FD77:0:0:0:0:0:0:10'), 'fd77::10');
    assert.equal(canonicalIpv6('fd77:0:0:1:0:0:0:1'), 'fd77:0:0:1::1');
    assert.equal(canonicalIpv6('::'), '::');
    assert.equal(canonicalIpv6('1:0:2:0:3:0:4:0'), '1:0:2:0:3:0:4:0');
    assert.equal(canonicalIpv6('fe80::1%eth0'), null);
    assert.equal(canonicalIpv6('::ffff:10.77.0.1'), null);
    assert.equal(ipv6ToBytes('10.77.0.1'), null);
  });

  it('prefixes: network address required, containment', () => {
    const p = parsePrefix6('fd77:0::/64')!;
    assert.equal(p.text, 'fd77::/64');
    assert.ok(prefixContains(p, ipv6ToBigInt('fd77::ffff:1')!));
    assert.ok(!prefixContains(p, ipv6ToBigInt('fd77:0:0:1::1')!));
    assert.equal(parsePrefix6('fd77::1/64'), null);
    assert.equal(parsePrefix6('fd77::/129'), null);
  });

  it('the server DUID is a DUID-UUID fixed by its seed', () => {
    assert.deepEqual(serverDuid('a'), serverDuid('a'));
    assert.notDeepEqual(serverDuid('a'), serverDuid('b'));
    assert.equal(toHex(serverDuid('a')).slice(0, 4), '0004');
  });
});
