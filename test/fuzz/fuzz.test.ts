/**
 * The fuzz campaign at CI size: a few thousand random and mutated packets per
 * protocol (FUZZ_PACKETS, default 3000) from random sources, port 0 included, then the pass
 * criteria of each protocol: 3rc alive, a real client answered, no event-loop stall over 50 ms,
 * RSS and the events table bounded. `npm run fuzz -- --packets 1000000` is the full-size run.
 * Needs root (network namespaces) and the real clients; skipped with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { DEFAULTS, fuzzUnavailable, PROTOCOLS, runFuzz, type FuzzReport } from './harness.js';

const skip = fuzzUnavailable();
if (skip) console.log(`# fuzz campaign skipped: ${skip}`);

describe('fuzz campaign: DHCP, TFTP, DNS, HTTP from random sources', { skip, timeout: 600_000 }, () => {
  let report: FuzzReport;
  before(async () => {
    const packets = Number(process.env.FUZZ_PACKETS ?? DEFAULTS.packets);
    report = await runFuzz({ ...DEFAULTS, packets, seed: Number(process.env.FUZZ_SEED ?? DEFAULTS.seed), log: (l) => console.log(l) });
  }, { timeout: 600_000 });

  for (const p of PROTOCOLS) {
    it(`${p}: alive, answers a real client, no stall over 50 ms, RSS and store bounded`, () => {
      const r = report.results.find((x) => x.protocol === p);
      assert.ok(r, `${p} was not fuzzed`);
      assert.ok(r.packets > 0, `${p}: no packet sent`);
      const failed = r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
      assert.deepEqual(failed, [], `${p} failed:\n${failed.join('\n')}`);
    });
  }
});
