import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DhcpCodecError, DhcpErrorCodes } from './errors.js';
import { DhcpOptions, F, getField, ipToBytes, Opt, setField } from './options.js';
import { IPXE_NO_PXEDHCP, PxeF, userClasses } from './options-pxe.js';
import { RelayF } from './options-relay.js';
import { BOOTREQUEST, clientMac, decode, emptyPacket, encode, FLAG_BROADCAST, messageType, peekRequest, type DhcpPacket } from './packet.js';

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** A 240-byte request header (op 1, Ethernet, MAC 52:54:00:77:00:10, xid 0x01020304) + cookie. */
function header(): Uint8Array {
  const b = new Uint8Array(240);
  b.set([1, 1, 6, 0, 1, 2, 3, 4, 0, 5, 0x80, 0]);
  b.set([0x52, 0x54, 0x00, 0x77, 0x00, 0x10], 28);
  b.set([99, 130, 83, 99], 236);
  return b;
}

function withOptions(opts: number[], patch?: (b: Uint8Array) => void): Uint8Array {
  const b = new Uint8Array(240 + opts.length);
  b.set(header());
  b.set(opts, 240);
  patch?.(b);
  return b;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DhcpCodecError, `expected DhcpCodecError, got ${String(err)}`);
    return err.code;
  }
  return undefined;
}

describe('dhcp codec: ipToBytes', () => {
  it('accepts and refuses what the split/regex form did (leading zeros allowed, 0-255, four parts)', () => {
    const reference = (ip: string): number[] | null => {
      const parts = ip.split('.');
      if (parts.length !== 4) return null;
      return parts.every((p) => /^[0-9]{1,3}$/.test(p) && Number(p) <= 255) ? parts.map(Number) : null;
    };
    const mine = (ip: string): number[] | null => {
      try {
        return [...ipToBytes(ip)];
      } catch (err) {
        assert.ok(err instanceof DhcpCodecError && err.code === DhcpErrorCodes.ENCODE);
        return null;
      }
    };
    fc.assert(fc.property(fc.oneof(
      fc.string({ unit: fc.constantFrom('0', '1', '2', '5', '9', '.', 'x', ' '), maxLength: 18 }),
      fc.tuple(fc.nat(300), fc.nat(300), fc.nat(300), fc.nat(300)).map((t) => t.join('.')),
      fc.constantFrom('010.0.0.1', '1.2.3.4.', '.1.2.3', '1..2.3', '256.1.1.1', '0000.1.1.1', ''),
    ), (ip) => assert.deepEqual(mine(ip), reference(ip), JSON.stringify(ip))), { numRuns: 20_000 });
  });
});

