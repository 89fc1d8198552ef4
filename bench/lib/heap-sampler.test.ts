import assert from 'node:assert/strict';
import { test } from 'node:test';
import { heapOf } from './heap-sampler.js';

test('heapOf reads the heap spaces and external memory of a prom-client /metrics text, in MB', () => {
  const text = [
    '# HELP threerc_nodejs_heap_size_total_bytes Process heap size from Node.js in bytes.',
    'threerc_nodejs_heap_size_total_bytes 35651584',
    'threerc_nodejs_external_memory_bytes 3040870',
    'threerc_nodejs_heap_space_size_total_bytes{space="new"} 8388608',
    'threerc_nodejs_heap_space_size_total_bytes{space="old"} 22806528',
    'threerc_nodejs_heap_space_size_total_bytes{space="new_large_object"} 0',
    'threerc_nodejs_heap_space_size_total_bytes{space="large_object"} 2875392',
  ].join('\n');
  const h = heapOf(text);
  assert.equal(h.heapTotal, 34);
  assert.equal(h.young, 8);
  assert.equal(h.old, 21.75);
  assert.equal(h.largeObjects, 2.7421875);
  assert.ok(Math.abs(h.external - 2.9) < 0.01);
  assert.ok(Number.isNaN(heapOf('').young));
});
