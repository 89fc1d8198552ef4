/** The dashboard's pure parts: timeline bands and markers, the range parser, filters, clustering. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError } from '../../src/lib/errors.js';
import type { StoreEvent } from '../../src/store/store.js';
import { buildBands, buildTimeline, markerOf, parseInstant, parseRange, MAX_RANGE_MS } from '../../src/http/timeline.js';
import { filterFromQuery, filterToQuery, isProblem, matches } from '../../web/filter.js';
import { clusterMarkers, fmtSpan, tickLabel, ticks } from '../../web/svg.js';

const H = 3_600_000;
const T0 = Date.UTC(2026, 10, 25, 0, 0, 0);
let nextId = 1;
const ev = (at: number, kind: string, fields: Partial<StoreEvent> = {}): StoreEvent => ({ id: nextId++, at, kind, mac: null, host: null, vm: null, reason: null, data: null, ...fields });
const tr = (at: number, vm: string, from: string, to: string, reason: string, host = 'hv1') => ev(at, 'ha.transition', { vm, host, reason, data: { from, to } });

describe('buildBands', () => {
  it('cuts the range at each change, starting from the state before the first one', () => {
    const bands = buildBands(
      [{ at: T0 + 2 * H, state: 'suspect', reason: 'probe-failed' }, { at: T0 + 1 * H, state: 'running', reason: 'x' }, { at: T0 + 3 * H, state: 'rebooting', reason: 'confirmed' }],
      { from: T0, to: T0 + 4 * H, now: T0 + 10 * H, initial: { state: 'running', reason: null } },
    );
    // The change to the same state at 1h merges into the first band.
    assert.deepEqual(bands, [
      { from: T0, to: T0 + 2 * H, state: 'running', reason: null },
      { from: T0 + 2 * H, to: T0 + 3 * H, state: 'suspect', reason: 'probe-failed' },
      { from: T0 + 3 * H, to: T0 + 4 * H, state: 'rebooting', reason: 'confirmed' },
    ]);
  });

  it('applies changes before the range to its start, ignores those after it, and stops at now', () => {
    const pts = [{ at: T0 - H, state: 'quarantined', reason: 'budget' }, { at: T0 + 5 * H, state: 'running', reason: 'clear' }];
    assert.deepEqual(buildBands(pts, { from: T0, to: T0 + 4 * H, now: T0 + 2 * H, initial: null }), [{ from: T0, to: T0 + 2 * H, state: 'quarantined', reason: 'budget' }]);
  });

  it('draws nothing while the state is unknown', () => {
    assert.deepEqual(buildBands([{ at: T0 + H, state: 'up', reason: null }], { from: T0, to: T0 + 2 * H, now: T0 + 2 * H, initial: null }), [{ from: T0 + H, to: T0 + 2 * H, state: 'up', reason: null }]);
    assert.deepEqual(buildBands([], { from: T0, to: T0 + H, now: T0 + H, initial: null }), []);
  });

  it('never yields an empty or inverted band, whatever the order of the points', () => {
    for (let run = 0; run < 200; run++) {
      const pts = Array.from({ length: 8 }, (_, i) => ({ at: T0 + Math.floor(((run * 7919 + i * 104729) % 1000) / 1000 * 6 * H) - H, state: ['a', 'b', 'c'][(run + i) % 3]!, reason: null }));
      const bands = buildBands(pts, { from: T0, to: T0 + 4 * H, now: T0 + 4 * H, initial: { state: 'a', reason: null } });
      for (const b of bands) assert.ok(b.from < b.to && b.from >= T0 && b.to <= T0 + 4 * H);
      for (let i = 1; i < bands.length; i++) assert.equal(bands[i]!.from, bands[i - 1]!.to, 'contiguous');
      assert.equal(bands[0]!.from, T0);
      assert.equal(bands[bands.length - 1]!.to, T0 + 4 * H);
    }
  });
});

describe('buildTimeline', () => {
  const mac = '52:54:00:77:00:10';
  const events = [
    tr(T0 + 1 * H, 'vm10', 'running', 'suspect', 'probe-failed'),
    tr(T0 + 1 * H + 60_000, 'vm10', 'suspect', 'rebooting', 'confirmed'),
    ev(T0 + 1 * H + 60_000, 'ha.action', { vm: 'vm10', host: 'hv1', reason: 'reboot', data: { type: 'reboot', id: 'a1' } }),
    tr(T0 + 1 * H + 240_000, 'vm10', 'rebooting', 'restarting', 'reboot-timeout'),
    ev(T0 + 1 * H + 240_000, 'ha.action', { vm: 'vm10', host: 'hv1', reason: 'start', data: { type: 'start', host: 'hv2', id: 'a2' } }),
    tr(T0 + 1 * H + 300_000, 'vm10', 'restarting', 'running', 'service-up', 'hv2'),
    ev(T0 + 2 * H, 'boot.set', { mac, host: 'vm10', reason: 'api', data: { mode: 'install', profile: 'debian12', previous: 'local' } }),
    ev(T0 + 2 * H + 1000, 'dhcp.ack', { mac, host: 'vm10', data: { peer: '10.77.0.10:68' } }),
    ev(T0 + 2 * H + 2000, 'tftp.transfer', { mac, host: 'vm10', reason: 'done', data: { file: 'pxelinux.0', bytes: 42 } }),
    ev(T0 + 2 * H + 3000, 'http.kickstart', { mac, host: 'vm10', data: { status: 200 } }),
    ev(T0 + 2 * H + 4000, 'install.done', { mac, host: 'vm10', reason: 'install-done' }),
    ev(T0 + 2 * H + 4000, 'boot.set', { mac, host: 'vm10', reason: 'install-done', data: { mode: 'local', profile: 'debian12', previous: 'install' } }),
    ev(T0 + 30 * 60_000, 'hypervisor.up', { host: 'hv1', reason: 'first-pass' }),
    ev(T0 + 1 * H + 30_000, 'hypervisor.down', { host: 'hv1', reason: 'monitor' }),
    ev(T0 + 3 * H, 'dhcp.ack', { mac: '52:54:00:77:00:11', host: 'vm11' }),
    ev(T0 + 1 * H, 'ha.transition', { vm: 'vm11', host: 'hv1', reason: 'x', data: { from: 'running', to: 'suspect' } }),
  ];
  const t = buildTimeline({
    name: 'vm10', from: T0, to: T0 + 4 * H, now: T0 + 4 * H,
    events: [...events, ...events.slice(0, 3)], // duplicates (two queries) count once
    vms: [{ name: 'vm10', current: { state: 'running', reason: 'service-up' } }],
    boot: { name: 'vm10', mac, current: { mode: 'local', reason: null } },
    hypervisors: [{ name: 'hv1', current: false }, { name: 'hv2', current: true }],
  });

  it('has a lane per VM, boot entry and hypervisor, with the paper-figure bands', () => {
    assert.deepEqual(t.lanes.map((l) => l.id), ['vm:vm10', 'boot:vm10', 'hv:hv1', 'hv:hv2']);
    const vm = t.lanes[0]!.bands.map((b) => [b.state, (b.from - T0) / 60_000, (b.to - T0) / 60_000]);
    assert.deepEqual(vm, [['running', 0, 60], ['suspect', 60, 61], ['rebooting', 61, 64], ['restarting', 64, 65], ['running', 65, 240]]);
    assert.deepEqual(t.lanes[1]!.bands.map((b) => [b.state, (b.from - T0) / 1000]), [['local', 0], ['install', 7200], ['local', 7204]]);
    // hv1: unknown until its first observation, then up, then down; hv2 never changed: its current state.
    assert.deepEqual(t.lanes[2]!.bands.map((b) => [b.state, (b.from - T0) / 60_000]), [['up', 30], ['down', 60.5]]);
    assert.deepEqual(t.lanes[3]!.bands.map((b) => [b.state, b.from - T0, b.to - T0]), [['up', 0, 4 * H]]);
  });

  it('puts decisions on the VM lane and boot-trace events on the boot lane, with hover details', () => {
    const labels = t.markers.map((m) => `${m.lane} ${m.category} ${m.label}`);
    assert.deepEqual(labels, [
      'hv:hv1 hypervisor hv1 up',
      'hv:hv1 hypervisor hv1 down',
      'vm:vm10 decision reboot',
      'vm:vm10 decision restart on hv2',
      'boot:vm10 boot boot: install',
      'boot:vm10 dhcp DHCP ack',
      'boot:vm10 tftp TFTP pxelinux.0',
      'boot:vm10 http HTTP kickstart',
      'boot:vm10 install install done',
      'boot:vm10 boot boot: local',
    ]);
    const restart = t.markers.find((m) => m.label === 'restart on hv2')!;
    assert.match(restart.detail, /vm: vm10\non: hv1\naction: start/);
    assert.match(t.markers.find((m) => m.category === 'dhcp')!.detail, /peer: 10\.77\.0\.10:68/);
    // vm11's events are not on vm10's timeline.
    assert.ok(!t.markers.some((m) => m.lane.includes('vm11')));
  });

  it('keeps markers inside the range only', () => {
    const narrow = buildTimeline({ name: 'vm10', from: T0 + 2 * H, to: T0 + 2 * H + 2500, now: T0 + 4 * H, events, vms: [], boot: { name: 'vm10', mac, current: null }, hypervisors: [] });
    assert.deepEqual(narrow.markers.map((m) => m.kind), ['boot.set', 'dhcp.ack', 'tftp.transfer']);
    // The change at the range's very start is its initial state.
    assert.deepEqual(narrow.lanes[0]!.bands.map((b) => b.state), ['install']);
  });

  it('starts a boot lane with no recorded change at the entry\'s since', () => {
    const l = buildTimeline({ name: 'x', from: T0, to: T0 + H, now: T0 + H, events: [], vms: [], boot: { name: 'x', mac: 'm', current: { mode: 'install', reason: null, since: T0 + 600_000 } }, hypervisors: [] });
    assert.deepEqual(l.lanes[0]!.bands.map((b) => [b.state, b.from - T0]), [['install', 600_000]]);
  });

  it('markerOf labels every decision kind', () => {
    const a = (type: string, extra: Record<string, unknown> = {}) => markerOf(ev(T0, 'ha.action', { vm: 'v', host: 'hv1', data: { type, ...extra } }), null)!.label;
    assert.equal(a('reboot'), 'reboot');
    assert.equal(a('reset', { host: 'hv1' }), 'power cycle on hv1');
    assert.equal(a('start', { host: 'hv2' }), 'restart on hv2');
    assert.equal(a('reinstall', { host: 'hv2', how: 'start' }), 'reinstall on hv2');
    assert.equal(a('fence', { host: 'hv1' }), 'fence hv1');
    assert.equal(markerOf(ev(T0, 'ha.done', { vm: 'v', reason: 'failed', data: { action: 'reboot', detail: 'guest unreachable over ssh' } }), null)!.label, 'reboot: failed');
    assert.equal(markerOf(ev(T0, 'ha.transition', { vm: 'v', data: { from: 'a', to: 'b' } }), null), null);
    assert.equal(markerOf(ev(T0, 'http.install-done', { mac: 'm' }), { name: 'x', mac: 'm' })!.category, 'install');
  });

  it('markerOf draws kinds this version does not know (older rows) by their family, as before kinds were typed', () => {
    const boot = { name: 'x', mac: 'm' };
    const m = (kind: string, data: Record<string, unknown> | null = null) => {
      const r = markerOf(ev(T0, kind, { mac: 'm', reason: 'r', data }), boot)!;
      return `${r.lane} ${r.category} ${r.label}`;
    };
    assert.equal(m('dhcp.type-10'), 'boot:x dhcp DHCP type-10');
    assert.equal(m('dhcp6.solicit', { ip: 'fd77::10' }), 'boot:x dhcp DHCPv6 solicit');
    assert.equal(m('tftp.done', { file: 'pxelinux.0' }), 'boot:x tftp TFTP pxelinux.0');
    assert.equal(m('http.boot'), 'boot:x http HTTP boot');
    assert.equal(m('http.install-started'), 'boot:x install install started (callback)');
    assert.equal(m('boot.cleared'), 'boot:x boot boot cleared');
    assert.equal(m('legacy'), 'boot:x other legacy');
    // A known kind without a marker of its own is `other` too; another MAC's event is not drawn.
    assert.equal(m('dns.query', { name: 'x.lab', type: 1, peer: '10.77.0.10' }), 'boot:x other dns.query');
    assert.equal(markerOf(ev(T0, 'tftp.done', { mac: 'n' }), boot), null);
  });
});

describe('parseRange', () => {
  const now = T0 + 100 * H;
  it('takes epoch ms, ISO 8601, now and now-DURATION; defaults to the last 6 hours', () => {
    assert.deepEqual(parseRange({}, now), { from: now - 6 * H, to: now });
    assert.deepEqual(parseRange({ from: String(T0), to: '2026-11-25T02:00:00Z' }, now), { from: T0, to: T0 + 2 * H });
    assert.deepEqual(parseRange({ from: 'now-1d', to: 'now' }, now), { from: now - 24 * H, to: now });
    assert.deepEqual(parseRange({ from: '-90m' }, now), { from: now - 90 * 60_000, to: now });
    assert.equal(parseInstant('2026-11-25', now), T0);
  });

  it('refuses bad input with the field named', () => {
    const bad = (q: Record<string, unknown>, field: string, re: RegExp) =>
      assert.throws(() => parseRange(q, now), (e: unknown) => e instanceof InputError && e.field === field && re.test(e.message));
    bad({ from: 'yesterday' }, 'from', /not epoch milliseconds/);
    bad({ to: '12:00' }, 'to', /not epoch milliseconds/);
    bad({ from: '-90' }, 'from', /not epoch/); // a duration needs its unit here
    bad({ from: ['1', '2'] }, 'from', /given once/);
    bad({ from: String(now), to: String(now - 1) }, 'from', /must be before/);
    bad({ from: String(now - MAX_RANGE_MS - 1), to: String(now) }, 'from', /longer than 31 days/);
    bad({ from: '999999999999999', to: String(now) }, 'from', /must be before/);
    bad({ from: 'now-99999999999d' }, 'from', /not epoch/);
  });
});

describe('overview filter', () => {
  it('matches every word against some field, case-insensitively', () => {
    const fields = ['vm12', 'hv2', 'reboot-timeout', '10.77.0.12', '52:54:00:77:00:12'];
    assert.ok(matches({ text: '', state: 'all' }, fields, ['running']));
    assert.ok(matches({ text: 'VM12', state: 'all' }, fields, ['running']));
    assert.ok(matches({ text: 'hv2  reboot', state: 'all' }, fields, ['running']));
    assert.ok(matches({ text: '00:12', state: 'all' }, fields, ['running']));
    assert.ok(!matches({ text: 'hv2 vm13', state: 'all' }, fields, ['running']));
    assert.ok(matches({ text: 'x', state: 'all' }, [null, undefined, 'X'], []));
  });

  it('filters by state, or by "needs attention"', () => {
    assert.ok(matches({ text: '', state: 'quarantined' }, [], ['quarantined']));
    assert.ok(!matches({ text: '', state: 'quarantined' }, [], ['running']));
    for (const s of ['suspect', 'rebooting', 'restarting', 'reinstalling', 'waiting-for-host', 'fence-pending', 'quarantined', 'down', 'install']) assert.ok(isProblem(s), s);
    for (const s of ['running', 'up', 'local', 'disabled', 'unmonitored']) assert.ok(!isProblem(s), s);
    assert.ok(matches({ text: 'vm', state: 'problem' }, ['vm1'], ['down']));
    assert.ok(!matches({ text: 'vm', state: 'problem' }, ['vm1'], ['up']));
  });

  it('round-trips through the URL', () => {
    const spec = { text: 'hv1 reboot&x', state: 'problem' };
    assert.deepEqual(filterFromQuery(filterToQuery(spec)), spec);
    assert.equal(filterToQuery({ text: '', state: 'all' }), '');
    assert.deepEqual(filterFromQuery(''), { text: '', state: 'all' });
  });
});

describe('timeline drawing helpers', () => {
  it('ticks at round steps within the range', () => {
    const t = ticks(T0 + 1000, T0 + 6 * H, 8);
    assert.deepEqual(t.map((x) => (x - T0) / H), [1, 2, 3, 4, 5, 6]);
    assert.ok(ticks(T0, T0 + 7 * 24 * H, 8).length <= 8);
    assert.equal(tickLabel(T0 + 90 * 60_000, H), '01:30');
    assert.equal(tickLabel(T0, 3 * 24 * H), '11-25 00:00');
    assert.equal(tickLabel(T0 + 5000, 60_000), '00:00:05');
    assert.deepEqual(ticks(T0 + 1, T0 + 60_000, 8).map((x) => (x - T0) / 1000), [10, 20, 30, 40, 50, 60]);
    assert.equal(fmtSpan(3_700_000), '1h1m');
  });

  it('clusters markers that would overlap, per lane, with decisions winning', () => {
    const m = (id: number, at: number, lane: string, category: 'dhcp' | 'decision') => ({ id, at, lane, category, label: String(id), detail: '', kind: 'k' });
    const x = (at: number) => at / 1000; // 1 px per second
    const cs = clusterMarkers([m(1, 0, 'a', 'dhcp'), m(2, 5000, 'a', 'decision'), m(3, 11_000, 'a', 'dhcp'), m(4, 13_000, 'a', 'dhcp'), m(5, 1000, 'b', 'dhcp')], x, 10);
    assert.deepEqual(cs.map((c) => [c.lane, c.markers.map((k) => k.id), c.category]), [['a', [1, 2], 'decision'], ['a', [3, 4], 'dhcp'], ['b', [5], 'dhcp']]);
  });
});
