import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { initialState, step, type FsmEvent, type FsmRules, type Phase, type VmFsmState } from './fsm.js';
import { defaultRules, paperRules } from './rules.js';

const NOW = 1_000_000;
const D = defaultRules();
const P = paperRules();

function st(over: Partial<VmFsmState> = {}): VmFsmState {
  return { ...initialState('vm10', 'hv1', { reinstall: true, now: 0 }), seq: 5, ...over };
}
const down = { type: 'observe', vmUp: false, hostUp: true, power: 'on' } as const;
const up = { type: 'observe', vmUp: true, hostUp: true, power: 'on' } as const;
const pending = (kind: NonNullable<VmFsmState['pending']>['kind']) => ({ id: 'vm10#5', kind });
const timer = (kind: NonNullable<VmFsmState['timer']>['kind']) => ({ id: 'vm10#5', kind, at: NOW });

interface Row {
  name: string;
  rules: FsmRules;
  from: Partial<VmFsmState>;
  event: FsmEvent;
  to: Phase;
  reason: string | null; // reason of the last transition; null = no transition
  commands: string[]; // command types, in order
  check?: (s: VmFsmState) => void;
}

const rows: Row[] = [
  // running
  { name: 'running + up: nothing', rules: D, from: {}, event: up, to: 'running', reason: null, commands: [] },
  { name: 'running + down: suspect, confirm timer', rules: D, from: {}, event: down, to: 'suspect', reason: 'probe-failed', commands: ['arm-timer'] },
  { name: 'paper: running + down: reboot at once', rules: P, from: {}, event: down, to: 'rebooting', reason: 'monitor-down', commands: ['reboot', 'arm-timer'] },
  { name: 'paper: hypervisor down still tries the reboot', rules: P, from: {}, event: { ...down, hostUp: false, power: 'unknown' }, to: 'rebooting', reason: 'monitor-down', commands: ['reboot', 'arm-timer'] },
  // suspect
  { name: 'suspect + confirm timer: probe', rules: D, from: { phase: 'suspect', timer: timer('confirm') }, event: { type: 'timer', id: 'vm10#5' }, to: 'suspect', reason: null, commands: ['probe'] },
  { name: 'suspect + up: false alarm', rules: D, from: { phase: 'suspect', timer: timer('confirm') }, event: up, to: 'running', reason: 'probe-ok', commands: ['cancel-timer'] },
  { name: 'suspect + down: reboot rung', rules: D, from: { phase: 'suspect' }, event: down, to: 'rebooting', reason: 'confirmed-down', commands: ['reboot', 'arm-timer'], check: (s) => assert.equal(s.recoveries.length, 1) },
  { name: 'suspect + down, hypervisor down: skip reboot, place away from it', rules: D, from: { phase: 'suspect' }, event: { ...down, hostUp: false, power: 'unknown' }, to: 'restarting', reason: 'hypervisor-down', commands: ['place'] },
  { name: 'suspect + down, VM powered off: skip reboot, proven off', rules: D, from: { phase: 'suspect' }, event: { ...down, power: 'off' }, to: 'restarting', reason: 'vm-powered-off', commands: ['place'], check: (s) => assert.equal(s.oldOff, true) },
  { name: 'suspect + down with PXE loop: straight to reinstall', rules: D, from: { phase: 'suspect' }, event: { ...down, pxeLoop: true }, to: 'reinstalling', reason: 'pxe-loop', commands: ['reinstall', 'arm-timer'] },
  { name: 'suspect + down with PXE loop, reinstall disabled: quarantined', rules: D, from: { phase: 'suspect', reinstall: false }, event: { ...down, pxeLoop: true }, to: 'quarantined', reason: 'reinstall-disabled', commands: [] },
  { name: 'suspect + down, budget spent: quarantined', rules: D, from: { phase: 'suspect', recoveries: [NOW - 3000, NOW - 2000, NOW - 1000] }, event: down, to: 'quarantined', reason: 'budget-exhausted', commands: [] },
  { name: 'suspect + down, old recoveries out of the window do not count', rules: D, from: { phase: 'suspect', recoveries: [NOW - 4_000_000, NOW - 2000, NOW - 1000] }, event: down, to: 'rebooting', reason: 'confirmed-down', commands: ['reboot', 'arm-timer'], check: (s) => assert.deepEqual(s.recoveries, [NOW - 2000, NOW - 1000, NOW]) },
  { name: 'paper: PXE loop is ignored', rules: P, from: {}, event: { ...down, pxeLoop: true }, to: 'rebooting', reason: 'monitor-down', commands: ['reboot', 'arm-timer'] },
  // rebooting
  { name: 'rebooting + reboot sent', rules: D, from: { phase: 'rebooting', pending: pending('reboot') }, event: { type: 'result', id: 'vm10#5', ok: true }, to: 'rebooting', reason: 'reboot-sent', commands: [] },
  { name: 'rebooting + reboot undeliverable: restart at once', rules: D, from: { phase: 'rebooting', pending: pending('reboot'), timer: { id: 'vm10#4', kind: 't1', at: NOW } }, event: { type: 'result', id: 'vm10#5', ok: false }, to: 'restarting', reason: 'reboot-failed', commands: ['cancel-timer', 'place'] },
  { name: 'paper: rebooting + reboot undeliverable: wait T1', rules: P, from: { phase: 'rebooting', pending: pending('reboot') }, event: { type: 'result', id: 'vm10#5', ok: false }, to: 'rebooting', reason: 'reboot-failed', commands: [] },
  { name: 'rebooting + stale result id: ignored', rules: D, from: { phase: 'rebooting', pending: pending('reboot') }, event: { type: 'result', id: 'vm10#4', ok: false }, to: 'rebooting', reason: null, commands: [] },
  { name: 'rebooting + T1: restart', rules: D, from: { phase: 'rebooting', timer: timer('t1') }, event: { type: 'timer', id: 'vm10#5' }, to: 'restarting', reason: 't1-expired', commands: ['place'] },
  { name: 'rebooting + stale timer: ignored', rules: D, from: { phase: 'rebooting', timer: timer('t1') }, event: { type: 'timer', id: 'vm10#3' }, to: 'rebooting', reason: null, commands: [] },
  { name: 'rebooting + up: recovered', rules: D, from: { phase: 'rebooting', timer: timer('t1') }, event: up, to: 'running', reason: 'recovered', commands: ['cancel-timer'] },
  { name: 'rebooting + PXE loop: reinstall', rules: D, from: { phase: 'rebooting', timer: timer('t1') }, event: { ...down, pxeLoop: true }, to: 'reinstalling', reason: 'pxe-loop', commands: ['cancel-timer', 'reinstall', 'arm-timer'] },
  { name: 'rebooting + hypervisor down: restart', rules: D, from: { phase: 'rebooting', timer: timer('t1') }, event: { ...down, hostUp: false }, to: 'restarting', reason: 'hypervisor-down', commands: ['cancel-timer', 'place'] },
  // restarting
  { name: 'restarting + placed on the same live host: reset, T2', rules: D, from: { phase: 'restarting', goal: 'restart', pending: pending('place') }, event: { type: 'placed', id: 'vm10#5', host: 'hv1' }, to: 'restarting', reason: null, commands: ['reset', 'arm-timer'] },
  { name: 'restarting + placed elsewhere, old copy not proven off: fence-pending', rules: D, from: { phase: 'restarting', goal: 'restart', pending: pending('place') }, event: { type: 'placed', id: 'vm10#5', host: 'hv2' }, to: 'fence-pending', reason: 'fence-required', commands: ['fence'], check: (s) => assert.equal(s.target, 'hv2') },
  { name: 'restarting + placed elsewhere, old copy off: start there', rules: D, from: { phase: 'restarting', goal: 'restart', oldOff: true, pending: pending('place') }, event: { type: 'placed', id: 'vm10#5', host: 'hv2' }, to: 'restarting', reason: null, commands: ['start', 'arm-timer'], check: (s) => assert.equal(s.host, 'hv2') },
  { name: 'paper: restarting + placed elsewhere: start without fencing', rules: P, from: { phase: 'restarting', goal: 'restart', pending: pending('place') }, event: { type: 'placed', id: 'vm10#5', host: 'hv2' }, to: 'restarting', reason: null, commands: ['start', 'arm-timer'] },
  { name: 'restarting + no host: waiting-for-host', rules: D, from: { phase: 'restarting', goal: 'restart', pending: pending('place') }, event: { type: 'placed', id: 'vm10#5', host: null }, to: 'waiting-for-host', reason: 'no-host-under-threshold', commands: ['arm-timer'] },
  { name: 'restarting + start failed: waiting-for-host', rules: D, from: { phase: 'restarting', goal: 'restart', pending: pending('start') }, event: { type: 'result', id: 'vm10#5', ok: false, detail: 'no memory' }, to: 'waiting-for-host', reason: 'start-failed', commands: ['arm-timer'] },
  { name: 'restarting + start refused by the hypervisor: that copy never ran', rules: D, from: { phase: 'restarting', goal: 'restart', host: 'hv2', pending: pending('start') }, event: { type: 'result', id: 'vm10#5', ok: false, detail: 'E_HV_FAILED' }, to: 'waiting-for-host', reason: 'start-failed', commands: ['arm-timer'], check: (s) => assert.equal(s.oldOff, true) },
  { name: 'restarting + start outcome unknown: the copy may run there, not counted off', rules: D, from: { phase: 'restarting', goal: 'restart', host: 'hv2', pending: pending('start') }, event: { type: 'result', id: 'vm10#5', ok: false, unknown: true, detail: 'E_HV_UNKNOWN_OUTCOME' }, to: 'waiting-for-host', reason: 'outcome-unknown', commands: ['arm-timer'], check: (s) => assert.equal(s.oldOff, false) },
  { name: 'restarting + reset refused: proves nothing about the copy', rules: D, from: { phase: 'restarting', goal: 'restart', pending: pending('reset') }, event: { type: 'result', id: 'vm10#5', ok: false }, to: 'waiting-for-host', reason: 'start-failed', commands: ['arm-timer'], check: (s) => assert.equal(s.oldOff, false) },
  { name: 'restarting + placed on the same host after proof of off: the reset clears the proof', rules: D, from: { phase: 'restarting', goal: 'restart', oldOff: true, pending: pending('place') }, event: { type: 'placed', id: 'vm10#5', host: 'hv1' }, to: 'restarting', reason: null, commands: ['reset', 'arm-timer'], check: (s) => assert.equal(s.oldOff, false) },
  { name: 'waiting-for-host after an unknown start, placed elsewhere: fence first', rules: D, from: { phase: 'waiting-for-host', goal: 'restart', host: 'hv2', oldOff: false, pending: pending('place') }, event: { type: 'placed', id: 'vm10#5', host: 'hv3' }, to: 'fence-pending', reason: 'fence-required', commands: ['fence'] },
  { name: 'restarting + T2: reinstall on the live host', rules: D, from: { phase: 'restarting', goal: 'restart', timer: timer('t2') }, event: { type: 'timer', id: 'vm10#5' }, to: 'reinstalling', reason: 't2-expired', commands: ['reinstall', 'arm-timer'] },
  { name: 'restarting + T2, hypervisor down: reinstall elsewhere (place)', rules: D, from: { phase: 'restarting', goal: 'restart', hostUp: false, timer: timer('t2') }, event: { type: 'timer', id: 'vm10#5' }, to: 'reinstalling', reason: 't2-expired', commands: ['place'] },
  { name: 'restarting + T2, reinstall disabled: quarantined', rules: D, from: { phase: 'restarting', reinstall: false, timer: timer('t2') }, event: { type: 'timer', id: 'vm10#5' }, to: 'quarantined', reason: 'reinstall-disabled', commands: [] },
  { name: 'restarting + up: recovered', rules: D, from: { phase: 'restarting', timer: timer('t2') }, event: up, to: 'running', reason: 'recovered', commands: ['cancel-timer'] },
  { name: 'restarting + PXE loop: reinstall', rules: D, from: { phase: 'restarting', timer: timer('t2') }, event: { ...down, pxeLoop: true }, to: 'reinstalling', reason: 'pxe-loop', commands: ['cancel-timer', 'reinstall', 'arm-timer'] },
  { name: 'restarting + its hypervisor dies after the start: restart elsewhere', rules: D, from: { phase: 'restarting', goal: 'restart', timer: timer('t2') }, event: { ...down, hostUp: false, power: 'unknown' }, to: 'restarting', reason: 'hypervisor-down', commands: ['cancel-timer', 'place'] },
  { name: 'restarting + hypervisor down while an action is in flight: wait for its result', rules: D, from: { phase: 'restarting', goal: 'restart', pending: pending('start') }, event: { ...down, hostUp: false, power: 'unknown' }, to: 'restarting', reason: null, commands: [] },
  // reinstalling
  { name: 'reinstalling + its hypervisor dies: reinstall elsewhere', rules: D, from: { phase: 'reinstalling', goal: 'reinstall', timer: timer('install') }, event: { ...down, hostUp: false, power: 'unknown' }, to: 'reinstalling', reason: 'hypervisor-down', commands: ['cancel-timer', 'place'] },
  { name: 'paper: reinstalling + hypervisor down: wait (no such rule)', rules: P, from: { phase: 'reinstalling', goal: 'reinstall', timer: timer('install') }, event: { ...down, hostUp: false, power: 'unknown' }, to: 'reinstalling', reason: null, commands: [] },
  { name: 'reinstalling + placed elsewhere after fencing: start an install there', rules: D, from: { phase: 'reinstalling', goal: 'reinstall', oldOff: true, hostUp: false, pending: pending('place') }, event: { type: 'placed', id: 'vm10#5', host: 'hv2' }, to: 'reinstalling', reason: null, commands: ['reinstall', 'arm-timer'], check: (s) => assert.equal(s.host, 'hv2') },
  { name: 'reinstalling + reinstall outcome unknown: keep waiting for the install', rules: D, from: { phase: 'reinstalling', goal: 'reinstall', pending: pending('reinstall'), timer: timer('install') }, event: { type: 'result', id: 'vm10#5', ok: false, unknown: true }, to: 'reinstalling', reason: 'outcome-unknown', commands: [], check: (s) => assert.equal(s.oldOff, false) },
  { name: 'reinstalling + installer failed: retry on another host, after a fence', rules: D, from: { phase: 'reinstalling', goal: 'reinstall', timer: timer('install') }, event: { type: 'install-failed' }, to: 'reinstalling', reason: 'install-failed', commands: ['cancel-timer', 'place'], check: (s) => assert.equal(s.avoid, 'hv1') },
  { name: 'reinstalling + installer failed again: quarantined', rules: D, from: { phase: 'reinstalling', goal: 'reinstall', installTries: 1, timer: timer('install') }, event: { type: 'install-failed' }, to: 'quarantined', reason: 'install-failed', commands: ['cancel-timer'] },
  { name: 'paper: reinstalling + installer failed: quarantined at once', rules: P, from: { phase: 'reinstalling', goal: 'reinstall', timer: timer('install') }, event: { type: 'install-failed' }, to: 'quarantined', reason: 'install-failed', commands: ['cancel-timer'] },
  { name: 'running + install-failed (stale): ignored', rules: D, from: {}, event: { type: 'install-failed' }, to: 'running', reason: null, commands: [] },
  { name: 'reinstalling + failed to set the boot entry: quarantined', rules: D, from: { phase: 'reinstalling', pending: pending('reinstall'), timer: timer('install') }, event: { type: 'result', id: 'vm10#5', ok: false }, to: 'quarantined', reason: 'reinstall-failed', commands: ['cancel-timer'] },
  { name: 'reinstalling + install timeout: quarantined', rules: D, from: { phase: 'reinstalling', timer: timer('install') }, event: { type: 'timer', id: 'vm10#5' }, to: 'quarantined', reason: 'install-timeout', commands: [] },
  { name: 'reinstalling + up: recovered', rules: D, from: { phase: 'reinstalling', timer: timer('install') }, event: up, to: 'running', reason: 'recovered', commands: ['cancel-timer'] },
  // waiting-for-host
  { name: 'waiting-for-host + retry: place again', rules: D, from: { phase: 'waiting-for-host', goal: 'restart', timer: timer('retry') }, event: { type: 'timer', id: 'vm10#5' }, to: 'waiting-for-host', reason: null, commands: ['place'] },
  { name: 'waiting-for-host + placed (old copy off): restarting', rules: D, from: { phase: 'waiting-for-host', goal: 'restart', oldOff: true, pending: pending('place') }, event: { type: 'placed', id: 'vm10#5', host: 'hv2' }, to: 'restarting', reason: 'retry', commands: ['start', 'arm-timer'] },
  { name: 'waiting-for-host + up: recovered', rules: D, from: { phase: 'waiting-for-host', timer: timer('retry') }, event: up, to: 'running', reason: 'recovered', commands: ['cancel-timer'] },
  // fence-pending
  { name: 'fence-pending + fenced: place again, now free to start anywhere', rules: D, from: { phase: 'fence-pending', goal: 'restart', target: 'hv2', pending: pending('fence') }, event: { type: 'fenced', id: 'vm10#5', off: true }, to: 'fence-pending', reason: 'old-copy-off', commands: ['place'], check: (s) => assert.equal(s.oldOff, true) },
  { name: 'fence-pending + placed after fencing: start, restarting', rules: D, from: { phase: 'fence-pending', goal: 'restart', oldOff: true, hostUp: false, pending: pending('place') }, event: { type: 'placed', id: 'vm10#5', host: 'hv2' }, to: 'restarting', reason: 'old-copy-off', commands: ['start', 'arm-timer'] },
  { name: 'fence-pending + fence failed: stay, retry later, reason visible', rules: D, from: { phase: 'fence-pending', goal: 'restart', pending: pending('fence') }, event: { type: 'fenced', id: 'vm10#5', off: false, detail: 'no fence command' }, to: 'fence-pending', reason: 'fence-failed', commands: ['arm-timer'], check: (s) => assert.equal(s.reason, 'fence-failed') },
  { name: 'fence-pending + retry: fence again', rules: D, from: { phase: 'fence-pending', timer: timer('retry') }, event: { type: 'timer', id: 'vm10#5' }, to: 'fence-pending', reason: null, commands: ['fence'] },
  { name: 'fence-pending + hypervisor back, VM off there: proven off', rules: D, from: { phase: 'fence-pending', goal: 'restart' }, event: { ...down, power: 'off' }, to: 'fence-pending', reason: 'old-copy-off', commands: ['place'] },
  { name: 'fence-pending + VM answers again (partition healed): running, nothing started', rules: D, from: { phase: 'fence-pending', timer: timer('retry') }, event: up, to: 'running', reason: 'recovered', commands: ['cancel-timer'] },
  { name: 'fence-pending + operator clear: declared off', rules: D, from: { phase: 'fence-pending', goal: 'restart' }, event: { type: 'operator', op: 'clear' }, to: 'fence-pending', reason: 'operator-clear', commands: ['place'], check: (s) => assert.equal(s.oldOff, true) },
  // quarantined / disabled
  { name: 'quarantined + down: stays', rules: D, from: { phase: 'quarantined' }, event: down, to: 'quarantined', reason: null, commands: [] },
  { name: 'quarantined + up: stays until an operator clears', rules: D, from: { phase: 'quarantined' }, event: up, to: 'quarantined', reason: null, commands: [] },
  { name: 'quarantined + clear: running, budget reset', rules: D, from: { phase: 'quarantined', recoveries: [NOW, NOW] }, event: { type: 'operator', op: 'clear' }, to: 'running', reason: 'operator-clear', commands: [], check: (s) => assert.deepEqual(s.recoveries, []) },
  { name: 'any + disable: disabled, timer cancelled', rules: D, from: { phase: 'rebooting', timer: timer('t1'), pending: pending('reboot') }, event: { type: 'operator', op: 'disable' }, to: 'disabled', reason: 'operator-disable', commands: ['cancel-timer'], check: (s) => assert.equal(s.pending, null) },
  { name: 'disabled + down: no action', rules: D, from: { phase: 'disabled' }, event: down, to: 'disabled', reason: null, commands: [] },
  { name: 'disabled + enable: running', rules: D, from: { phase: 'disabled' }, event: { type: 'operator', op: 'enable' }, to: 'running', reason: 'operator-enable', commands: [] },
  { name: 'running + enable: nothing', rules: D, from: {}, event: { type: 'operator', op: 'enable' }, to: 'running', reason: null, commands: [] },
  // blackout
  { name: 'blackout starts: paused, noted', rules: D, from: {}, event: { type: 'blackout', active: true }, to: 'running', reason: 'monitoring-blackout', commands: [], check: (s) => assert.equal(s.paused, true) },
  { name: 'paused + down: no action', rules: D, from: { paused: true }, event: down, to: 'running', reason: null, commands: [] },
  { name: 'paused + T1 expiry: remembered, no action', rules: D, from: { phase: 'rebooting', paused: true, timer: timer('t1') }, event: { type: 'timer', id: 'vm10#5' }, to: 'rebooting', reason: null, commands: [], check: (s) => assert.equal(s.due, 't1') },
  { name: 'blackout ends with a due T1: restart now', rules: D, from: { phase: 'rebooting', paused: true, due: 't1' }, event: { type: 'blackout', active: false }, to: 'restarting', reason: 't1-expired', commands: ['place'] },
  { name: 'paper: no blackout pause', rules: P, from: {}, event: { type: 'blackout', active: true }, to: 'running', reason: null, commands: [], check: (s) => assert.equal(s.paused, false) },
];

