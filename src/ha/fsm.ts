/**
 * The 3RC recovery state machine for one VM, as a pure function:
 * `step(state, event, now, rules) -> { state, commands, transitions }`.
 *
 * running -> suspect -> rebooting (T1) -> restarting (T2) -> reinstalling -> running, plus
 * waiting-for-host (no hypervisor qualifies), fence-pending (old copy not proven off),
 * quarantined (budget spent, reinstall disabled or failed) and disabled (operator).
 *
 * No I/O, no clock, no timers: a timer is an `arm-timer` command whose expiry comes back as a
 * `timer` event with the same id; every action carries a fresh id (`vm#seq`) and its result is
 * accepted only with that id, so a stale or repeated result can never move the machine twice.
 */
import type { ActionKind, FsmCommand, FsmEvent, FsmRules, Observation, Phase, Reason, Rung, StepResult, TimerKind, Transition, VmFsmState } from './fsm-types.js';
import { Reasons } from './fsm-types.js';

export * from './fsm-types.js';

/** A VM in `running`, as first seen (or after a reset of its history). */
export function initialState(vm: string, host: string | null, opts: { reinstall: boolean; now: number }): VmFsmState {
  return {
    vm, phase: 'running', reason: Reasons.INITIAL, since: opts.now, host, reinstall: opts.reinstall,
    goal: null, target: null, oldOff: false, seq: 0, pending: null, timer: null, due: null, paused: false,
    recoveries: [], hostUp: true, power: 'unknown', rung: null, rungAt: null,
  };
}

/** Mutable working copy for one step; collects commands and decisions. */
class Step {
  readonly s: VmFsmState;
  readonly commands: FsmCommand[] = [];
  readonly transitions: Transition[] = [];

  constructor(prev: VmFsmState, readonly now: number, readonly rules: FsmRules) {
    this.s = { ...prev, recoveries: [...prev.recoveries], pending: prev.pending && { ...prev.pending }, timer: prev.timer && { ...prev.timer } };
  }

  private nextId(): string {
    this.s.seq += 1;
    return `${this.s.vm}#${this.s.seq}`;
  }

  go(to: Phase, reason: Reason, detail?: string): void {
    const t: Transition = { from: this.s.phase, to, reason };
    if (detail !== undefined) t.detail = detail;
    this.transitions.push(t);
    if (to !== this.s.phase) this.s.since = this.now;
    this.s.phase = to;
    this.s.reason = reason;
  }

  /** Records a decision that does not change the phase (reboot sent, blackout, ...). */
  note(reason: Reason, detail?: string): void {
    this.go(this.s.phase, reason, detail);
  }

  arm(kind: TimerKind, ms: number): void {
    this.cancelTimer();
    const id = this.nextId();
    this.s.timer = { id, kind, at: this.now + ms };
    this.commands.push({ type: 'arm-timer', id, ms });
  }

  cancelTimer(): void {
    if (this.s.timer) this.commands.push({ type: 'cancel-timer', id: this.s.timer.id });
    this.s.timer = null;
    this.s.due = null;
  }

  /** Issues an action; any earlier action's result will be ignored from now on. */
  act(kind: ActionKind, build: (id: string) => FsmCommand): void {
    const id = this.nextId();
    this.s.pending = { id, kind };
    this.commands.push(build(id));
  }

  dropPending(): void {
    this.s.pending = null;
  }

  result(): StepResult {
    return { state: this.s, commands: this.commands, transitions: this.transitions };
  }
}

