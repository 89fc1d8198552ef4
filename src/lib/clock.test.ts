import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from './clock.js';

describe('FakeClock', () => {
  it('fires timers in time order, including those scheduled while advancing', () => {
    const c = new FakeClock(0);
    const seen: string[] = [];
    c.schedule(30, () => seen.push(`b@${c.now()}`));
    c.schedule(10, () => {
      seen.push(`a@${c.now()}`);
      c.schedule(5, () => seen.push(`a2@${c.now()}`));
    });
    const t = c.schedule(20, () => seen.push('cancelled'));
    t.cancel();
    c.advance(100);
    assert.deepEqual(seen, ['a@10', 'a2@15', 'b@30']);
    assert.equal(c.now(), 100);
    assert.equal(c.pending, 0);
  });

  it('keeps timers beyond the horizon', () => {
    const c = new FakeClock(0);
    let fired = false;
    c.schedule(50, () => (fired = true));
    c.advance(49);
    assert.equal(fired, false);
    c.advance(1);
    assert.equal(fired, true);
  });
});
