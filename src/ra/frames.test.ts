import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FrameError, FrameKind, FrameReader, frame, joinFrame, MAX_FRAME, sendFrame } from './frames.js';

const packet = (ifindex: number, hop: number, msg: number[]) => {
  const body = Buffer.alloc(21 + msg.length);
  body.writeUInt32BE(ifindex, 0);
  body[4] = hop;
  body[5] = 0xfe;
  body[6] = 0x80;
  body.set(msg, 21);
  return frame(FrameKind.PACKET, body);
};

describe('helper frames', () => {
  it('encodes commands as length | kind | body', () => {
    assert.equal(joinFrame(7).toString('hex'), '00000005' + '10' + '00000007');
    assert.equal(sendFrame(2, Buffer.alloc(16, 0xff), Buffer.from([134])).toString('hex'), '00000016' + '12' + '00000002' + 'ff'.repeat(16) + '86');
  });

  it('reads frames split anywhere across chunks', () => {
    const bytes = Buffer.concat([frame(FrameKind.READY), packet(3, 255, [133, 0, 0, 0, 0, 0, 0, 0]), frame(FrameKind.ERROR, Buffer.from('send failed'))]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const r = new FrameReader();
      const got = [...r.push(bytes.subarray(0, cut)), ...r.push(bytes.subarray(cut))];
      assert.deepEqual(got.map((f) => f.kind), ['ready', 'packet', 'error']);
      const p = got[1] as Extract<(typeof got)[number], { kind: 'packet' }>;
      assert.equal(p.ifindex, 3);
      assert.equal(p.hopLimit, 255);
      assert.equal(p.source.toString('hex'), 'fe80' + '0'.repeat(28));
      assert.equal(p.message[0], 133);
    }
  });

  it('a stream that breaks the protocol raises FrameError and stays broken', () => {
    for (const bad of [Buffer.from('00000000', 'hex'), Buffer.from([0, 1, 0x11, 0x71]), frame(0x42), frame(FrameKind.READY, Buffer.from([1])), frame(FrameKind.PACKET, Buffer.alloc(20))]) {
      const r = new FrameReader();
      assert.throws(() => r.push(bad), FrameError, bad.toString('hex'));
      assert.throws(() => r.push(frame(FrameKind.READY)), FrameError);
    }
    assert.ok(MAX_FRAME < 0x011171);
  });

  it('any bytes give frames or a FrameError, nothing else', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 6 }), (chunks) => {
        const r = new FrameReader();
        try {
          for (const c of chunks) r.push(Buffer.from(c));
        } catch (err) {
          assert.ok(err instanceof FrameError, String(err));
        }
      }),
      { numRuns: 2000 },
    );
  });
});
