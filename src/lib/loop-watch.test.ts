import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AWAKE_TICK_MS, DORMANT_TICK_MS, QUIET_TICKS, initialPace, nextPace, stallOf, type PaceState } from './loop-watch.js';

const quiet = (tickMs: number) => ({ elapsedMs: tickMs, queuedMs: 0, activeMs: 0.05 });

test('a tick late by 80 ms of which 30 waiting for a CPU: delay 80, own stall 50', () => {
  assert.deepEqual(stallOf({ elapsedMs: 85, queuedMs: 30, activeMs: 85 }, AWAKE_TICK_MS), { delayMs: 80, ownMs: 50 });
  assert.deepEqual(stallOf({ elapsedMs: 125, queuedMs: 0, activeMs: 100 }, DORMANT_TICK_MS), { delayMs: 100, ownMs: 100 });
});

test('the timer slows down after QUIET_TICKS quiet ticks in a row, not before', () => {
  let s: PaceState = initialPace();
  for (let i = 1; i < QUIET_TICKS; i++) {
    s = nextPace(s, quiet(AWAKE_TICK_MS));
    assert.equal(s.tickMs, AWAKE_TICK_MS, `after ${i} quiet ticks`);
  }
  s = nextPace(s, quiet(AWAKE_TICK_MS));
  assert.equal(s.tickMs, DORMANT_TICK_MS);
  assert.equal(nextPace(s, quiet(DORMANT_TICK_MS)).tickMs, DORMANT_TICK_MS, 'stays slow while quiet');
});

test('one busy tick restarts the count; work found by a slow tick makes it fast at once', () => {
  let s: PaceState = initialPace();
  for (let i = 0; i < QUIET_TICKS - 1; i++) s = nextPace(s, quiet(AWAKE_TICK_MS));
  s = nextPace(s, { elapsedMs: 5, queuedMs: 0, activeMs: 2 });
  assert.deepEqual(s, { tickMs: AWAKE_TICK_MS, quietTicks: 0 });
  const slow: PaceState = { tickMs: DORMANT_TICK_MS, quietTicks: 0 };
  assert.equal(nextPace(slow, { elapsedMs: 25, queuedMs: 0, activeMs: 1 }).tickMs, AWAKE_TICK_MS);
});

test("time the thread spent waiting for a CPU is not work: a descheduled timer callback is still quiet", () => {
  const s = nextPace(initialPace(), { elapsedMs: 9, queuedMs: 4, activeMs: 4.2 });
  assert.equal(s.quietTicks, 1);
});