describe('dhcp codec: decode', () => {
  it('reads the fixed header and options', () => {
    const p = decode(withOptions([53, 1, 1, 0, 0, 50, 4, 10, 77, 0, 10, 55, 3, 1, 3, 6, 255, 0, 0]));
    assert.equal(p.op, BOOTREQUEST);
    assert.equal(p.xid, 0x01020304);
    assert.equal(p.secs, 5);
    assert.equal(p.flags, FLAG_BROADCAST);
    assert.equal(clientMac(p), '52:54:00:77:00:10');
    assert.equal(messageType(p), 1);
    assert.equal(getField(p.options, F.requestedIp), '10.77.0.10');
    assert.deepEqual(getField(p.options, F.parameterList), [1, 3, 6]);
    assert.deepEqual(p.options.codes(), [53, 50, 55]);
  });

  it('checks the magic cookie', () => {
    assert.equal(codeOf(() => decode(withOptions([53, 1, 1, 255], (b) => (b[239] = 98)))), DhcpErrorCodes.BAD_COOKIE);
  });

  it('refuses short packets, bad op and bad hlen', () => {
    assert.equal(codeOf(() => decode(new Uint8Array(239))), DhcpErrorCodes.SHORT);
    assert.equal(codeOf(() => decode(withOptions([255], (b) => (b[0] = 3)))), DhcpErrorCodes.BAD_OP);
    assert.equal(codeOf(() => decode(withOptions([255], (b) => (b[2] = 17)))), DhcpErrorCodes.BAD_HLEN);
  });

  it('checks option framing', () => {
    assert.equal(codeOf(() => decode(withOptions([53]))), DhcpErrorCodes.OPTION_TRUNCATED);
    assert.equal(codeOf(() => decode(withOptions([53, 5, 1]))), DhcpErrorCodes.OPTION_TRUNCATED);
    // No END: accepted, the field boundary is unambiguous.
    assert.equal(messageType(decode(withOptions([53, 1, 3]))), 3);
  });

  it('checks the lengths of known options (RFC 2132)', () => {
    assert.equal(codeOf(() => decode(withOptions([53, 2, 1, 1, 255]))), DhcpErrorCodes.OPTION_LENGTH);
    assert.equal(codeOf(() => decode(withOptions([50, 3, 10, 77, 0, 255]))), DhcpErrorCodes.OPTION_LENGTH);
    assert.equal(codeOf(() => decode(withOptions([3, 6, 1, 2, 3, 4, 5, 6, 255]))), DhcpErrorCodes.OPTION_LENGTH);
    assert.equal(codeOf(() => decode(withOptions([93, 3, 0, 0, 7, 255]))), DhcpErrorCodes.OPTION_LENGTH);
    assert.equal(codeOf(() => decode(withOptions([57, 2, 0x01, 0x00, 255]))), DhcpErrorCodes.OPTION_VALUE); // 256 < 576
    assert.equal(codeOf(() => decode(withOptions([61, 1, 1, 255]))), DhcpErrorCodes.OPTION_LENGTH);
    assert.equal(codeOf(() => decode(withOptions([12, 0, 255]))), DhcpErrorCodes.OPTION_LENGTH);
    // Unknown options are not checked.
    assert.deepEqual(decode(withOptions([200, 0, 255])).options.get(200), new Uint8Array(0));
  });

  it('concatenates repeated options (RFC 3396)', () => {
    const p = decode(withOptions([12, 2, 0x76, 0x6d, 53, 1, 1, 12, 2, 0x31, 0x30, 255]));
    assert.equal(getField(p.options, F.hostName), 'vm10');
  });

  it('reads options overloaded into file and then sname (RFC 2131 4.1)', () => {
    const b = withOptions([52, 1, 3, 53, 1, 1, 12, 2, 0x76, 0x6d, 255]);
    b.set([12, 2, 0x31, 0x30, 255], 108); // file: second half of the host name
    b.set([15, 8, ...Buffer.from('lab.test'), 255], 44); // sname: domain
    const p = decode(b);
    assert.equal(getField(p.options, F.hostName), 'vm10');
    assert.equal(getField(p.options, F.domainName), 'lab.test');
    assert.equal(p.file, '');
    assert.equal(p.sname, '');
  });

  it('refuses a bad overload value, and overload inside an overloaded field', () => {
    assert.equal(codeOf(() => decode(withOptions([52, 1, 4, 255]))), DhcpErrorCodes.BAD_OVERLOAD);
    assert.equal(codeOf(() => decode(withOptions([52, 1, 1, 255], (b) => b.set([52, 1, 1, 255], 108)))), DhcpErrorCodes.BAD_OVERLOAD);
  });

  it('keeps sname and file as text when not overloaded', () => {
    const p = decode(withOptions([255], (b) => {
      b.set(Buffer.from('srv'), 44);
      b.set(Buffer.from('pxelinux.0'), 108);
    }));
    assert.equal(p.sname, 'srv');
    assert.equal(p.file, 'pxelinux.0');
  });

  it('decodes PXE, iPXE and relay options', () => {
    const uuid = Array.from({ length: 16 }, (_, i) => i);
    const p = decode(withOptions([
      60, 9, ...Buffer.from('PXEClient'),
      93, 2, 0, 7,
      94, 3, 1, 3, 16,
      97, 17, 0, ...uuid,
      77, 4, ...Buffer.from('iPXE'),
      175, 6, 177, 1, 1, 19, 1, 1,
      82, 6, 1, 2, 0, 1, 2, 0,
      255,
    ]));
    assert.equal(getField(p.options, PxeF.vendorClass), 'PXEClient');
    assert.deepEqual(getField(p.options, PxeF.clientArch), [7]);
    assert.deepEqual(getField(p.options, PxeF.clientNdi), { type: 1, major: 3, minor: 16 });
    assert.deepEqual(getField(p.options, PxeF.clientUuid), { type: 0, uuid: Uint8Array.from(uuid) });
    assert.deepEqual(userClasses(p.options.get(Opt.USER_CLASS)!), ['iPXE']);
    assert.deepEqual([...getField(p.options, PxeF.ipxe)!.keys()], [177, 19]);
    assert.deepEqual(getField(p.options, RelayF.agentInfo), new Map([[1, Uint8Array.of(0, 1)], [2, new Uint8Array(0)]]));
    assert.deepEqual(userClasses(Uint8Array.from([4, ...Buffer.from('iPXE'), 2, 0x61, 0x62])), ['iPXE', 'ab']);
  });

  it('decodes domain search with compression (RFC 3397) and refuses pointer loops', () => {
    // "lab.test", then "a" + pointer to offset 0.
    const v = [3, ...Buffer.from('lab'), 4, ...Buffer.from('test'), 0, 1, 0x61, 0xc0, 0x00];
    const p = decode(withOptions([119, v.length, ...v, 255]));
    assert.deepEqual(getField(p.options, F.domainSearch), ['lab.test', 'a.lab.test']);
    assert.equal(codeOf(() => decode(withOptions([119, 2, 0xc0, 0x00, 255]))), DhcpErrorCodes.OPTION_VALUE);
    assert.equal(codeOf(() => decode(withOptions([119, 4, 1, 0x61, 0xc0, 0x02, 255]))), DhcpErrorCodes.OPTION_VALUE);
  });

  it('decodes classless static routes (RFC 3442)', () => {
    const p = decode(withOptions([121, 13, 24, 10, 77, 1, 10, 77, 0, 1, 0, 10, 77, 0, 1, 255]));
    assert.deepEqual(getField(p.options, F.classlessRoutes), [
      { destination: '10.77.1.0', prefix: 24, router: '10.77.0.1' },
      { destination: '0.0.0.0', prefix: 0, router: '10.77.0.1' },
    ]);
    assert.equal(codeOf(() => decode(withOptions([121, 5, 33, 0, 0, 0, 0, 255]))), DhcpErrorCodes.OPTION_VALUE);
    assert.equal(codeOf(() => decode(withOptions([121, 6, 24, 10, 77, 1, 10, 77, 255]))), DhcpErrorCodes.OPTION_LENGTH);
  });
});

