import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { NetasciiBlocks, netasciiSize, netasciiSizeOf, toNetascii } from './netascii.js';

/** The translation byte by byte, as RFC 1350 states it: the reference the block encoder must match. */
function reference(data: Uint8Array): Buffer {
  const out: number[] = [];
  for (const c of data) {
    if (c === 0x0a) out.push(0x0d, 0x0a);
    else if (c === 0x0d) out.push(0x0d, 0x00);
    else out.push(c);
  }
  return Buffer.from(out);
}

/** Data rich in CR and LF, so that pairs straddle block ends in every way. */
const textish = fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a.map((b) => (b < 64 ? 0x0a : b < 128 ? 0x0d : b))));

test('blocks: the concatenation is the RFC 1350 translation, for any blksize, with pairs split across blocks', () => {
  fc.assert(
    fc.property(textish, fc.integer({ min: 8, max: 600 }), fc.integer({ min: 1, max: 8 }), (data, blksize, window) => {
      const want = reference(data);
      assert.equal(netasciiSize(data), want.length);
      const src = new NetasciiBlocks(data, blksize);
      const total = Math.floor(want.length / blksize) + 1;
      const got: Buffer[] = [];
      // Windows that move forward, each sent twice (a retransmission goes back to the window's start).
      for (let first = 1; first <= total; first += window) {
        const count = Math.min(window, total - first + 1);
        const once = src.blocks(first, count);
        const again = src.blocks(first, count);
        assert.deepEqual(again, once, 'a retransmitted window is identical');
        got.push(...once);
      }
      for (let i = 0; i < got.length - 1; i++) assert.equal(got[i]!.length, blksize, 'every block but the last is full');
      assert.ok(got[got.length - 1]!.length < blksize, 'the last block is short (possibly empty)');
      assert.ok(Buffer.concat(got).equals(want));
    }),
    { numRuns: 300 },
  );
});

test('blocks: an ACK short of the window (RFC 7440) restarts inside it; a block asked for out of order is still right', () => {
  const data = Buffer.from('a\nb\rc\n\n\r\rxyz\n'.repeat(50));
  const want = reference(data);
  const at = (n: number) => want.subarray((n - 1) * 8, n * 8);
  const src = new NetasciiBlocks(data, 8);
  assert.deepEqual(src.blocks(1, 4), [1, 2, 3, 4].map(at));
  assert.deepEqual(src.blocks(3, 4), [3, 4, 5, 6].map(at), 'window restarted after block 2');
  assert.deepEqual(src.blocks(2, 1), [at(2)], 'going back past what was forgotten walks again from the start');
  assert.deepEqual(src.blocks(40, 2), [at(40), at(41)], 'jumping ahead walks to the block');
});

test('toNetascii: the whole translation (small data)', () => {
  fc.assert(fc.property(textish, (data) => assert.ok(toNetascii(data).equals(reference(data)))));
});

test('netasciiSizeOf: counted in chunks with the event loop running between them, once per buffer', async () => {
  const data = Buffer.alloc(5 * 1024 * 1024 + 3, 0x41);
  for (let i = 0; i < data.length; i += 1000) data[i] = i % 2000 === 0 ? 0x0a : 0x0d;
  let turns = 0;
  let spinning = true;
  const spin = () => {
    turns++;
    if (spinning) setImmediate(spin);
  };
  setImmediate(spin);
  const size = await netasciiSizeOf(data);
  spinning = false;
  assert.equal(size, netasciiSize(data));
  assert.equal(size, data.length + Math.ceil(data.length / 1000));
  assert.ok(turns >= 4, `the event loop turned between the chunks (${turns} turns)`);
  assert.equal(netasciiSizeOf(data), netasciiSizeOf(data), 'one count per buffer, shared');
  assert.equal(await netasciiSizeOf(Buffer.alloc(0)), 0);
});
