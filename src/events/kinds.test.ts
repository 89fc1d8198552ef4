import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EVENT_KINDS, RECORD_KINDS, familyOf, isEventKind, newEvent, readEvent, retentionOf } from './kinds.js';

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

test('retention: the per-packet boot trace is pruned by count, decisions and changes are records kept for maxAge', () => {
  const families = (r: 'trace' | 'record') => [...new Set(EVENT_KINDS.filter((k) => retentionOf(k) === r).map(familyOf))].sort();
  assert.deepEqual(families('trace'), ['dhcp', 'dns', 'http', 'p2v', 'tftp', 'trace']);
  assert.deepEqual(families('record'), ['boot', 'ha', 'host', 'hypervisor', 'install', 'p2v']);
  assert.deepEqual([...RECORD_KINDS].sort(), EVENT_KINDS.filter((k) => retentionOf(k) === 'record').sort());
  for (const k of ['ha.action', 'ha.transition', 'ha.done', 'boot.set', 'boot.removed', 'host.created', 'install.done', 'p2v.job', 'hypervisor.down']) assert.ok(RECORD_KINDS.includes(k as never), k);
  // What an unauthenticated LAN host provokes is trace: a refused capture call too (the P2V job is a record).
  assert.equal(retentionOf('p2v.refused'), 'trace');
  assert.equal(retentionOf('p2v.job'), 'record');
  // The installer's callbacks as HTTP saw them are trace; the install's outcome is a record.
  assert.equal(retentionOf('http.install-done'), 'trace');
  assert.equal(retentionOf('install.done'), 'record');
  // A kind this version does not know (an old row) is no record: pruned by count.
  assert.ok(!RECORD_KINDS.includes('tftp.done' as never) && !RECORD_KINDS.includes('dhcp.type-9' as never));
});