function reply(): DhcpPacket {
  const p = emptyPacket();
  p.xid = 0xdeadbeef;
  p.flags = FLAG_BROADCAST;
  p.yiaddr = '10.77.0.10';
  p.siaddr = '10.77.0.1';
  p.chaddr.set([0x52, 0x54, 0x00, 0x77, 0x00, 0x10]);
  p.file = 'pxelinux.0';
  setField(p.options, F.leaseTime, 3600);
  setField(p.options, F.serverId, '10.77.0.1');
  setField(p.options, F.messageType, 2);
  return p;
}

describe('dhcp codec: encode', () => {
  it('writes exact bytes, message type and server id first, padded to 300', () => {
    const b = encode(reply());
    assert.equal(b.length, 300);
    assert.equal(toHex(b.subarray(0, 28)), '02010600deadbeef00008000' + '00000000' + '0a4d000a' + '0a4d0001' + '00000000');
    assert.equal(toHex(b.subarray(28, 44)), '525400770010' + '00'.repeat(10));
    assert.equal(toHex(b.subarray(108, 119)), toHex(Buffer.from('pxelinux.0\0')));
    assert.equal(toHex(b.subarray(236, 256)), '63825363' + '350102' + '36040a4d0001' + '33040000' + '0e10' + 'ff');
    assert.ok(b.subarray(256).every((x) => x === 0));
  });

  it('splits options longer than 255 bytes (RFC 3396) and decodes them back whole', () => {
    const p = reply();
    const long = new Uint8Array(600).map((_, i) => i % 251);
    p.options.set(Opt.VENDOR_SPECIFIC + 100, long);
    const b = encode(p);
    assert.ok(b.length > 600 + 240);
    assert.deepEqual(decode(b).options.get(143), long);
    // 3 instances: 255 + 255 + 90.
    assert.equal(toHex(b).split('8fff').length - 1 >= 2, true);
  });

  it('refuses what does not fit', () => {
    const p = reply();
    p.file = 'x'.repeat(128);
    assert.equal(codeOf(() => encode(p)), DhcpErrorCodes.ENCODE);
    assert.equal(codeOf(() => setField(p.options, F.router, ['10.77.0.256'])), DhcpErrorCodes.ENCODE);
    assert.equal(codeOf(() => new DhcpOptions().set(255, new Uint8Array(0))), DhcpErrorCodes.ENCODE);
  });

  it('round-trips typed options', () => {
    const p = reply();
    setField(p.options, F.subnetMask, '255.255.255.0');
    setField(p.options, F.router, ['10.77.0.1']);
    setField(p.options, F.dns, ['10.77.0.1', '10.77.0.2']);
    setField(p.options, F.hostName, 'vm10');
    setField(p.options, F.domainName, 'lab.test');
    setField(p.options, F.broadcast, '10.77.0.255');
    setField(p.options, F.domainSearch, ['lab.test', 'x.test']);
    setField(p.options, F.classlessRoutes, [{ destination: '10.77.1.0', prefix: 24, router: '10.77.0.1' }]);
    setField(p.options, PxeF.ipxe, new Map([[IPXE_NO_PXEDHCP, Uint8Array.of(1)]]));
    setField(p.options, PxeF.clientArch, [0, 7]);
    const back = decode(encode(p));
    assert.deepEqual({ ...back, options: back.options.entries() }, { ...p, options: [...p.options.entries()].sort((a, b) => rankOf(a[0]) - rankOf(b[0])) });
  });
});

