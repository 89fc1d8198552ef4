import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RequestQueue, type QueueDrop, type QueueKey } from './queue.js';

const LIMITS = { capacity: 8, maxAge: 2000, backlog: 4 };

function setup(limits = LIMITS) {
  const drops: Array<[QueueDrop, string]> = [];
  const q = new RequestQueue<string>(limits, (reason, item) => drops.push([reason, item]));
  const discover = (client: number | null, at = 0, xid = 0): QueueKey => ({ at, client, xid, discover: true, urgent: false, replaceable: true });
  const request = (client: number | null, at = 0, xid = 0): QueueKey => ({ at, client, xid, discover: false, urgent: true, replaceable: true });
  const release = (client: number | null, at = 0, xid = 0): QueueKey => ({ at, client, xid, discover: false, urgent: true, replaceable: false });
  const drain = (now = 0) => {
    const out: string[] = [];
    for (let x = q.take(now); x !== undefined; x = q.take(now)) out.push(x);
    return out;
  };
  return { q, drops, discover, request, release, drain };
}

test('queue: REQUESTs before DISCOVERs, newest first in each lane', () => {
  const { q, discover, request, drain, drops } = setup();
  q.push(discover(1), 'd1');
  q.push(request(2), 'r2');
  q.push(discover(3), 'd3');
  q.push(request(4), 'r4');
  assert.equal(q.size, 4);
  assert.deepEqual(drain(), ['r4', 'r2', 'd3', 'd1']);
  assert.equal(q.size, 0);
  assert.deepEqual(drops, []);
});

test('queue: a DISCOVER retransmitted, or followed by a REQUEST, is dropped as superseded', () => {
  const { q, discover, request, drain, drops } = setup();
  q.push(discover(1), 'd1-first');
  q.push(discover(1), 'd1-again');
  q.push(discover(2), 'd2');
  q.push(request(2), 'r2');
  assert.equal(q.size, 2);
  assert.deepEqual(drain(), ['r2', 'd1-again']);
  assert.deepEqual(drops, [['superseded', 'd1-first'], ['superseded', 'd2']]);
});

test('queue: a REQUEST is superseded by a newer packet of its client; a RELEASE never is', () => {
  const { q, request, release, discover, drain, drops } = setup();
  q.push(request(1), 'r1-old');
  q.push(request(1), 'r1-new');
  q.push(release(2), 'rel2');
  q.push(discover(2), 'd2');
  assert.deepEqual(drain(), ['rel2', 'r1-new', 'd2']);
  assert.deepEqual(drops, [['superseded', 'r1-old']]);
});

test('queue: a new xid of the client supersedes a queued DISCOVER under backlog only, never a REQUEST', () => {
  const { q, discover, request, drain, drops } = setup();
  // No backlog (4 or fewer waiting): exchanges of one chaddr side by side are all handled.
  q.push(discover(1, 0, 10), 'd1-x10');
  q.push(discover(1, 0, 11), 'd1-x11');
  q.push(request(2, 0, 20), 'r2-x20');
  q.push(request(2, 0, 21), 'r2-x21');
  assert.deepEqual(drops, []);
  // Backlog: more than 4 waiting.
  q.push(discover(3, 0, 30), 'd3-x30');
  q.push(discover(1, 0, 12), 'd1-x12');
  q.push(request(2, 0, 22), 'r2-x22');
  assert.deepEqual(drops, [['superseded', 'd1-x11']]);
  assert.deepEqual(drain(), ['r2-x22', 'r2-x21', 'r2-x20', 'd1-x12', 'd3-x30', 'd1-x10']);
});

test('queue: packets without a client key never supersede each other', () => {
  const { q, discover, drain, drops } = setup();
  q.push(discover(null), 'a');
  q.push(discover(null), 'b');
  assert.deepEqual(drain(), ['b', 'a']);
  assert.deepEqual(drops, []);
});

test('queue: a handled entry is not superseded afterwards', () => {
  const { q, discover, request, drain, drops } = setup();
  q.push(discover(1), 'd1');
  assert.deepEqual(drain(), ['d1']);
  q.push(request(1), 'r1');
  assert.deepEqual(drain(), ['r1']);
  assert.deepEqual(drops, []);
});

test('queue: entries older than maxAge (by the caller\'s clock) are dropped as stale', () => {
  const { q, discover, request, drain, drops } = setup();
  q.push(discover(1, 0), 'd1');
  q.push(request(2, 0), 'r2');
  q.push(discover(3, 1500), 'd3');
  // At 2000 nothing is older than 2000 ms yet.
  assert.equal(q.take(2000), 'r2');
  // At 2001 d1 (0) is stale, d3 (1500) is not.
  assert.deepEqual(drain(2001), ['d3']);
  assert.deepEqual(drops, [['stale', 'd1']]);
  assert.equal(q.size, 0);
});

test('queue: full, the oldest DISCOVER goes first, then the oldest REQUEST', () => {
  const { q, discover, request, drain, drops } = setup({ capacity: 3, maxAge: 2000, backlog: 2 });
  q.push(request(1), 'r1');
  q.push(discover(2), 'd2');
  q.push(discover(3), 'd3');
  q.push(request(4), 'r4');
  assert.deepEqual(drops, [['queue-full', 'd2']]);
  q.push(request(5), 'r5');
  q.push(request(6), 'r6');
  assert.deepEqual(drops, [['queue-full', 'd2'], ['queue-full', 'd3'], ['queue-full', 'r1']]);
  assert.equal(q.size, 3);
  assert.deepEqual(drain(), ['r6', 'r5', 'r4']);
});

test('queue: sustained overload stays bounded and answers the newest', () => {
  // 10 arrive per ms, 4 are taken per ms: the backlog is held at capacity, the answers are
  // the newest, and every entry is either taken or dropped exactly once.
  const { q, discover, drops } = setup({ capacity: 100, maxAge: 2000, backlog: 10 });
  let n = 0;
  const taken: number[] = [];
  for (let t = 0; t < 5000; t++) {
    for (let i = 0; i < 10; i++) q.push(discover(n, t), String(n++));
    for (let i = 0; i < 4; i++) {
      const x = q.take(t);
      if (x !== undefined) taken.push(Number(x));
      // Each one taken arrived in this very millisecond (never a backlog's old work).
      assert.equal(Math.floor(Number(x) / 10), t);
    }
    assert.ok(q.size <= 100);
  }
  assert.equal(taken.length, 4 * 5000);
  assert.equal(taken.length + drops.length + q.size, n);
  assert.ok(drops.some(([r]) => r === 'queue-full'));
});

test('queue: clear() empties both lanes without counting drops', () => {
  const { q, discover, request, drain, drops } = setup();
  q.push(discover(1), 'd1');
  q.push(request(2), 'r2');
  q.clear();
  assert.equal(q.size, 0);
  assert.deepEqual(drain(), []);
  assert.deepEqual(drops, []);
  q.push(discover(1), 'd1-again');
  assert.deepEqual(drain(), ['d1-again']);
  assert.deepEqual(drops, []);
});
