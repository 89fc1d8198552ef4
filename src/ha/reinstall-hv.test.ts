import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeBmc } from '../bmc/fake.js';
import { FakeClock } from '../lib/clock.js';
import { reinstallHypervisor, type ReinstallDeps } from './reinstall-hv.js';

const settle = async () => {
  for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
};

/** Advances the fake clock in steps until the promise settles. */
async function drive<T>(clock: FakeClock, p: Promise<T>, stepMs = 1000, max = 10_000): Promise<T> {
  let done = false;
  void p.then(() => (done = true), () => (done = true));
  for (let i = 0; i < max && !done; i++) {
    await settle();
    if (!done) clock.advance(stepMs);
  }
  return p;
}

/**
 * A hypervisor machine behind the fake BMC: a power cycle with the PXE override set and the boot
 * table on install starts an install that calls install-done `installMs` later; then sshd and
 * libvirtd answer `bootMs` after.
 */
function machine(o: { installMs?: number; bootMs?: number; installOutcome?: 'done' | 'failed' | 'never'; drainStops?: string } = {}) {
  const clock = new FakeClock(1_000_000);
  const bmc = new FakeBmc('hv1');
  const events: string[] = [];
  let installing = false;
  let pxedAt: number | null = null;
  let maintenance = false;
  const deps: ReinstallDeps = {
    clock,
    bmc,
    drain: async () => {
      maintenance = true;
      return o.drainStops ?? null;
    },
    setInstall: async () => {
      installing = true;
    },
    installResult: async (since) => {
      // The override was consumed by the power-on (the fake BMC clears it): the machine PXE-booted.
      if (pxedAt === null && installing && bmc.calls.includes('boot pxe') && bmc.bootOverride === null && bmc.state === 'on') pxedAt = clock.now();
      if (pxedAt === null || pxedAt < since || o.installOutcome === 'never') return null;
      if (clock.now() - pxedAt < (o.installMs ?? 600_000)) return null;
      return o.installOutcome === 'failed' ? 'failed' : 'done';
    },
    ready: async () => pxedAt !== null && clock.now() - pxedAt >= (o.installMs ?? 600_000) + (o.bootMs ?? 60_000),
    undrain: async () => {
      maintenance = false;
    },
    record: async (step, outcome, detail) => void events.push(`${step} ${outcome}${detail ? `: ${detail}` : ''}`),
    timeouts: { install: 3_600_000, ready: 900_000 },
    pollMs: 5000,
  };
  return { clock, bmc, deps, events, inMaintenance: () => maintenance };
}

describe('hv reinstall', () => {
  it('drain, one-time PXE through the BMC, power cycle, install-done, SSH and libvirt, undrain', async () => {
    const m = machine();
    const r = await drive(m.clock, reinstallHypervisor('hv1', m.deps), 5000);
    assert.equal(r.failed, null);
    assert.deepEqual(r.steps.map((s) => s.step), ['drain', 'pxe', 'cycle', 'install', 'ready', 'undrain']);
    // The override before the cycle; the cycle is off read back off, then on.
    assert.equal(m.bmc.calls[0], 'boot pxe');
    assert.ok(m.bmc.calls.indexOf('off') < m.bmc.calls.indexOf('on'), m.bmc.calls.join(' '));
    assert.equal(m.bmc.bootOverride, null, 'the override was used by the power-on');
    assert.equal(m.bmc.state, 'on');
    assert.ok(r.steps.find((s) => s.step === 'install')!.ms >= 600_000);
    assert.equal(m.inMaintenance(), false);
    assert.deepEqual(m.events.filter((e) => e.endsWith('done')), ['drain done', 'pxe done', 'cycle done', 'install done', 'ready done', 'undrain done']);
  });

  it('an install that never calls back fails at install after its timeout; the host stays in maintenance', async () => {
    const m = machine({ installOutcome: 'never' });
    const r = await drive(m.clock, reinstallHypervisor('hv1', m.deps), 60_000);
    assert.deepEqual(r.failed?.step, 'install');
    assert.match(r.failed!.why, /install-done callback: not within 3600 s/);
    assert.ok(r.ms >= 3_600_000 && r.ms < 3_700_000, String(r.ms));
    assert.equal(m.inMaintenance(), true);
    assert.ok(m.events.includes(`install failed: ${r.failed!.why}`));
  });

  it('an install-failed callback fails at install at once', async () => {
    const m = machine({ installOutcome: 'failed' });
    const r = await drive(m.clock, reinstallHypervisor('hv1', m.deps), 5000);
    assert.equal(r.failed?.step, 'install');
    assert.match(r.failed!.why, /installer reported failure/);
  });

  it('a BMC that does not answer fails at pxe, after the drain; a stopped drain fails before the BMC is touched', async () => {
    const m = machine();
    m.bmc.down = true;
    const r = await drive(m.clock, reinstallHypervisor('hv1', m.deps));
    assert.equal(r.failed?.step, 'pxe');
    assert.match(r.failed!.why, /no answer from the BMC/);
    assert.equal(m.inMaintenance(), true);

    const s = machine({ drainStops: 'no hypervisor can take vm10: hv2 memory' });
    const r2 = await drive(s.clock, reinstallHypervisor('hv1', s.deps));
    assert.deepEqual(r2.failed, { step: 'drain', why: 'drain stopped: no hypervisor can take vm10: hv2 memory' });
    assert.deepEqual(s.bmc.calls, []);
  });

  it('a power cycle the BMC cannot read back on fails at cycle; a host that never answers SSH fails at ready', async () => {
    const m = machine();
    m.bmc.stuck = 'off';
    const r = await drive(m.clock, reinstallHypervisor('hv1', m.deps));
    assert.equal(r.failed?.step, 'cycle');

    const n = machine({ bootMs: 10 * 3_600_000 });
    const r2 = await drive(n.clock, reinstallHypervisor('hv1', n.deps), 60_000);
    assert.equal(r2.failed?.step, 'ready');
    assert.match(r2.failed!.why, /SSH and libvirt answering: not within 900 s/);
  });

  it('no BMC: refused before anything changes', async () => {
    const m = machine();
    const r = await reinstallHypervisor('hv1', { ...m.deps, bmc: null });
    assert.equal(r.failed?.step, 'pxe');
    assert.match(r.failed!.why, /no bmc/);
    assert.equal(m.inMaintenance(), false);
  });
});
