import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EVENT_KINDS, familyOf, isEventKind, newEvent, readEvent } from './kinds.js';

test('stored rows read as typed events; a kind this version does not know (an old or newer row) reads as other, data kept', () => {
  const row = { id: 7, at: 1, kind: 'dhcp.discover', mac: '52:54:00:77:00:10', host: 'vm10', vm: null, reason: 'offer-reservation', data: { boot: 'local', arch: 0 } };
  const e = readEvent(row);
  assert.ok(!('other' in e));
  assert.equal(e.kind, 'dhcp.discover');
  const old = readEvent({ at: 2, kind: 'tftp.done', data: { file: 'pxelinux.0' } });
  assert.ok('other' in old);
  assert.deepEqual(old.data, { file: 'pxelinux.0' });
  assert.deepEqual(readEvent({ at: 3, kind: 'legacy' }).data, null);
});

test('every kind has a family; the JSON shape of a new event is the stored one', () => {
  for (const k of EVENT_KINDS) assert.ok(isEventKind(k) && familyOf(k).length > 0 && k.startsWith(`${familyOf(k)}.`), k);
  assert.equal(isEventKind('toString'), false);
  const e = newEvent('tftp.transfer', { at: 1, mac: null, host: null, reason: 'complete' }, { file: 'f', mac: null, peer: '10.77.0.10:2000', outcome: 'complete' });
  assert.deepEqual(JSON.parse(JSON.stringify(e)), { at: 1, mac: null, host: null, reason: 'complete', kind: 'tftp.transfer', data: { file: 'f', mac: null, peer: '10.77.0.10:2000', outcome: 'complete' } });
});
