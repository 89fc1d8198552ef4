import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FakeClock } from '../lib/clock.js';
import { decodePacket, Op } from './packet.js';
import { MAX_BACKOFF_FACTOR, negotiate, Transfer, type Command, type TransferLimits } from './transfer.js';

const limits: TransferLimits = { maxBlksize: 1468, maxWindowsize: 64, timeoutMs: 1000, retries: 5 };

function data(cmds: Command[]): Array<[number, number]> {
  return cmds.filter((c) => c.type === 'data').map((c) => (c.type === 'data' ? [c.first, c.count] : [0, 0]));
}
function arms(cmds: Command[]): number[] {
  return cmds.flatMap((c) => (c.type === 'arm' ? [c.ms] : []));
}
function doneOf(cmds: Command[]) {
  return cmds.find((c) => c.type === 'done');
}

test('negotiate: blksize clamped, names case-insensitive, spelling echoed, unknown ignored', () => {
  const n = negotiate([['BlkSize', '9000'], ['TSIZE', '0'], ['multicast', ''], ['WindowSize', '200'], ['timeout', '3']], 12345, limits);
  assert.equal(n.blksize, 1468);
  assert.equal(n.windowsize, 64);
  assert.equal(n.timeoutMs, 3000);
  assert.deepEqual(n.oack, [['BlkSize', '1468'], ['TSIZE', '12345'], ['WindowSize', '64'], ['timeout', '3']]);
});

test('negotiate: values in range granted as asked; bad values left out', () => {
  assert.deepEqual(negotiate([['blksize', '1024'], ['windowsize', '16']], 1, limits).oack, [['blksize', '1024'], ['windowsize', '16']]);
  const bad = negotiate([['blksize', '7'], ['blksize', '1000'], ['timeout', '0'], ['timeout', '300'], ['windowsize', '0'], ['tsize', 'x'], ['blksize', '-5']], 1, limits);
  assert.equal(bad.oack, null, 'first occurrence wins, and every first occurrence is invalid');
  assert.equal(bad.blksize, 512);
  assert.equal(bad.windowsize, 1);
  assert.equal(bad.timeoutMs, 1000);
  assert.equal(negotiate([['timeout', '256']], 1, limits).oack, null);
  assert.deepEqual(negotiate([['timeout', '255']], 1, limits).oack, [['timeout', '255']]);
  assert.equal(negotiate([], 1, limits).oack, null);
  assert.equal(negotiate([['blksize', '99999999999']], 1, limits).oack, null, 'more than 10 digits is not a number we parse');
});

test('lock-step without options: DATA 1 at once, one block per ACK, short last block ends it', () => {
  const t = new Transfer(1000, negotiate([], 1000, limits), 5);
  assert.equal(t.blocks, 2);
  let c = t.start(0);
  assert.deepEqual(data(c), [[1, 1]]);
  assert.deepEqual(arms(c), [1000]);
  c = t.handle({ type: 'ack', block: 1 }, 10);
  assert.deepEqual(data(c), [[2, 1]]);
  c = t.handle({ type: 'ack', block: 2 }, 20);
  assert.equal(doneOf(c)?.type === 'done' && doneOf(c)!.type, 'done');
  assert.deepEqual(c, [{ type: 'done', outcome: 'complete', detail: '2 blocks acknowledged' }]);
  assert.deepEqual(t.handle({ type: 'ack', block: 3 }, 30), [], 'nothing after done');
});

test('a file of exactly N*blksize ends with an empty block; an empty file is one empty block', () => {
  assert.equal(new Transfer(1024, negotiate([], 1024, limits), 5).blocks, 3);
  assert.equal(new Transfer(0, negotiate([], 0, limits), 5).blocks, 1);
  const t = new Transfer(0, negotiate([], 0, limits), 5);
  assert.deepEqual(data(t.start(0)), [[1, 1]]);
  assert.equal(doneOf(t.handle({ type: 'ack', block: 1 }, 1))?.type, 'done');
});

test('OACK: wait for ACK 0, ignore other ACKs, then DATA 1', () => {
  const t = new Transfer(5000, negotiate([['tsize', '0'], ['blksize', '1468']], 5000, limits), 5);
  const c = t.start(0);
  assert.equal(c[0]!.type, 'send');
  const oack = decodePacket((c[0] as { packet: Buffer }).packet);
  assert.deepEqual(oack, { op: Op.OACK, options: [['tsize', '5000'], ['blksize', '1468']] });
  assert.deepEqual(t.handle({ type: 'ack', block: 1 }, 1), []);
  assert.deepEqual(data(t.handle({ type: 'ack', block: 0 }, 2)), [[1, 1]]);
});

