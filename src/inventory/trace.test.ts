import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countingTrace, memoryTrace } from './trace.js';

describe('countingTrace', () => {
  it('counts DHCP packets and TFTP transfers and passes every event on', () => {
    const inner = memoryTrace();
    const dhcp: string[] = [];
    const tftp: string[] = [];
    const t = countingTrace(inner, { dhcp: (type, outcome) => dhcp.push(`${type}/${outcome}`), tftp: (o) => tftp.push(o) });
    t.record({ at: 1, kind: 'dhcp.discover', mac: 'm', reason: 'offered' });
    t.record({ at: 2, kind: 'dhcp.request', mac: 'm' });
    t.record({ at: 3, kind: 'tftp.transfer', mac: 'm', reason: 'complete' });
    t.record({ at: 4, kind: 'boot.set', mac: 'm', reason: 'api' });
    assert.deepEqual(dhcp, ['discover/offered', 'request/answered']);
    assert.deepEqual(tftp, ['complete']);
    assert.equal(inner.events.length, 4);
  });
});
