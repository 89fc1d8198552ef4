import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { histogram, percentile, summarize } from './stats.js';

describe('stats', () => {
  it('summarizes', () => {
    const s = summarize([4, 1, 3, 2, 5]);
    assert.deepEqual(s, { n: 5, mean: 3, sd: Math.sqrt(2.5), p50: 3, p95: 5, max: 5, min: 1 });
  });
  it('takes nearest-rank percentiles', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(xs, 50), 50);
    assert.equal(percentile(xs, 95), 95);
    assert.equal(percentile(xs, 100), 100);
  });
  it('draws a histogram whose counts add up', () => {
    const xs = [1, 2, 2, 3, 3, 3, 10];
    const lines = histogram(xs, 3, 10);
    assert.equal(lines.length, 3);
    assert.equal(lines.map((l) => Number(l.trim().split(/\s+/).at(-1))).reduce((a, b) => a + b, 0), xs.length);
    assert.match(lines[0]!, /^ +1-5 s \| #{10} 6$/);
  });
});