test('tsize probe: error 8 after the OACK ends the transfer as option-refused', () => {
  const t = new Transfer(5000, negotiate([['tsize', '0']], 5000, limits), 5);
  t.start(0);
  assert.deepEqual(t.handle({ type: 'error', code: 8, message: 'User aborted the transfer' }, 5), [
    { type: 'done', outcome: 'option-refused', detail: 'client sent error 8: User aborted the transfer' },
  ]);
  assert.ok(t.done);
  const u = new Transfer(5000, negotiate([], 5000, limits), 5);
  u.start(0);
  assert.equal((doneOf(u.handle({ type: 'error', code: 0, message: '' }, 5)) as { outcome: string }).outcome, 'client-error');
});

test('timeouts: retransmit from the last ACKed block with back-off, then give up', () => {
  const clock = new FakeClock(0);
  const t = new Transfer(100_000, negotiate([], 100_000, limits), 3);
  t.start(clock.now());
  t.handle({ type: 'ack', block: 1 }, 5);
  const seen: number[] = [];
  const resent: Array<[number, number]> = [];
  for (let i = 0; i < 3; i++) {
    const c = t.handle({ type: 'timeout' }, 1000 * (i + 1));
    resent.push(...data(c));
    seen.push(...arms(c));
  }
  assert.deepEqual(resent, [[2, 1], [2, 1], [2, 1]]);
  assert.deepEqual(seen, [2000, 4000, 1000 * MAX_BACKOFF_FACTOR]);
  assert.equal(t.stats.retransmits, 3);
  const last = t.handle({ type: 'timeout' }, 9000);
  assert.equal((doneOf(last) as { outcome: string }).outcome, 'timeout');
  // Progress resets the back-off.
  const u = new Transfer(100_000, negotiate([], 100_000, limits), 3);
  u.start(0);
  u.handle({ type: 'timeout' }, 1000);
  assert.deepEqual(arms(u.handle({ type: 'ack', block: 1 }, 1100)), [1000]);
});

test('timeouts are spread: up to a quarter longer at random, never past the lifetime', () => {
  const draws = [0.5, 0.999, 0];
  const t = new Transfer(100_000, negotiate([], 100_000, limits), 5, 10_000, () => draws.shift() ?? 0);
  assert.deepEqual(arms(t.start(0)), [1125]);
  assert.deepEqual(arms(t.handle({ type: 'timeout' }, 1125)), [2499], 'back-off 2 s, a quarter longer at most');
  // 9.5 s in, the lifetime (10 s) caps the timer whatever the draw.
  const u = new Transfer(100_000, negotiate([], 100_000, limits), 5, 10_000, () => 0.9);
  u.start(0);
  assert.deepEqual(arms(u.handle({ type: 'ack', block: 1 }, 9500)), [500]);
});

test('OACK is retransmitted on timeout too, and the transfer is reaped without an answer', () => {
  const t = new Transfer(10, negotiate([['tsize', '0']], 10, limits), 2);
  t.start(0);
  assert.equal(t.handle({ type: 'timeout' }, 1000)[0]!.type, 'send');
  assert.equal((doneOf(t.handle({ type: 'timeout' }, 3000)) as { outcome: string }).outcome, 'timeout');
});

test('a peer that never acknowledged anything (spoofed RRQ) gets one retransmission, then the transfer ends', () => {
  for (const options of [[], [['tsize', '0']], [['blksize', '1468'], ['timeout', '255']]] as Array<Array<[string, string]>>) {
    const t = new Transfer(100_000, negotiate(options, 100_000, limits), 5);
    let packets = t.start(0).filter((c) => c.type !== 'arm').length;
    let now = 0;
    let done: Command | undefined;
    for (let i = 0; i < 10 && !done; i++) {
      now += 300_000;
      const c = t.handle({ type: 'timeout' }, now);
      packets += c.filter((x) => x.type === 'data' || x.type === 'send').length;
      done = doneOf(c);
    }
    assert.equal(packets, 2, `first packet and one retransmission to a silent peer (options ${JSON.stringify(options)})`);
    assert.equal((done as { outcome: string }).outcome, 'timeout');
    assert.match((done as { detail: string }).detail, /never acknowledged/);
  }
  // Any ACK, even one ignored, shows the peer is there: full retries with back-off from then on.
  const u = new Transfer(100_000, negotiate([['tsize', '0']], 100_000, limits), 3);
  u.start(0);
  assert.deepEqual(u.handle({ type: 'ack', block: 5 }, 10), [], 'stale ACK during the OACK phase is ignored');
  let sends = 0;
  for (let i = 1; i <= 3; i++) sends += u.handle({ type: 'timeout' }, i * 10_000).filter((c) => c.type === 'send').length;
  assert.equal(sends, 3);
  assert.equal((doneOf(u.handle({ type: 'timeout' }, 50_000)) as { outcome: string }).outcome, 'timeout');
});

