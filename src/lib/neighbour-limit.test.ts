import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { neighbourTableWarning, readNeighbourLimit } from './neighbour-limit.js';

describe('neighbour table limit', () => {
  it('warns only when the inventory exceeds the limit, and names the sysctls to raise', () => {
    assert.equal(neighbourTableWarning(1024, 1024), undefined);
    assert.equal(neighbourTableWarning(10_000, undefined), undefined);
    const w = neighbourTableWarning(2000, 1024);
    assert.ok(w);
    assert.match(w, /at most 1024 addresses/);
    assert.match(w, /2000 hosts/);
    assert.match(w, /gc_thresh3=4096\b/);
    assert.match(w, /gc_thresh1=1024 .*gc_thresh2=2048 /);
  });
  it('reads the kernel value, and nothing from a missing or garbled file', () => {
    const dir = mkdtempSync(join(tmpdir(), '3rc-neigh-'));
    writeFileSync(join(dir, 'ok'), '1024\n');
    writeFileSync(join(dir, 'bad'), 'x\n');
    assert.equal(readNeighbourLimit(join(dir, 'ok')), 1024);
    assert.equal(readNeighbourLimit(join(dir, 'bad')), undefined);
    assert.equal(readNeighbourLimit(join(dir, 'missing')), undefined);
  });
});