describe('HA state machine: every transition', () => {
  for (const r of rows) {
    it(r.name, () => {
      const before = st(r.from);
      const frozen = structuredClone(before);
      const { state, commands, transitions } = step(before, r.event, NOW, r.rules);
      assert.deepEqual(before, frozen, 'step must not mutate its input');
      assert.equal(state.phase, r.to);
      assert.equal(transitions.at(-1)?.reason ?? null, r.reason);
      assert.deepEqual(commands.map((c) => c.type), r.commands);
      // Every action and timer carries a fresh id, above anything issued before.
      for (const c of commands) if ('id' in c && c.type !== 'cancel-timer') assert.ok(Number(c.id.split('#')[1]) > 5, `${c.type} id ${c.id}`);
      if (transitions.length > 0) assert.equal(state.reason, transitions.at(-1)!.reason);
      r.check?.(state);
    });
  }
});

describe('HA state machine: sequences', () => {
  it('destructive crash under the paper rules walks reboot -> T1 -> restart -> T2 -> reinstall', () => {
    let s = st();
    const ev = (e: FsmEvent, t: number) => {
      const r = step(s, e, t, P);
      s = r.state;
      return r;
    };
    ev(down, 0);
    assert.equal(s.phase, 'rebooting');
    ev({ type: 'result', id: s.pending!.id, ok: false }, 1);
    ev({ type: 'timer', id: s.timer!.id }, P.t1);
    assert.equal(s.phase, 'restarting');
    ev({ type: 'placed', id: s.pending!.id, host: 'hv1' }, P.t1);
    assert.equal(s.pending!.kind, 'reset');
    ev({ type: 'result', id: s.pending!.id, ok: true }, P.t1 + 1);
    ev({ type: 'timer', id: s.timer!.id }, P.t1 + P.t2);
    assert.equal(s.phase, 'reinstalling');
    assert.equal(s.rung, 'reinstall');
    assert.equal(s.rungAt, P.t1 + P.t2);
    ev(up, 900_000);
    assert.equal(s.phase, 'running');
    assert.equal(s.reason, 'recovered');
  });

  it('a host failure with no fence device waits in fence-pending and never issues a start', () => {
    let s = st({ phase: 'suspect' });
    const starts: string[] = [];
    const feed = (e: FsmEvent) => {
      const r = step(s, e, NOW, D);
      s = r.state;
      for (const c of r.commands) if (c.type === 'start' || c.type === 'reinstall' || c.type === 'reset') starts.push(c.type);
    };
    feed({ ...down, hostUp: false, power: 'unknown' });
    feed({ type: 'placed', id: s.pending!.id, host: 'hv2' });
    for (let i = 0; i < 5; i++) {
      feed({ type: 'fenced', id: s.pending!.id, off: false, detail: 'no fence command configured' });
      assert.equal(s.phase, 'fence-pending');
      feed({ type: 'timer', id: s.timer!.id });
    }
    assert.deepEqual(starts, []);
  });
});

