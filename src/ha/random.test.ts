import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRng } from './random.js';

describe('seededRng', () => {
  it('repeats for a seed and differs across seeds', () => {
    const a = seededRng(7), b = seededRng(7), c = seededRng(8);
    const xs = Array.from({ length: 5 }, () => a.next());
    assert.deepEqual(xs, Array.from({ length: 5 }, () => b.next()));
    assert.notDeepEqual(xs, Array.from({ length: 5 }, () => c.next()));
    for (const x of xs) assert.ok(x >= 0 && x < 1);
  });
  it('samples a normal with the asked mean and sd', () => {
    const r = seededRng(42);
    const n = 20_000;
    const xs = Array.from({ length: n }, () => r.normal(80, 10));
    const mean = xs.reduce((s, x) => s + x, 0) / n;
    const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
    assert.ok(Math.abs(mean - 80) < 0.3, `mean ${mean}`);
    assert.ok(Math.abs(sd - 10) < 0.3, `sd ${sd}`);
  });
});
