/**
 * The two rule sets of the state machine. `paper` is the 3RC paper's FSM as published: act on
 * the first failed observation, always try the reboot rung and wait T1, then T2, no fencing, no
 * evidence, no budget, no blackout pause. `default` is 3rc's: every rule of design.md on top.
 */
import type { FsmRules } from './fsm-types.js';

const MIN = 60_000;

/** The paper's FSM (T1 = T2 = 3 min unless overridden). */
export function paperRules(over: Partial<FsmRules> = {}): FsmRules {
  return {
    name: 'paper',
    t1: 3 * MIN,
    t2: 3 * MIN,
    installTimeout: 30 * MIN,
    confirmDelay: 0,
    retryInterval: MIN,
    skipRebootWhenHostDown: false,
    skipRebootWhenPoweredOff: false,
    escalateOnRebootFailure: false,
    fence: false,
    evidence: false,
    budget: null,
    blackoutPause: false,
    ...over,
  };
}

/** 3rc's rules. Config gives t1, t2 and the budget; the rest are defaults documented here. */
export function defaultRules(over: Partial<FsmRules> = {}): FsmRules {
  return {
    name: 'default',
    t1: 3 * MIN,
    t2: 3 * MIN,
    // The paper's install takes ~442 s; 30 min leaves room for a slow mirror.
    installTimeout: 30 * MIN,
    // One quick re-probe filters a dropped packet without waiting a whole scan.
    confirmDelay: 3_000,
    retryInterval: 10_000,
    skipRebootWhenHostDown: true,
    skipRebootWhenPoweredOff: true,
    escalateOnRebootFailure: true,
    fence: true,
    evidence: true,
    budget: { recoveries: 3, window: 60 * MIN },
    blackoutPause: true,
    installRetries: 1,
    ...over,
  };
}

/** Rules from the `ha` section of the config. */
export function rulesFromConfig(ha: { t1: number; t2: number; scanInterval: number; budget: { recoveries: number; window: number } }): FsmRules {
  return defaultRules({ t1: ha.t1, t2: ha.t2, retryInterval: ha.scanInterval, budget: { ...ha.budget } });
}
