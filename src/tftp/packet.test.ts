import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { dataHeader, decodePacket, encodeAck, encodeData, encodeError, encodeOack, encodeRequest, Op, TftpPacketError } from './packet.js';

const hex = (b: Buffer) => b.toString('hex');

test('RRQ with options: exact bytes both ways', () => {
  const bytes = Buffer.from('0001' + Buffer.from('pxelinux.0\0octet\0tsize\x000\0blksize\x001456\0', 'latin1').toString('hex'), 'hex');
  assert.deepEqual(decodePacket(bytes), { op: Op.RRQ, filename: 'pxelinux.0', mode: 'octet', options: [['tsize', '0'], ['blksize', '1456']] });
  assert.equal(hex(encodeRequest(Op.RRQ, 'pxelinux.0', 'octet', [['tsize', '0'], ['blksize', '1456']])), hex(bytes));
});

test('WRQ, ACK, DATA, ERROR, OACK: exact bytes', () => {
  assert.deepEqual(decodePacket(Buffer.from('000261006f6374657400', 'hex')), { op: Op.WRQ, filename: 'a', mode: 'octet', options: [] });
  assert.equal(hex(encodeAck(0x1234)), '00041234');
  assert.equal(hex(encodeAck(65536 + 7)), '00040007');
  assert.deepEqual(decodePacket(Buffer.from('00041234', 'hex')), { op: Op.ACK, block: 0x1234 });
  assert.equal(hex(encodeData(1, Buffer.from('hi'))), '000300016869');
  const d = decodePacket(Buffer.from('00030002', 'hex'));
  assert.equal(d.op, Op.DATA);
  assert.equal(d.op === Op.DATA && d.data.length, 0);
  assert.equal(hex(encodeError(1, 'File not found')), '00050001' + Buffer.from('File not found\0').toString('hex'));
  assert.deepEqual(decodePacket(encodeError(8, 'tsize')), { op: Op.ERROR, code: 8, message: 'tsize' });
  assert.equal(hex(encodeOack([['blksize', '1468']])), '0006' + Buffer.from('blksize\x001468\0', 'latin1').toString('hex'));
  assert.deepEqual(decodePacket(encodeOack([['tsize', '42']])), { op: Op.OACK, options: [['tsize', '42']] });
});

test('lenient where real clients are: ACK padding, ERROR without NUL, NUL padding after options', () => {
  assert.deepEqual(decodePacket(Buffer.from('000400050000', 'hex')), { op: Op.ACK, block: 5 });
  assert.deepEqual(decodePacket(Buffer.from('000500086162', 'hex')), { op: Op.ERROR, code: 8, message: 'ab' });
  assert.deepEqual(decodePacket(Buffer.from('\0\x01f\0octet\0\0\0', 'latin1')), { op: Op.RRQ, filename: 'f', mode: 'octet', options: [] });
});

test('malformed packets raise TftpPacketError with a stable code', () => {
  const cases: Array<[string, string]> = [
    ['', 'E_TFTP_TOO_SHORT'],
    ['00', 'E_TFTP_TOO_SHORT'],
    ['0009', 'E_TFTP_BAD_OPCODE'],
    ['0000', 'E_TFTP_BAD_OPCODE'],
    ['000161', 'E_TFTP_UNTERMINATED'],
    ['00016100', 'E_TFTP_TOO_SHORT'],
    ['00016100620063', 'E_TFTP_UNTERMINATED'],
    // Trailing empty strings are padding, so "c" is left without a value.
    ['000161006200630000', 'E_TFTP_BAD_OPTIONS'],
    ['000400', 'E_TFTP_TOO_SHORT'],
    ['000300', 'E_TFTP_TOO_SHORT'],
    ['000500', 'E_TFTP_TOO_SHORT'],
  ];
  for (const [h, code] of cases) {
    assert.throws(() => decodePacket(Buffer.from(h, 'hex')), (e: unknown) => e instanceof TftpPacketError && e.code === code, h);
  }
  assert.throws(() => decodePacket(Buffer.from('00016100620063006400650000', 'hex')), (e: unknown) => e instanceof TftpPacketError && e.code === 'E_TFTP_BAD_OPTIONS');
  assert.throws(() => decodePacket(Buffer.alloc(4 + 65465, 0).fill(3, 1, 2)), (e: unknown) => e instanceof TftpPacketError && e.code === 'E_TFTP_TOO_LONG');
});

test('dataHeader is the DATA header of a block, modulo 65536', () => {
  assert.equal(hex(dataHeader(1)), '00030001');
  assert.equal(hex(dataHeader(65535)), '0003ffff');
  assert.equal(hex(dataHeader(65536)), '00030000');
  assert.equal(hex(dataHeader(65537)), '00030001');
});

// Bounded by the test timeout, never by asserting a duration.
test('property: any bytes decode or raise TftpPacketError, in bounded time', { timeout: 60_000 }, () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
      try {
        decodePacket(Buffer.from(bytes));
      } catch (e) {
        if (!(e instanceof TftpPacketError)) throw e;
      }
    }),
    { numRuns: 5000 },
  );
  // Biased toward valid opcodes, so that every branch sees junk.
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 7 }), fc.uint8Array({ maxLength: 600 }), (op, rest) => {
      const buf = Buffer.concat([Buffer.from([0, op]), Buffer.from(rest)]);
      try {
        decodePacket(buf);
      } catch (e) {
        if (!(e instanceof TftpPacketError)) throw e;
      }
    }),
    { numRuns: 5000 },
  );
  // Maximal datagrams full of NULs or without any (the worst cases for string splitting).
  for (const op of [1, 2, 6]) {
    for (const fill of [0, 0x41]) {
      try {
        decodePacket(Buffer.concat([Buffer.from([0, op]), Buffer.alloc(65505, fill)]));
      } catch (e) {
        assert.ok(e instanceof TftpPacketError);
      }
    }
  }
});

test('property: requests, ACK, DATA, ERROR, OACK round-trip', () => {
  const str = fc.string({ unit: fc.integer({ min: 1, max: 255 }).map((c) => String.fromCharCode(c)), minLength: 0, maxLength: 40 });
  const nonEmpty = fc.string({ unit: fc.integer({ min: 1, max: 255 }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 40 });
  fc.assert(
    fc.property(str, str, fc.array(fc.tuple(nonEmpty, nonEmpty), { maxLength: 6 }), (name, mode, options) => {
      assert.deepEqual(decodePacket(encodeRequest(Op.RRQ, name, mode, options)), { op: Op.RRQ, filename: name, mode, options });
      assert.deepEqual(decodePacket(encodeOack(options)), { op: Op.OACK, options });
    }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 65535 }), fc.uint8Array({ maxLength: 1468 }), str, (block, data, msg) => {
      assert.deepEqual(decodePacket(encodeAck(block)), { op: Op.ACK, block });
      const d = decodePacket(encodeData(block, data));
      assert.ok(d.op === Op.DATA && d.block === block && Buffer.compare(d.data, Buffer.from(data)) === 0);
      assert.deepEqual(decodePacket(encodeError(block, msg)), { op: Op.ERROR, code: block, message: msg });
    }),
  );
});