/** Advances one VM's machine by one event. Pure: same inputs, same outputs. */
export function step(state: VmFsmState, event: FsmEvent, now: number, rules: FsmRules): StepResult {
  // The common case of every pass (a healthy VM seen healthy) allocates nothing: it must stay
  // cheap for 10,000 VMs per pass.
  if (event.type === 'observe' && event.vmUp && state.phase === 'running' && !state.paused) {
    const power = event.power ?? 'unknown';
    if (state.hostUp === event.hostUp && state.power === power) return { state, commands: [], transitions: [] };
    return { state: { ...state, hostUp: event.hostUp, power }, commands: [], transitions: [] };
  }
  const x = new Step(state, now, rules);
  const s = x.s;
  switch (event.type) {
    case 'operator':
      operator(x, event.op);
      return x.result();
    case 'drain':
      if (event.op === 'hold' && s.phase === 'running') {
        x.cancelTimer();
        x.dropPending();
        s.drainHold = true;
        x.go('disabled', Reasons.DRAIN_HOLD);
      } else if (event.op === 'release' && s.drainHold) {
        delete s.drainHold;
        if (s.phase === 'disabled') x.go('running', Reasons.DRAIN_RELEASE);
      }
      return x.result();
    case 'moved':
      if (s.host === event.host) return x.result();
      x.note(Reasons.MOVED, event.detail ?? `${s.host ?? '?'} -> ${event.host}`);
      s.host = event.host;
      s.oldOff = true;
      s.hostUp = true;
      s.power = 'unknown';
      return x.result();
    case 'blackout':
      if (!rules.blackoutPause || event.active === s.paused) return x.result();
      s.paused = event.active;
      x.note(event.active ? Reasons.BLACKOUT : Reasons.BLACKOUT_OVER);
      if (!event.active && s.due) {
        const due = s.due;
        s.due = null;
        onTimer(x, due);
      }
      return x.result();
    default:
      break;
  }
  if (s.phase === 'disabled' || s.phase === 'quarantined') {
    // Only an operator moves these; results of actions issued before are simply forgotten.
    if ((event.type === 'result' || event.type === 'placed' || event.type === 'fenced') && s.pending?.id === event.id) x.dropPending();
    if (event.type === 'timer' && s.timer?.id === event.id) s.timer = null;
    return x.result();
  }
  switch (event.type) {
    case 'observe':
      if (!s.paused) observe(x, event);
      break;
    case 'timer':
      if (s.timer?.id !== event.id) break; // cancelled or superseded
      s.timer = null;
      // During a blackout the expiry is remembered, not acted on: no storm of actions.
      if (s.paused) s.due = state.timer!.kind;
      else onTimer(x, state.timer!.kind);
      break;
    case 'result':
      if (s.pending?.id !== event.id) break;
      x.dropPending();
      onResult(x, state.pending!.kind, event.ok, event.unknown === true, event.detail);
      break;
    case 'placed':
      if (s.pending?.id !== event.id) break;
      x.dropPending();
      onPlaced(x, event.host);
      break;
    case 'fenced':
      if (s.pending?.id !== event.id) break;
      x.dropPending();
      onFenced(x, event.off, event.detail);
      break;
    case 'install-failed':
      if (s.phase === 'reinstalling') onInstallFailed(x, event.detail);
      break;
  }
  return x.result();
}

function operator(x: Step, op: 'disable' | 'enable' | 'clear'): void {
  const s = x.s;
  if (op === 'disable') {
    if (s.phase === 'disabled') {
      // Disabled by a drain: the operator's now, which the drain's release leaves alone.
      if (s.drainHold) {
        delete s.drainHold;
        x.note(Reasons.OPERATOR_DISABLE);
      }
      return;
    }
    x.cancelTimer();
    x.dropPending();
    x.go('disabled', Reasons.OPERATOR_DISABLE);
  } else if (op === 'enable') {
    if (s.phase !== 'disabled') return;
    delete s.drainHold;
    x.go('running', Reasons.OPERATOR_ENABLE);
  } else if (s.phase === 'quarantined') {
    s.recoveries = [];
    x.go('running', Reasons.OPERATOR_CLEAR);
  } else if (s.phase === 'fence-pending') {
    // The operator vouches that the old copy is off (e.g. pulled the plug by hand).
    s.oldOff = true;
    x.note(Reasons.OPERATOR_CLEAR, 'old copy declared off');
    place(x);
  }
}

function observe(x: Step, o: Observation): void {
  const s = x.s;
  s.hostUp = o.hostUp;
  s.power = o.power ?? 'unknown';
  if (o.vmUp) {
    if (s.phase === 'running') return;
    x.cancelTimer();
    x.dropPending();
    s.goal = null;
    s.target = null;
    s.avoid = null;
    x.go('running', s.phase === 'suspect' ? Reasons.PROBE_OK : Reasons.RECOVERED);
    return;
  }
  const evidence = x.rules.evidence && o.pxeLoop === true;
  switch (s.phase) {
    case 'running':
      if (x.rules.confirmDelay > 0) {
        x.go('suspect', Reasons.PROBE_FAILED);
        x.arm('confirm', x.rules.confirmDelay);
      } else {
        begin(x, o, Reasons.MONITOR_DOWN);
      }
      return;
    case 'suspect':
      x.cancelTimer();
      begin(x, o, Reasons.CONFIRMED_DOWN);
      return;
    case 'rebooting':
      if (evidence) toReinstall(x, Reasons.PXE_LOOP);
      else if (!o.hostUp && x.rules.skipRebootWhenHostDown) toRestart(x, Reasons.HYPERVISOR_DOWN);
      return;
    case 'restarting':
      if (evidence) toReinstall(x, Reasons.PXE_LOOP);
      // The hypervisor it was (re)started on died meanwhile: start over elsewhere.
      else if (!o.hostUp && x.rules.skipRebootWhenHostDown && s.pending === null) toRestart(x, Reasons.HYPERVISOR_DOWN);
      return;
    case 'reinstalling':
      if (!o.hostUp && x.rules.skipRebootWhenHostDown && s.pending === null) toReinstall(x, Reasons.HYPERVISOR_DOWN);
      return;
    case 'fence-pending':
      // The old hypervisor is back and says the VM is off there: that is the proof we waited for.
      if (o.hostUp && o.power === 'off') {
        s.oldOff = true;
        x.note(Reasons.OLD_COPY_OFF);
        place(x);
      }
      return;
    default:
      return;
  }
}

