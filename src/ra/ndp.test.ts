import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseIpv6 } from './ipv6.js';
import { decodeRouterAdvertisement, decodeRouterSolicitation, dumpRouterAdvertisement, encodeRouterAdvertisement, NdpCodecError, NdpErrorCodes, type RouterAdvertisement } from './ndp.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof NdpCodecError, `expected NdpCodecError, got ${String(err)}`);
    return err.code;
  }
  return undefined;
}

const full: RouterAdvertisement = {
  curHopLimit: 64,
  managed: true,
  otherConfig: true,
  routerLifetime: 1800,
  reachableTime: 0,
  retransTimer: 0,
  sourceLinkLayer: Buffer.from('525400770001', 'hex'),
  mtu: 1500,
  prefixes: [{ prefix: parseIpv6('fd77::')!, length: 64, onLink: true, autonomous: true, validLifetime: 86400, preferredLifetime: 14400 }],
  rdnss: { lifetime: 1800, servers: [parseIpv6('fd77::1')!] },
};

describe('ndp codec: router advertisement', () => {
  it('encodes every field at its RFC 4861 / RFC 8106 offset (golden bytes)', () => {
    const b = encodeRouterAdvertisement(full);
    assert.equal(
      hex(b),
      [
        '86000000' + '40c0' + '0708' + '00000000' + '00000000', // type 134, code 0, checksum 0 (kernel), hop 64, M|O, 1800 s, reachable, retrans
        '0101525400770001', // source link-layer address
        '05010000000005dc', // MTU 1500
        '0304' + '40c0' + '00015180' + '00003840' + '00000000' + 'fd770000000000000000000000000000', // prefix fd77::/64 L|A 1d 4h
        '1903' + '0000' + '00000708' + 'fd770000000000000000000000000001', // RDNSS fd77::1 1800 s
      ].join(''),
    );
  });

  it('the "no IPv6 router here" advertisement is the 16-byte header and nothing else', () => {
    const b = encodeRouterAdvertisement({ curHopLimit: 64, managed: false, otherConfig: false, routerLifetime: 0, reachableTime: 0, retransTimer: 0, prefixes: [] });
    assert.equal(hex(b), '8600000040000000' + '0000000000000000');
  });

  it('round-trips, and dumps one line per field', () => {
    const back = decodeRouterAdvertisement(encodeRouterAdvertisement(full));
    assert.deepEqual(back, full);
    assert.equal(
      dumpRouterAdvertisement(back),
      ['hop-limit 64 flags MO router-lifetime 1800s reachable 0ms retrans 0ms', 'source-link-layer 52:54:00:77:00:01', 'mtu 1500', 'prefix fd77::/64 LA valid 86400s preferred 14400s', 'rdnss fd77::1 lifetime 1800s'].join('\n'),
    );
  });

  it('refuses what cannot be encoded', () => {
    assert.equal(codeOf(() => encodeRouterAdvertisement({ ...full, routerLifetime: 70000 })), NdpErrorCodes.ENCODE);
    assert.equal(codeOf(() => encodeRouterAdvertisement({ ...full, prefixes: [{ ...full.prefixes[0]!, preferredLifetime: 90000 }] })), NdpErrorCodes.ENCODE);
    assert.equal(codeOf(() => encodeRouterAdvertisement({ ...full, sourceLinkLayer: Buffer.alloc(5) })), NdpErrorCodes.ENCODE);
  });
});

describe('ndp codec: router solicitation (RFC 4861 section 6.1.1)', () => {
  // rdisc6's solicitation: type 133, code 0, reserved, source link-layer option.
  const rs = Buffer.from('85000000000000000101525400770010', 'hex');

  it('reads the source link-layer address', () => {
    assert.equal(hex(decodeRouterSolicitation(rs).sourceLinkLayer!), '525400770010');
    assert.deepEqual(decodeRouterSolicitation(rs.subarray(0, 8)), {});
  });

  it('ignores unknown options', () => {
    assert.deepEqual(decodeRouterSolicitation(Buffer.from('8500000000000000' + 'fe01000000000000', 'hex')), {});
  });

  it('drops what the RFC says to drop', () => {
    assert.equal(codeOf(() => decodeRouterSolicitation(rs.subarray(0, 7))), NdpErrorCodes.SHORT);
    assert.equal(codeOf(() => decodeRouterSolicitation(Buffer.from('8501000000000000', 'hex'))), NdpErrorCodes.BAD_TYPE, 'code 1');
    assert.equal(codeOf(() => decodeRouterSolicitation(Buffer.from('8600000000000000', 'hex'))), NdpErrorCodes.BAD_TYPE, 'an advertisement');
    assert.equal(codeOf(() => decodeRouterSolicitation(Buffer.from('85000000000000000100525400770010', 'hex'))), NdpErrorCodes.OPTION_LENGTH, 'length 0');
    assert.equal(codeOf(() => decodeRouterSolicitation(Buffer.from('850000000000000001025254007700', 'hex'))), NdpErrorCodes.OPTION_LENGTH, 'past the end');
    assert.equal(codeOf(() => decodeRouterSolicitation(Buffer.from('850000000000000001', 'hex'))), NdpErrorCodes.OPTION_LENGTH, 'half a header');
    assert.equal(codeOf(() => decodeRouterSolicitation(rs, true)), NdpErrorCodes.INVALID, 'link-layer option from ::');
  });

  it('any bytes either decode or raise NdpCodecError (both decoders)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.boolean(), (bytes, unspecified) => {
        for (const b of [bytes, Uint8Array.from([133, 0, ...bytes]), Uint8Array.from([134, 0, ...bytes])]) {
          codeOf(() => decodeRouterSolicitation(b, unspecified));
          codeOf(() => decodeRouterAdvertisement(b));
        }
      }),
      { numRuns: 3000 },
    );
  });
});
