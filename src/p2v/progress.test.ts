import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBytes, formatEta, TransferProgress } from './progress.js';

const MiB = 1024 * 1024;

describe('p2v transfer progress', () => {
  it('has no rate until two samples 1 s apart, then rate and ETA', () => {
    const p = new TransferProgress(100 * MiB, 1_000);
    assert.deepEqual(p.view(1_000), { bytes: 0, totalBytes: 100 * MiB, percent: 0, rateBytesPerSec: null, etaSeconds: null });
    p.add(MiB, 1_500);
    assert.equal(p.view(1_500).rateBytesPerSec, null, 'only 0.5 s of samples');
    p.add(MiB, 3_000);
    const v = p.view(3_000);
    assert.equal(v.bytes, 2 * MiB);
    assert.equal(v.percent, 2);
    assert.equal(v.rateBytesPerSec, MiB); // 2 MiB over 2 s
    assert.equal(v.etaSeconds, 98);
  });

  it('rates over the last 30 s only, and forgets a stall older than that', () => {
    const p = new TransferProgress(1000 * MiB, 0);
    // 10 MiB/s for 60 s, one add per 100 ms.
    for (let t = 100; t <= 60_000; t += 100) p.add(MiB, t);
    // then 1 MiB/s for 30 s
    for (let t = 61_000; t <= 90_000; t += 1000) p.add(MiB, t);
    const v = p.view(90_000);
    assert.ok(Math.abs(v.rateBytesPerSec! - MiB) < 0.05 * MiB, `rate ${v.rateBytesPerSec}`);
    assert.equal(v.bytes, 630 * MiB);
    assert.ok(Math.abs(v.etaSeconds! - 370) <= 20, `eta ${v.etaSeconds}`);
    // Nothing for more than 30 s: no rate, no ETA.
    const stalled = p.view(121_000);
    assert.equal(stalled.rateBytesPerSec, null);
    assert.equal(stalled.etaSeconds, null);
    // One add after the stall: a single sample in the window, still no rate.
    p.add(MiB, 122_000);
    assert.equal(p.view(122_000).rateBytesPerSec, null);
  });

  it('keeps few samples however often add() is called', () => {
    const p = new TransferProgress(1e12, 0);
    for (let t = 0; t <= 60_000; t += 1) p.add(64 * 1024, t);
    const samples = (p as unknown as { samples: unknown[] }).samples.length;
    assert.ok(samples <= 2 * (30_000 / 500) + 4, `${samples} samples kept`);
    assert.ok(Math.abs(p.view(60_000).rateBytesPerSec! - 64 * 1024 * 1000) < 64 * 1024 * 10);
  });

  it('has a null ETA for a zero rate, and caps percent at 100', () => {
    const p = new TransferProgress(10, 0);
    p.add(0, 2_000);
    assert.equal(p.view(2_000).rateBytesPerSec, 0);
    assert.equal(p.view(2_000).etaSeconds, null);
    p.add(10, 4_000);
    assert.equal(p.view(4_000).percent, 100);
    assert.equal(p.view(4_000).etaSeconds, 0);
    const almost = new TransferProgress(1000, 0);
    almost.add(999, 1);
    assert.equal(almost.view(1).percent, 99.9, 'not 100 before the last byte');
  });

  it('formats bytes and ETAs', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1024), '1.0 KiB');
    assert.equal(formatBytes(12 * MiB), '12.0 MiB');
    assert.equal(formatBytes(1.5 * 1024 * MiB), '1.5 GiB');
    assert.equal(formatBytes(MiB - 1), '1.0 MiB');
    assert.equal(formatBytes(3 * 1024 ** 4), '3.0 TiB');
    assert.equal(formatEta(null), '?');
    assert.equal(formatEta(42), '42s');
    assert.equal(formatEta(0), '0s');
    assert.equal(formatEta(185), '3m05s');
    assert.equal(formatEta(59.7), '1m00s');
    assert.equal(formatEta(3720), '1h02m');
    assert.equal(formatEta(100 * 3600), '100h00m');
  });
});
