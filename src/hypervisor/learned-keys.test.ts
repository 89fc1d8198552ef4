import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../lib/clock.js';
import { MemoryStore } from '../store/memory.js';
import { parseReportedHostKeys } from './known-hosts-update.js';
import { learnedKeysOf, storeHostKeySink } from './learned-keys.js';

const ED = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPFZapSbgVPaWtwPLoe9XGiRQ1Eonv2hcM/UWZkeIkLf';
const OLD = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAj4JP3i0GfU7CRnPZn/kUjbHhJD8ozajvZo2f9a9eMZ';

describe('learned host keys in the store', () => {
  it("a report replaces the host's keys, and the SSH source reads them back", async () => {
    const store = new MemoryStore();
    const clock = new FakeClock(1000);
    const sink = storeHostKeySink(store, clock);
    const source = learnedKeysOf(store, 'vm14');
    assert.equal(await source(), null);
    assert.deepEqual(await sink.learn({ name: 'vm14', ip: '10.77.0.14' }, parseReportedHostKeys(`${OLD}\n${ED}\n`).keys), { store: 'memory', replaced: 0, written: 2 });
    clock.advance(5);
    assert.deepEqual(await sink.learn({ name: 'vm14', ip: '10.77.0.14' }, parseReportedHostKeys(ED).keys), { store: 'memory', replaced: 2, written: 1 });
    const rec = await store.getHostKeys('vm14');
    assert.equal(rec?.learnedAt, 1005);
    assert.deepEqual((await source())?.map((k) => `${k.keyType} ${k.base64}`), [ED]);
    await assert.rejects(sink.learn({ name: 'vm14', ip: '10.77.0.14' }, []), RangeError);
  });
});
