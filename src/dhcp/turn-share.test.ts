import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TurnShare } from './turn-share.js';

describe('dhcp queue: share of each turn', () => {
  const limits = { min: 16, maxMs: 20, busyMs: 5, readBurst: 32 };

  it('takes only the minimum in the first slice', () => {
    const s = new TurnShare(limits);
    const deadline = s.begin(1000, 0);
    assert.equal(deadline, 1000);
    assert.equal(s.goOn(15, 1000, deadline), true);
    assert.equal(s.goOn(16, 1000, deadline), false);
  });

  it('goes on past the minimum for as long as the loop spent elsewhere while entries waited', () => {
    const s = new TurnShare(limits);
    s.begin(1000, 0);
    s.end(1002, true);
    // 8 ms of other work (TFTP, the sockets' reads) before this slice.
    const deadline = s.begin(1010, 0);
    assert.equal(deadline, 1018);
    assert.equal(s.goOn(100, 1017.5, deadline), true);
    assert.equal(s.goOn(100, 1018, deadline), false);
    // The minimum is taken even past the deadline.
    assert.equal(s.goOn(3, 1030, deadline), true);
  });

  it('takes only the minimum after a short time elsewhere (a DHCP-only load: its own reads and replies)', () => {
    const s = new TurnShare(limits);
    s.begin(0, 0);
    s.end(1, true);
    assert.equal(s.begin(5.9, 0), 5.9);
    s.end(7, true);
    assert.equal(s.begin(12, 0), 17);
  });

  it('takes only the minimum when its own sockets delivered a full read burst meanwhile (DHCP is what keeps the loop busy)', () => {
    const s = new TurnShare(limits);
    s.begin(0, 0);
    s.end(1, true);
    assert.equal(s.begin(11, 32), 11);
    s.end(12, true);
    assert.equal(s.begin(22, 31), 32);
  });

  it('never goes on for more than maxMs', () => {
    const s = new TurnShare(limits);
    s.begin(0, 0);
    s.end(1, true);
    assert.equal(s.begin(500, 0), 520);
  });

  it('gives no share for idle time: a slice that emptied the queue earns nothing', () => {
    const s = new TurnShare(limits);
    s.begin(0, 0);
    s.end(1, false);
    assert.equal(s.begin(5000, 0), 5000);
  });

  it('a clock that goes backwards earns nothing either', () => {
    const s = new TurnShare(limits);
    s.begin(0, 0);
    s.end(100, true);
    assert.equal(s.begin(90, 0), 90);
  });
});