/** A confirmed failure: budget, then the first rung the rules allow. */
function begin(x: Step, o: Observation, reason: Reason): void {
  const s = x.s;
  const budget = x.rules.budget;
  if (budget) {
    s.recoveries = s.recoveries.filter((t) => t > x.now - budget.window);
    if (s.recoveries.length >= budget.recoveries) {
      x.cancelTimer();
      x.go('quarantined', Reasons.BUDGET_EXHAUSTED, `${s.recoveries.length} recoveries within ${budget.window / 1000}s`);
      return;
    }
  }
  s.recoveries.push(x.now);
  s.oldOff = false;
  s.avoid = null;
  s.installTries = 0;
  if (x.rules.evidence && o.pxeLoop) return toReinstall(x, Reasons.PXE_LOOP);
  if (!o.hostUp && x.rules.skipRebootWhenHostDown) return toRestart(x, Reasons.HYPERVISOR_DOWN);
  if (o.hostUp && o.power === 'off' && x.rules.skipRebootWhenPoweredOff) {
    // The hypervisor itself says the VM is off, so it is proven off where it was.
    s.oldOff = true;
    return toRestart(x, Reasons.VM_POWERED_OFF);
  }
  toReboot(x, reason);
}

function startRung(x: Step, rung: Rung): void {
  x.s.rung = rung;
  x.s.rungAt = x.now;
}

function toReboot(x: Step, reason: Reason): void {
  const s = x.s;
  x.go('rebooting', reason);
  startRung(x, 'reboot');
  x.act('reboot', (id) => ({ type: 'reboot', id, vm: s.vm, host: s.host }));
  x.arm('t1', x.rules.t1);
}

function toRestart(x: Step, reason: Reason): void {
  x.cancelTimer();
  x.s.goal = 'restart';
  x.go('restarting', reason);
  startRung(x, 'restart');
  place(x);
}

function toReinstall(x: Step, reason: Reason): void {
  const s = x.s;
  x.cancelTimer();
  if (!s.reinstall) {
    x.dropPending();
    x.go('quarantined', Reasons.REINSTALL_DISABLED, `wanted a reinstall because ${reason}`);
    return;
  }
  s.goal = 'reinstall';
  x.go('reinstalling', reason);
  startRung(x, 'reinstall');
  if (s.hostUp && s.host) {
    const host = s.host;
    s.oldOff = false; // the power cycle may start it there
    x.act('reinstall', (id) => ({ type: 'reinstall', id, vm: s.vm, host, how: 'reset' }));
    x.arm('install', x.rules.installTimeout);
  } else {
    place(x);
  }
}

/** Asks for a hypervisor; keeps the current one when it is alive and qualifies. */
function place(x: Step): void {
  const s = x.s;
  const prefer = s.hostUp && s.host !== s.avoid ? s.host : null;
  const avoid = !s.hostUp && s.host ? [s.host] : [];
  if (s.avoid && !avoid.includes(s.avoid)) avoid.push(s.avoid);
  x.act('place', (id) => ({ type: 'place', id, vm: s.vm, prefer, avoid }));
}

function goalPhase(s: VmFsmState): Phase {
  return s.goal === 'reinstall' ? 'reinstalling' : 'restarting';
}