test('lifetime: the client\'s timeout 255 s cannot keep a transfer beyond maxLifetimeMs; progress does not either', () => {
  const life = 600_000;
  // Idle after one ACK: the timers are capped at the end of the lifetime, and it ends there.
  const t = new Transfer(100_000, negotiate([['timeout', '255']], 100_000, { ...limits, retries: 50 }), 50, life);
  t.start(0);
  t.handle({ type: 'ack', block: 0 }, 1);
  let now = 1;
  let c = t.handle({ type: 'ack', block: 1 }, now);
  let ends = 0;
  while (!t.done) {
    const ms = arms(c)[0]!;
    assert.ok(now + ms <= life, `armed for ${now + ms}, past the end of the lifetime`);
    now += ms;
    c = t.handle({ type: 'timeout' }, now);
    ends++;
  }
  assert.equal(now, life);
  assert.equal((doneOf(c) as { outcome: string }).outcome, 'expired');
  assert.ok(ends <= 4, 'a couple of retransmissions, not an hour of them');
  // A slow client that keeps ACKing: ended at its first ACK past the lifetime.
  const u = new Transfer(512 * 100, negotiate([], 512 * 100, limits), 5, life);
  u.start(0);
  let block = 0;
  let last: Command[] = [];
  for (now = 0; !u.done; ) {
    now += 100_000;
    last = u.handle({ type: 'ack', block: ++block }, now);
  }
  assert.equal(now, life);
  assert.equal((doneOf(last) as { outcome: string }).outcome, 'expired');
  // An error from the client is still its own outcome after the lifetime.
  const v = new Transfer(10, negotiate([], 10, limits), 5, 1000);
  v.start(0);
  assert.equal((doneOf(v.handle({ type: 'error', code: 0, message: 'bye' }, 5000)) as { outcome: string }).outcome, 'client-error');
});


test('duplicate ACKs: an immediate storm causes no resend, a late one exactly one', () => {
  const t = new Transfer(100_000, negotiate([], 100_000, limits), 5);
  t.start(0);
  t.handle({ type: 'ack', block: 1 }, 10); // DATA 2 sent at t=10
  let sent = 0;
  for (let i = 0; i < 1000; i++) sent += data(t.handle({ type: 'ack', block: 1 }, 10 + i / 10)).length;
  assert.equal(sent, 0, 'duplicate ACKs right after a send are echoes: no resend');
  for (let i = 0; i < 1000; i++) sent += data(t.handle({ type: 'ack', block: 1 }, 900 + i)).length;
  assert.equal(sent, 1, 'late duplicates: one resend, never more');
  assert.deepEqual(data(t.handle({ type: 'ack', block: 2 }, 2000)), [[3, 1]]);
});

test('sorcerer\'s apprentice: a delayed DATA that got duplicated does not double every later block', () => {
  // Client side model: each DATA received is ACKed (duplicates too), as RFC 1350 clients do.
  const t = new Transfer(512 * 50, negotiate([], 512 * 50, limits), 5);
  let now = 0;
  let inflight = data(t.start(now)).map(([f]) => f);
  // DATA 1 is delayed past our timeout: we resend it, and both copies arrive.
  now += 1000;
  inflight.push(...data(t.handle({ type: 'timeout' }, now)).map(([f]) => f)); // DATA 1 twice in flight
  let packets = 0;
  while (inflight.length > 0 && !t.done) {
    const next: number[] = [];
    for (const b of inflight) {
      now += 1;
      packets++;
      next.push(...data(t.handle({ type: 'ack', block: b }, now)).map(([f]) => f));
    }
    inflight = next;
  }
  assert.ok(t.done);
  assert.ok(packets <= 50 + 2, `each block sent about once (got ${packets} for 51 blocks)`);
});

test('windowsize: a window per ACK; a short ACK restarts the window after it (RFC 7440)', () => {
  const t = new Transfer(512 * 10 + 3, negotiate([['windowsize', '4']], 0, limits), 5);
  assert.equal(t.blocks, 11);
  t.start(0);
  assert.deepEqual(data(t.handle({ type: 'ack', block: 0 }, 1)), [[1, 4]]);
  assert.deepEqual(data(t.handle({ type: 'ack', block: 4 }, 2)), [[5, 4]]);
  // Blocks 7 and 8 lost: the client ACKs 6.
  const c = t.handle({ type: 'ack', block: 6 }, 3);
  assert.deepEqual(data(c), [[7, 4]]);
  assert.equal(t.stats.retransmits, 2);
  // An ACK beyond what was sent is ignored.
  assert.deepEqual(t.handle({ type: 'ack', block: 99 }, 4), []);
  // Timeout: the window is resent from the block after the last ACK.
  assert.deepEqual(data(t.handle({ type: 'timeout' }, 1004)), [[7, 4]]);
  assert.deepEqual(data(t.handle({ type: 'ack', block: 10 }, 1005)), [[11, 1]]);
  assert.equal((doneOf(t.handle({ type: 'ack', block: 11 }, 1006)) as { outcome: string }).outcome, 'complete');
});

