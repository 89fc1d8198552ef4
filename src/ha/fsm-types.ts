/**
 * Types of the per-VM recovery state machine (see fsm.ts): its states, the reason codes recorded
 * on every transition, the events it consumes and the commands it emits.
 */

/** Where one VM stands. */
export type Phase =
  | 'running'
  | 'suspect'
  | 'rebooting'
  | 'restarting'
  | 'reinstalling'
  | 'waiting-for-host'
  | 'fence-pending'
  | 'quarantined'
  | 'disabled';

/**
 * Stable reason codes: every transition carries one, and the decision log, `3rc status` and the
 * API show them. Branch on these, never on log text.
 */
export const Reasons = {
  INITIAL: 'initial',
  PROBE_FAILED: 'probe-failed',
  PROBE_OK: 'probe-ok',
  CONFIRMED_DOWN: 'confirmed-down',
  MONITOR_DOWN: 'monitor-down',
  HYPERVISOR_DOWN: 'hypervisor-down',
  VM_POWERED_OFF: 'vm-powered-off',
  REBOOT_SENT: 'reboot-sent',
  REBOOT_FAILED: 'reboot-failed',
  T1_EXPIRED: 't1-expired',
  T2_EXPIRED: 't2-expired',
  RECOVERED: 'recovered',
  PXE_LOOP: 'pxe-loop',
  BUDGET_EXHAUSTED: 'budget-exhausted',
  REINSTALL_DISABLED: 'reinstall-disabled',
  REINSTALL_FAILED: 'reinstall-failed',
  INSTALL_TIMEOUT: 'install-timeout',
  NO_HOST: 'no-host-under-threshold',
  START_FAILED: 'start-failed',
  /** A start, reset or reinstall was sent but its result never came back: the VM may run there. */
  OUTCOME_UNKNOWN: 'outcome-unknown',
  /** The installer reported failure (install-failed callback). */
  INSTALL_FAILED: 'install-failed',
  FENCE_REQUIRED: 'fence-required',
  FENCE_FAILED: 'fence-failed',
  OLD_COPY_OFF: 'old-copy-off',
  RETRY: 'retry',
  OPERATOR_DISABLE: 'operator-disable',
  OPERATOR_ENABLE: 'operator-enable',
  OPERATOR_CLEAR: 'operator-clear',
  BLACKOUT: 'monitoring-blackout',
  BLACKOUT_OVER: 'monitoring-restored',
  /** A drain of its hypervisor holds the VM (no automatic action) while it moves it. */
  DRAIN_HOLD: 'drain-hold',
  /** The drain is done with the VM: automatic action again. */
  DRAIN_RELEASE: 'drain-release',
  /** The drain moved the VM to another hypervisor (live, or off there and started here). */
  MOVED: 'moved',
} as const;

export type Reason = (typeof Reasons)[keyof typeof Reasons];

/** The recovery rungs, in escalation order. */
export type Rung = 'reboot' | 'restart' | 'reinstall';

export type TimerKind = 'confirm' | 't1' | 't2' | 'install' | 'retry';

/** Commands that do something outside the FSM and report back with a result event. */
export type ActionKind = 'reboot' | 'reset' | 'start' | 'reinstall' | 'place' | 'fence';

/** Power state of the VM as its hypervisor reports it. */
export type VmPower = 'on' | 'off' | 'unknown';

/** The whole persisted state of one VM's machine: plain data, JSON-safe. */
export interface VmFsmState {
  vm: string;
  phase: Phase;
  reason: Reason;
  /** When the phase was entered (ms). */
  since: number;
  /** Hypervisor that runs (or last ran) the VM; null when unknown. */
  host: string | null;
  /** May this VM be reinstalled automatically (config `hosts[].reinstall`)? */
  reinstall: boolean;
  /** What the current host search is for. */
  goal: 'restart' | 'reinstall' | null;
  /** Host chosen while waiting for the old copy to be fenced. */
  target: string | null;
  /**
   * The copy on `host` is proven off (hypervisor, fence read-back or operator). Cleared whenever a
   * start, reset or reinstall is aimed at `host`, and set again only by proof: an action whose
   * outcome is unknown (timeout, dropped connection, restart) leaves a copy that may run there.
   */
  oldOff: boolean;
  /** A host the current recovery must not use (where an install failed); absent = none. */
  avoid?: string | null;
  /** Reinstalls of the current recovery retried on another host after an install failure. */
  installTries?: number;
  /** Counter behind every action and timer id: `${vm}#${seq}`. Never reused. */
  seq: number;
  /** The action in flight, if any; its result event must carry this id. */
  pending: { id: string; kind: ActionKind } | null;
  /** The one armed timer; `at` lets a restarted controller re-arm what is left of it. */
  timer: { id: string; kind: TimerKind; at: number } | null;
  /** A timer that expired during a monitoring blackout, handled when the blackout ends. */
  due: TimerKind | null;
  /** Monitoring blackout: automatic action paused. */
  paused: boolean;
  /** Disabled by a drain that moves it (not by an operator); absent = no. */
  drainHold?: boolean;
  /** Start times of automatic recoveries still inside the budget window. */
  recoveries: number[];
  /** Last observed hypervisor reachability and VM power. */
  hostUp: boolean;
  power: VmPower;
  /** The rung being tried and when it started (for the simulator's last-rung figure). */
  rung: Rung | null;
  rungAt: number | null;
}