function rankOf(c: number): number {
  return c === 53 ? -2 : c === 54 ? -1 : 0;
}

describe('dhcp codec: properties', () => {
  // A decoder that looped on some input would hang here: the test's timeout catches that (no
  // wall-clock assertion, which a loaded machine would fail).
  it('arbitrary bytes decode or raise DhcpCodecError (never hang: the timeout would fail it)', { timeout: 120_000 }, () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 1500 }), (bytes) => {
        try {
          decode(bytes);
        } catch (err) {
          if (!(err instanceof DhcpCodecError)) throw err;
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('arbitrary option areas after a valid header decode or raise DhcpCodecError', () => {
    const interesting = fc.constantFrom(0, 255, 52, 53, 1, 3, 43, 82, 93, 97, 119, 121, 175, 12);
    const area = fc.array(fc.oneof(interesting, fc.integer({ min: 0, max: 255 })), { maxLength: 400 });
    fc.assert(
      fc.property(area, area, area, (opts, file, sname) => {
        const b = withOptions(opts, (x) => {
          x.set(file.slice(0, 128), 108);
          x.set(sname.slice(0, 64), 44);
        });
        try {
          const p = decode(b);
          // What decodes re-encodes (when it fits) and decodes to the same options.
          if (p.file.length < 128 && p.sname.length < 64) assert.deepEqual(decode(encode(p)).options.entries(), p.options.entries().sort((a, c) => rankOf(a[0]) - rankOf(c[0])));
        } catch (err) {
          if (!(err instanceof DhcpCodecError)) throw err;
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('encode then decode is the identity on generated packets', () => {
    const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
    const text = fc.string({ maxLength: 60 }).map((s) => s.replace(/[^\x01-\xff]/g, 'x'));
    const packet = fc.record({
      xid: fc.nat(0xffffffff), secs: fc.nat(0xffff), flags: fc.nat(0xffff), ciaddr: ip, yiaddr: ip, siaddr: ip, giaddr: ip,
      chaddr: fc.uint8Array({ minLength: 16, maxLength: 16 }), sname: text, file: text,
      opts: fc.array(fc.tuple(fc.integer({ min: 200, max: 254 }), fc.uint8Array({ maxLength: 300 })), { maxLength: 8 }),
    });
    fc.assert(
      fc.property(packet, (g) => {
        const { opts, ...fields } = g;
        const p: DhcpPacket = { ...emptyPacket(), ...fields, options: new DhcpOptions(opts) };
        const back = decode(encode(p));
        assert.deepEqual({ ...back, options: back.options.entries() }, { ...p, options: p.options.entries() });
      }),
      { numRuns: 500 },
    );
  });
});

describe('peekRequest (the receive queue\'s look at a datagram)', () => {
  const req = (mac: number[], type?: number) => {
    const p = emptyPacket(BOOTREQUEST);
    p.chaddr = Uint8Array.from([...mac, ...new Array<number>(10).fill(0)]);
    setField(p.options, F.hostName, 'pad-before-53');
    if (type !== undefined) setField(p.options, F.messageType, type);
    return encode(p);
  };

  it('reads chaddr as a number and option 53 past other options', () => {
    assert.deepEqual(peekRequest(req([0x52, 0x54, 0, 0x77, 0, 0x10], 3)), { client: 0x525400770010, type: 3 });
    assert.deepEqual(peekRequest(req([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 1)), { client: 0xffffffffffff, type: 1 });
    assert.deepEqual(peekRequest(req([1, 2, 3, 4, 5, 6])), { client: 0x010203040506, type: undefined });
  });

  it('has no client for a non-Ethernet chaddr, a reply or a short datagram', () => {
    const b = req([1, 2, 3, 4, 5, 6], 1);
    b[2] = 16;
    assert.equal(peekRequest(b).client, null);
    b[2] = 6;
    b[0] = 2;
    assert.deepEqual(peekRequest(b), { client: null, type: undefined });
    assert.deepEqual(peekRequest(new Uint8Array(100)), { client: null, type: undefined });
  });

  it('never throws, whatever the bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), (bytes) => {
      const b = Uint8Array.from(bytes);
      if (b.length > 0) b[0] = 1;
      const r = peekRequest(b);
      assert.ok(r.client === null || (Number.isInteger(r.client) && r.client >= 0 && r.client < 2 ** 48));
    }));
  });
});