describe('HA state machine: properties', () => {
  const eventArb: fc.Arbitrary<(s: VmFsmState) => FsmEvent> = fc.oneof(
    fc.record({ vmUp: fc.boolean(), hostUp: fc.boolean(), power: fc.constantFrom('on', 'off', 'unknown' as const), pxeLoop: fc.boolean() }).map((o) => () => ({ type: 'observe' as const, ...o })),
    fc.constant((s: VmFsmState) => ({ type: 'timer' as const, id: s.timer?.id ?? 'x#0' })),
    fc.boolean().map((ok) => (s: VmFsmState) => ({ type: 'result' as const, id: s.pending?.id ?? 'x#0', ok })),
    fc.constantFrom('hv1', 'hv2', null).map((host) => (s: VmFsmState) => ({ type: 'placed' as const, id: s.pending?.id ?? 'x#0', host })),
    fc.boolean().map((off) => (s: VmFsmState) => ({ type: 'fenced' as const, id: s.pending?.id ?? 'x#0', off })),
    fc.boolean().map((active) => () => ({ type: 'blackout' as const, active })),
    fc.constantFrom('disable', 'enable', 'clear' as const).map((op) => () => ({ type: 'operator' as const, op })),
  );

  it('with fencing on, never starts the VM on another host while the old copy is not proven off', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 60 }), fc.boolean(), (events, reinstall) => {
        let s = st({ reinstall });
        let t = NOW;
        for (const mk of events) {
          const before = s;
          const r = step(s, mk(s), (t += 1000), D);
          for (const c of r.commands) {
            if (c.type === 'start' || (c.type === 'reinstall' && c.how === 'start')) {
              // A start elsewhere needs proof: the old copy was off before this step, or proven in it.
              assert.ok(before.oldOff || before.host === null || before.host === c.host, `start on ${c.host} with ${before.host} not proven off`);
            }
          }
          // Every transition has a reason; ids only grow.
          for (const tr of r.transitions) assert.ok(tr.reason.length > 0);
          assert.ok(r.state.seq >= before.seq);
          s = r.state;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('is deterministic', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 30 }), (events) => {
        const run = () => {
          let s = st();
          const out: unknown[] = [];
          for (const mk of events) {
            const r = step(s, mk(s), NOW, D);
            out.push(r);
            s = r.state;
          }
          return out;
        };
        assert.deepEqual(run(), run());
      }),
      { numRuns: 100 },
    );
  });
});