/** One monitoring pass's view of a VM. */
export interface Observation {
  /** The service answers (direct probe, or Ganglia's view with the paper's timings). */
  vmUp: boolean;
  /** Its hypervisor is reachable. */
  hostUp: boolean;
  /** What the hypervisor says about the VM; 'unknown' when the hypervisor cannot be asked. */
  power?: VmPower;
  /** Boot-server evidence: repeated PXE boots while its boot entry says `local`. */
  pxeLoop?: boolean;
}

export type FsmEvent =
  | ({ type: 'observe' } & Observation)
  | { type: 'timer'; id: string }
  /**
   * Outcome of a reboot/reset/start/reinstall command: done (ok), failed (the hypervisor said so),
   * or unknown (ok false, unknown true: sent, but no result came back).
   */
  | { type: 'result'; id: string; ok: boolean; unknown?: boolean; detail?: string }
  /** The installer of the VM reported failure (install-failed callback). */
  | { type: 'install-failed'; detail?: string }
  /** Outcome of a place command: the chosen hypervisor, or null when none qualifies. */
  | { type: 'placed'; id: string; host: string | null }
  /** Outcome of a fence command: is the old copy proven off? */
  | { type: 'fenced'; id: string; off: boolean; detail?: string }
  | { type: 'blackout'; active: boolean }
  /** clear: release a quarantine, or (in fence-pending) the operator vouches the old copy is off. */
  | { type: 'operator'; op: 'disable' | 'enable' | 'clear' }
  /**
   * A drain of its hypervisor: `hold` takes a running VM out of automatic action while it is
   * moved (disabled, reason drain-hold), `release` gives it back (only a hold of the drain's own).
   */
  | { type: 'drain'; op: 'hold' | 'release' }
  /** The drain moved the VM: it runs on `host` now, and the copy where it was is off (proven by the driver). */
  | { type: 'moved'; host: string; detail?: string };

export type FsmCommand =
  | { type: 'arm-timer'; id: string; ms: number }
  | { type: 'cancel-timer'; id: string }
  /** Probe this VM again now and feed an observe event back. */
  | { type: 'probe'; vm: string }
  /** `reboot` inside the guest (ssh). */
  | { type: 'reboot'; id: string; vm: string; host: string | null }
  /** Hard power cycle on the same hypervisor (start it if it is off). */
  | { type: 'reset'; id: string; vm: string; host: string }
  | { type: 'start'; id: string; vm: string; host: string }
  /** Boot entry -> install, then power cycle (`how: reset`) or start on a new host (`how: start`). */
  | { type: 'reinstall'; id: string; vm: string; host: string; how: 'reset' | 'start' }
  /** Choose a hypervisor; `prefer` is kept when it qualifies, `avoid` is never chosen. */
  | { type: 'place'; id: string; vm: string; prefer: string | null; avoid: string[] }
  /** Prove the copy on `host` off: hypervisor destroy, else the fence command with read-back. */
  | { type: 'fence'; id: string; vm: string; host: string };

/** One recorded decision. */
export interface Transition {
  from: Phase;
  to: Phase;
  reason: Reason;
  detail?: string;
}

export interface StepResult {
  state: VmFsmState;
  commands: FsmCommand[];
  /** Decisions taken in this step, in order (empty when the event changed nothing that matters). */
  transitions: Transition[];
}

/** The knobs of the machine; `paper` and `default` are the two presets (rules.ts). */
export interface FsmRules {
  name: string;
  /** Wait after the reboot rung (paper: 3 min). */
  t1: number;
  /** Wait after the restart rung (paper: 3 min). */
  t2: number;
  /** Longest a reinstall may take before the VM is quarantined. */
  installTimeout: number;
  /** Re-probe delay in `suspect`; 0 = act on the first failed observation (the paper). */
  confirmDelay: number;
  /** Retry interval in waiting-for-host and fence-pending. */
  retryInterval: number;
  /** Skip the reboot rung when the hypervisor is down. */
  skipRebootWhenHostDown: boolean;
  /** Skip the reboot rung when the hypervisor says the VM is powered off (ssh cannot reach it). */
  skipRebootWhenPoweredOff: boolean;
  /** A reboot that could not be delivered escalates at once instead of waiting T1. */
  escalateOnRebootFailure: boolean;
  /** Never start elsewhere until the old copy is proven off. */
  fence: boolean;
  /** Boot-server evidence (PXE loop with a local entry) goes straight to reinstall. */
  evidence: boolean;
  /** Automatic recoveries per window, then quarantine; null = unlimited (the paper). */
  budget: { recoveries: number; window: number } | null;
  /** Pause automatic action during a monitoring blackout. */
  blackoutPause: boolean;
  /** After an install failure, retry the reinstall on another host this many times, then quarantine. Default 0. */
  installRetries?: number;
}