test('block numbers roll over 65535 -> 0; a stale ACK from before the wrap is ignored', () => {
  const blksize = 8;
  const blocks = 70_000;
  const t = new Transfer(blksize * (blocks - 1) + 3, negotiate([['blksize', '8'], ['windowsize', '7']], 0, limits), 5);
  assert.equal(t.blocks, blocks);
  t.start(0);
  let c = t.handle({ type: 'ack', block: 0 }, 0);
  let now = 0;
  let acked = 0;
  let sawWrap = false;
  while (!t.done) {
    const [first, count] = data(c)[0]!;
    assert.equal(first, acked + 1);
    acked = first + count - 1;
    if ((acked & 0xffff) < ((first - 1) & 0xffff)) sawWrap = true;
    if (acked > 65540 && acked < 65560) assert.deepEqual(t.handle({ type: 'ack', block: 65530 }, ++now), [], 'stale');
    c = t.handle({ type: 'ack', block: acked & 0xffff }, ++now);
  }
  assert.ok(sawWrap);
  assert.equal(acked, blocks);
  assert.equal((doneOf(c) as { outcome: string }).outcome, 'complete');
});

/**
 * A lossy network between the machine and a RFC 7440 receiver, on a fake clock: packets are
 * dropped, duplicated and delayed by a seeded pattern. The file always arrives exactly, or the
 * transfer gives up with "timeout"; and the sender never sends more than a bounded multiple.
 */
test('property: over a lossy, duplicating network the receiver gets the exact file', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 5000 }),
      fc.integer({ min: 1, max: 8 }),
      fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 50, maxLength: 200 }),
      (size, window, pattern) => {
        const clock = new FakeClock(0);
        const body = Buffer.alloc(size);
        for (let i = 0; i < size; i++) body[i] = (i * 7 + 3) & 0xff;
        const t = new Transfer(size, negotiate([['blksize', '64'], ['windowsize', String(window)]], size, limits), 8);
        const got: Buffer[] = [];
        let expected = 1; // receiver: next block wanted
        let received = 0;
        let finished = false;
        let p = 0;
        const fate = () => pattern[p++ % pattern.length]!; // 0: drop, 1: duplicate, else deliver
        let timer: { cancel(): void } | undefined;
        let sent = 0;
        const toClient = (block: number) => {
          const f = fate();
          const n = f === 0 ? 0 : f === 1 ? 2 : 1;
          for (let k = 0; k < n; k++) clock.schedule(1 + k, () => clientGets(block));
        };
        const toServer = (ack: number) => {
          if (fate() === 0) return;
          clock.schedule(1, () => run(t.handle({ type: 'ack', block: ack & 0xffff }, clock.now())));
        };
        const clientGets = (block: number) => {
          if (finished) return;
          if (block === expected) {
            const off = (block - 1) * 64;
            got.push(body.subarray(off, Math.min(off + 64, size)));
            expected++;
            received++;
            const last = Math.min(off + 64, size) - off < 64;
            if (last) {
              finished = true;
              toServer(block);
              return;
            }
            if (received % window === 0) toServer(block);
          } else {
            // Out of order or duplicate: ACK the last in-order block (RFC 7440 receiver).
            toServer(expected - 1);
          }
        };
        const run = (cmds: Command[]) => {
          for (const c of cmds) {
            if (c.type === 'data') for (let b = c.first; b < c.first + c.count; b++) {
              sent++;
              toClient(b);
            }
            if (c.type === 'arm') {
              timer?.cancel();
              timer = clock.schedule(c.ms, () => run(t.handle({ type: 'timeout' }, clock.now())));
            }
            if (c.type === 'done') timer?.cancel();
          }
        };
        run(t.start(0));
        run(t.handle({ type: 'ack', block: 0 }, 0));
        clock.advance(10 * 60_000);
        assert.ok(t.done, 'the transfer always ends');
        if (finished && Buffer.compare(Buffer.concat(got), body) !== 0) throw new Error('file corrupted');
        assert.ok(sent <= t.blocks * window * 20 + 100, `bounded sending: ${sent} packets for ${t.blocks} blocks`);
      },
    ),
    { numRuns: 300 },
  );
});
