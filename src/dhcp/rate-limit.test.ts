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
