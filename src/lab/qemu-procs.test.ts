import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lifecycleDoubleStarts, type LifecycleEvent, type ProcSample } from './qemu-procs.js';

const ev = (at: number, host: string, vm: string | null, event: string): LifecycleEvent => ({ at, host, vm, event });
const sample = (at: number, ...present: string[]): ProcSample => ({ at, present: new Set(present) });

describe("double starts from libvirt's lifecycle events", () => {
  it('finds a start while another copy runs, however short, and none after a stop', () => {
    const events = [ev(100, 'hv1', 'vm14', 'Started'), ev(200, 'hv2', 'vm14', 'Started'), ev(201, 'hv2', 'vm14', 'Stopped'), ev(300, 'hv1', 'vm14', 'Stopped'), ev(400, 'hv2', 'vm14', 'Started')];
    // No /proc sample ever saw the 1 ms copy on hv2.
    assert.deepEqual(lifecycleDoubleStarts(events, [sample(150, 'vm14@hv1'), sample(250, 'vm14@hv1')], 0, 1000), [{ vm: 'vm14', at: 200, host: 'hv2', others: ['hv1'] }]);
    // Only within the window; a stop and a start at the same millisecond is a move, not a double.
    assert.deepEqual(lifecycleDoubleStarts(events, [], 250, 1000), []);
    assert.deepEqual(lifecycleDoubleStarts([ev(1, 'hv1', 'vm14', 'Started'), ev(5, 'hv2', 'vm14', 'Started'), ev(5, 'hv1', 'vm14', 'Stopped')], [], 0, 10), []);
    // A restart on the same host is not a double start.
    assert.deepEqual(lifecycleDoubleStarts([ev(1, 'hv1', 'vm14', 'Started'), ev(2, 'hv1', 'vm14', 'Stopped'), ev(3, 'hv1', 'vm14', 'Started')], [], 0, 10), []);
  });

  it("a host whose libvirtd died (fence, power cut) keeps its copies until /proc no longer shows them", () => {
    const events = [ev(100, 'hv1', 'vm14', 'Started'), ev(500, 'hv1', null, 'StreamEnd'), ev(900, 'hv2', 'vm14', 'Started')];
    assert.deepEqual(lifecycleDoubleStarts(events, [sample(600, 'vm14@hv1'), sample(850)], 0, 1000), []);
    // Still in /proc on hv1 when hv2 started it: a double start.
    assert.deepEqual(lifecycleDoubleStarts(events, [sample(600, 'vm14@hv1'), sample(950)], 0, 1000).map((d) => d.others), [['hv1']]);
    // No sample after the stream ended: still running as far as anyone knows.
    assert.equal(lifecycleDoubleStarts(events, [], 0, 1000).length, 1);
  });
});
