import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ratio, type Figure } from './figures.js';
import { renderMarkdown, type RunRecord } from './report.js';

const drops = (ours: number[], ref: number[]): Figure => ({ bench: 'dhcp', name: 'drops', unit: '% of sent', better: 'lower', ours, ref, refName: 'dnsmasq', floor: 0.1 });

describe('bench figures: the resolution floor', () => {
  it('computes no ratio when both medians are within the floor, and the table says so', () => {
    const f = drops([0.01, 0.06, 0.02], [0, 0.005, 0]);
    assert.equal(ratio(f), undefined);
    const record: RunRecord = {
      started: 's', finished: 'f', machine: { cpu: 'x', cores: 2, ramGb: 24, kernel: 'k', node: 'v20' }, loadBefore: [0, 0, 0], loadAfter: [0, 0, 0],
      options: { rounds: 3, quick: false, only: [] }, figures: [f], skipped: [], notes: [],
    };
    const md = renderMarkdown(record);
    assert.match(md, /both <= 0\.1(0)? \(noise\)/);
    assert.match(md, /Nowhere in this run/);
  });
  it('still compares when one side is above the floor', () => {
    assert.equal(ratio(drops([2], [1])), 0.5);
    assert.equal(ratio(drops([0.05], [1])), 20);
  });
});