function onPlaced(x: Step, host: string | null): void {
  const s = x.s;
  if (host === null) {
    if (s.phase !== 'waiting-for-host') x.go('waiting-for-host', Reasons.NO_HOST);
    x.arm('retry', x.rules.retryInterval);
    return;
  }
  const sameHost = host === s.host && s.hostUp;
  if (!sameHost && s.host !== null && x.rules.fence && !s.oldOff) {
    s.target = host;
    x.go('fence-pending', Reasons.FENCE_REQUIRED, `old copy on ${s.host}, target ${host}`);
    const old = s.host;
    x.act('fence', (id) => ({ type: 'fence', id, vm: s.vm, host: old }));
    return;
  }
  const phase = goalPhase(s);
  if (s.phase !== phase) x.go(phase, s.phase === 'fence-pending' ? Reasons.OLD_COPY_OFF : Reasons.RETRY, `on ${host}`);
  s.target = null;
  // Whatever is sent now may run on `host`, whether or not its result ever comes back: only a
  // proof (hypervisor, fence read-back, a start the hypervisor refused) sets oldOff again.
  s.oldOff = false;
  if (s.goal === 'reinstall') {
    const how = sameHost ? 'reset' : 'start';
    x.act('reinstall', (id) => ({ type: 'reinstall', id, vm: s.vm, host, how }));
    x.arm('install', x.rules.installTimeout);
  } else if (sameHost) {
    x.act('reset', (id) => ({ type: 'reset', id, vm: s.vm, host }));
    x.arm('t2', x.rules.t2);
  } else {
    x.act('start', (id) => ({ type: 'start', id, vm: s.vm, host }));
    x.arm('t2', x.rules.t2);
  }
  // From now on the copy that matters is the one on `host`.
  s.host = host;
}

function onFenced(x: Step, off: boolean, detail?: string): void {
  const s = x.s;
  if (off) {
    s.oldOff = true;
    x.note(Reasons.OLD_COPY_OFF, detail);
    place(x);
  } else {
    x.note(Reasons.FENCE_FAILED, detail);
    x.arm('retry', x.rules.retryInterval);
  }
}

function onResult(x: Step, kind: ActionKind, ok: boolean, unknown: boolean, detail?: string): void {
  const s = x.s;
  if (kind === 'reboot') {
    if (ok) x.note(Reasons.REBOOT_SENT, detail);
    else if (x.rules.escalateOnRebootFailure) toRestart(x, Reasons.REBOOT_FAILED);
    else x.note(Reasons.REBOOT_FAILED, detail);
    return;
  }
  if (ok) return;
  if (unknown) {
    // It may have taken effect: the VM may run on `host` (oldOff stays false), so a placement
    // elsewhere fences it first. A reinstall may be installing: its timer keeps running.
    if (kind === 'reinstall') return x.note(Reasons.OUTCOME_UNKNOWN, detail);
    x.go('waiting-for-host', Reasons.OUTCOME_UNKNOWN, detail);
    x.arm('retry', x.rules.retryInterval);
    return;
  }
  if (kind === 'reinstall') {
    x.cancelTimer();
    x.go('quarantined', Reasons.REINSTALL_FAILED, detail);
    return;
  }
  // A start or reset that failed: look for a host again after a while.
  x.go('waiting-for-host', Reasons.START_FAILED, detail);
  // The hypervisor said the start failed: this start never ran there. A failed reset proves
  // nothing (the VM may have been running before it).
  if (kind === 'start') s.oldOff = true;
  x.arm('retry', x.rules.retryInterval);
}

/** The installer said it failed: another host while the rules allow, else quarantine. */
function onInstallFailed(x: Step, detail?: string): void {
  const s = x.s;
  x.cancelTimer();
  x.dropPending();
  const tries = s.installTries ?? 0;
  if (tries >= (x.rules.installRetries ?? 0) || s.host === null) {
    x.go('quarantined', Reasons.INSTALL_FAILED, detail);
    return;
  }
  s.installTries = tries + 1;
  s.avoid = s.host;
  x.note(Reasons.INSTALL_FAILED, detail ?? `retry on another host than ${s.host}`);
  place(x);
}

function onTimer(x: Step, kind: TimerKind): void {
  const s = x.s;
  switch (kind) {
    case 'confirm':
      // Back to the monitor: its observe event decides.
      x.commands.push({ type: 'probe', vm: s.vm });
      return;
    case 't1':
      if (s.phase === 'rebooting') toRestart(x, Reasons.T1_EXPIRED);
      return;
    case 't2':
      if (s.phase === 'restarting') toReinstall(x, Reasons.T2_EXPIRED);
      return;
    case 'install':
      x.dropPending();
      x.go('quarantined', Reasons.INSTALL_TIMEOUT);
      return;
    case 'retry':
      if (s.phase === 'waiting-for-host') place(x);
      else if (s.phase === 'fence-pending' && s.host) {
        const old = s.host;
        x.act('fence', (id) => ({ type: 'fence', id, vm: s.vm, host: old }));
      }
      return;
  }
}
