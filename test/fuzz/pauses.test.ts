import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attribute, pausesIn, stallsIn } from './pauses.js';

describe('fuzz: a stall within the machine\'s own pauses is the machine\'s', () => {
  it('reads 3rc\'s stall reports and the probe\'s lines', () => {
    const lines = [
      '{"level":40,"time":"2026-12-07T10:00:00.100Z","ownMs":98.2,"delayMs":99.9,"runQueueMs":1.7,"msg":"event loop stalled"}',
      '{"level":30,"time":"2026-12-07T10:00:00.200Z","msg":"tftp: transfer complete"}',
      'not json "event loop stalled"',
    ];
    assert.deepEqual(stallsIn(lines), [{ end: Date.parse('2026-12-07T10:00:00.100Z'), delayMs: 99.9, ownMs: 98.2 }]);
    assert.deepEqual(pausesIn('1765101600095 100.5\n\nbroken\n1765101601000 21.0\n'), [{ end: 1765101600095, ms: 100.5 }, { end: 1765101601000, ms: 21 }]);
  });

  it('takes the overlap with a pause out of the stall, and keeps what is left', () => {
    const stall = { end: 10_100, delayMs: 100, ownMs: 98 };
    // The machine stopped from 10,003 to 10,098: covered.
    assert.deepEqual(attribute([stall], [{ end: 10_098, ms: 95 }], 50), { stalls: 1, covered: 1, ownMaxMs: 0, machineMaxMs: 95 });
    // Only 30 ms of it: 68 ms are 3rc's own.
    const half = attribute([stall], [{ end: 10_040, ms: 30 }], 50, 0);
    assert.equal(half.covered, 0);
    assert.equal(half.ownMaxMs, 68);
    // A pause a second earlier explains nothing.
    assert.equal(attribute([stall], [{ end: 9_000, ms: 100 }], 50).ownMaxMs, 98);
    assert.deepEqual(attribute([], [], 50), { stalls: 0, covered: 0, ownMaxMs: 0, machineMaxMs: 0 });
  });
});
