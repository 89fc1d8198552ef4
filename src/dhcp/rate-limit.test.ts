import assert from 'node:assert/strict';
import { it } from 'node:test';
import { FakeClock } from '../lib/clock.js';
import { MacRateLimiter } from './rate-limit.js';

it('per-MAC rate limit: a burst of perSecond, then perSecond per second; MACs independent', () => {
  const clock = new FakeClock();
  const r = new MacRateLimiter(5);
  const burst = Array.from({ length: 8 }, () => r.allow('a', clock.now()));
  assert.deepEqual(burst, [true, true, true, true, true, false, false, false]);
  assert.equal(r.allow('b', clock.now()), true);
  clock.advance(200);
  assert.equal(r.allow('a', clock.now()), true);
  assert.equal(r.allow('a', clock.now()), false);
  clock.advance(10_000);
  assert.equal([...Array(7)].filter(() => r.allow('a', clock.now())).length, 5);
});

it('per-MAC rate limit: memory stays bounded under a flood of MACs', () => {
  const r = new MacRateLimiter(5, 1000);
  for (let i = 0; i < 10_000; i++) r.allow(`m${i}`, 0);
  assert.ok((r as unknown as { buckets: Map<string, unknown> }).buckets.size <= 1000);
});

it('per-MAC rate limit: a flood of random MACs over time is forgotten as it goes (time-based, fake clock)', () => {
  // 1000 new MACs per second for 100 s: only the last second's MACs can still matter.
  const clock = new FakeClock();
  const r = new MacRateLimiter(5);
  let most = 0;
  for (let i = 0; i < 100_000; i++) {
    if (i % 10 === 0) clock.advance(10);
    r.allow(`52:54:00:${(i >>> 16) & 0xff}:${(i >>> 8) & 0xff}:${i & 0xff}`, clock.now());
    most = Math.max(most, r.size);
  }
  assert.ok(most <= 2100, `${most} MACs remembered`);
  clock.advance(1000);
  r.allow('a', clock.now());
  assert.equal(r.size, 1, 'every idle MAC forgotten');
});

it('per-MAC rate limit: the start of a flood is told apart; a flooding MAC is never forgotten under the cap', () => {
  const clock = new FakeClock();
  const r = new MacRateLimiter(2, 30);
  const verdicts = Array.from({ length: 5 }, () => r.check('a', clock.now()));
  assert.deepEqual(verdicts, ['allow', 'allow', 'limit-start', 'limit', 'limit']);
  // 'a' keeps flooding while new MACs push the table past its cap: it keeps its (empty) bucket,
  // so over 3 s it gets the refill (2/s) and no fresh burst.
  let allowed = 0;
  for (let t = 0; t < 30; t++) {
    clock.advance(100);
    for (let i = 0; i < 20; i++) r.check(`m${t}-${i}`, clock.now());
    for (let i = 0; i < 3; i++) if (r.allow('a', clock.now())) allowed++;
    assert.ok(r.size <= 30);
  }
  assert.ok(allowed <= 6, `${allowed} packets of a flooding MAC accepted in 3 s`);
});
