import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, parseDuration } from './duration.js';

describe('durations', () => {
  it('reads seconds and unit strings into milliseconds', () => {
    assert.equal(parseDuration(180), 180_000);
    assert.equal(parseDuration('180'), 180_000);
    assert.equal(parseDuration('3m'), 180_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('2d'), 172_800_000);
  });

  it('refuses anything else', () => {
    for (const bad of ['', 'soon', '3 m', '3mm', 'm3', '-1', '1h foo']) assert.equal(parseDuration(bad), null, bad);
    assert.equal(parseDuration(-1), null);
    assert.equal(parseDuration(Number.NaN), null);
  });

  it('formats back', () => {
    assert.equal(formatDuration(5_400_000), '1h30m');
    assert.equal(formatDuration(250), '250ms');
  });
});
