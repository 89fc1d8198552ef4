import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReinstallStep } from './reinstall-hv.js';
import { cutHost, parseStepReason, remainingHosts, restoredRoll, resumePoint, type RecordedStep } from './roll-state.js';
import { newRoll, type RollProgress } from './roll.js';

/** Steps as `step outcome@at`, e.g. `cycle started@50`. */
const steps = (...s: string[]): RecordedStep[] =>
  s.map((x) => {
    const [step, rest] = x.split(' ');
    const [outcome, at] = rest!.split('@');
    return { step: step as ReinstallStep, outcome: outcome as RecordedStep['outcome'], at: Number(at) };
  });

const running = (over: Partial<RollProgress> = {}): RollProgress => ({ ...newRoll(['hv1', 'hv2', 'hv3'], 10), done: ['hv1'], current: 'hv2', ...over });

describe('roll state across restarts', () => {
  it('parseStepReason reads reinstall-STEP-OUTCOME and nothing else', () => {
    assert.deepEqual(parseStepReason('reinstall-cycle-started', 5), { step: 'cycle', outcome: 'started', at: 5 });
    assert.deepEqual(parseStepReason('reinstall-undrain-done', 6), { step: 'undrain', outcome: 'done', at: 6 });
    for (const r of ['migrated', 'reinstall-boot-done', 'reinstall-install-maybe', null]) assert.equal(parseStepReason(r, 1), null);
  });

  it('restoredRoll: an ended roll as it was; an unfinished one stopped at its host, naming the step reached', () => {
    const ended = { ...running(), current: null, endedAt: 99 };
    assert.equal(restoredRoll(ended, [], 500), ended);
    assert.equal(restoredRoll(null, [], 500), null);
    const cut = restoredRoll(running(), steps('drain started@20', 'drain done@30', 'pxe started@31'), 500)!;
    assert.deepEqual({ ...cut, stopped: { ...cut.stopped!, why: '' } }, { ...running(), current: null, endedAt: 500, stopped: { host: 'hv2', why: '', interrupted: true } });
    assert.equal(cut.stopped!.why, '3rc restarted during the roll, at hv2: its reinstall had reached pxe (started); 3rc hv roll --resume goes on');
    assert.match(restoredRoll(running(), [], 500)!.stopped!.why, /at hv2: before its reinstall began/);
  });

  it('cutHost: the current host, else the first not done (the progress is written without waiting)', () => {
    assert.equal(cutHost(running()), 'hv2');
    assert.equal(cutHost(running({ current: null })), 'hv2');
    assert.equal(cutHost(running({ current: null, done: ['hv1', 'hv2', 'hv3'] })), null);
    assert.deepEqual(remainingHosts(running({ done: ['hv2'] })), ['hv1', 'hv3']);
  });

  it('resumePoint: from the start before the power cycle; from the boot override when the cycle outcome is unknown; from the install (never cycled again) once it was done; done after the undrain', () => {
    assert.deepEqual(resumePoint([]), { from: 'drain', installSince: null });
    assert.deepEqual(resumePoint(steps('drain started@1', 'drain done@2', 'pxe started@3', 'pxe done@4')), { from: 'drain', installSince: null });
    // The cycle's outcome unknown (cut between its start and its end): boot override and cycle again.
    assert.deepEqual(resumePoint(steps('drain done@2', 'pxe done@4', 'cycle started@5')), { from: 'pxe', installSince: null });
    assert.deepEqual(resumePoint(steps('drain done@2', 'pxe done@4', 'cycle started@5', 'cycle done@6')), { from: 'install', installSince: 5 });
    assert.deepEqual(resumePoint(steps('pxe done@4', 'cycle started@5', 'cycle done@9', 'install started@9')), { from: 'install', installSince: 5 });
    assert.deepEqual(resumePoint(steps('cycle started@5', 'install done@60', 'ready started@60')), { from: 'ready', installSince: 5 });
    assert.deepEqual(resumePoint(steps('cycle started@5', 'ready done@70', 'undrain started@70')), { from: 'undrain', installSince: 5 });
    assert.equal(resumePoint(steps('cycle started@5', 'undrain started@70', 'undrain done@71')), 'done');
  });
});
