/** `3rc status`, `3rc ha` and /api/v1/ha against a running 3rc whose controller cannot run here. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SqliteStore } from '../src/store/sqlite.js';
import { cli, serve, writeLabConfig } from './lib/serve.js';
import { join } from 'node:path';

describe('HA status', () => {
  it('says why the controller is not running, and refuses operator actions with that reason', async () => {
    const cfg = await writeLabConfig();
    try {
      const s = await serve(cfg);
      try {
        const api = (await (await fetch(`${s.url}/api/v1/ha`)).json()) as { active: boolean; reason: string; vms: unknown[]; admission: unknown };
        assert.equal(api.active, false);
        assert.equal(api.admission, null);
        assert.equal(api.reason, "ha.enabled is false in the config");
        const st = await cli(['status', '--config', cfg.file]);
        assert.equal(st.code, 0, st.stderr);
        assert.match(st.stdout, /^HA controller: not running: ha.enabled is false in the config\n/);
        const op = await cli(['ha', 'disable', 'vm10', '--config', cfg.file]);
        assert.equal(op.code, 1);
        assert.match(op.stderr, /409 the HA controller is not running: ha.enabled is false/);
        const bad = await cli(['ha', 'reboot', 'vm10', '--config', cfg.file]);
        assert.equal(bad.code, 2);
      } finally {
        await s.stop();
      }
      // Without a server: the states last persisted.
      const store = SqliteStore.open({ path: join(cfg.dir, '3rc.db') });
      await store.write([{ op: 'putVmState', state: { vm: 'vm11', state: 'quarantined', updatedAt: Date.now(), data: { phase: 'quarantined', reason: 'budget-exhausted', since: Date.now() - 60_000, host: 'hv1', recoveries: [Date.now() - 1000, Date.now() - 2000, Date.now() - 3000] } } }]);
      await store.close();
      const st = await cli(['status', '--config', cfg.file]);
      assert.equal(st.code, 0, st.stderr);
      assert.match(st.stdout, /^HA controller: no 3rc server is running; the states it last persisted:\n/);
      // Admission on the config's cluster: the example's hv2 has no CPU left for hv1's VMs.
      assert.match(st.stdout, /^capacity: N\+1 does not hold: hv1 failure would leave vm10, vm11, vm14 without room: cpus \(1 more failure cases fail too\) \(computed on the config's cluster\)$/m);
      // The state, its host, reason and budget; not how many seconds the CLI took to start.\n      assert.match(st.stdout, /^vm11\s+quarantined\s+hv1\s+\d+[smh] ago\s+budget-exhausted\s+3\/3$/m);
      const op = await cli(['ha', 'clear', 'vm11', '--config', cfg.file]);
      assert.equal(op.code, 1);
      assert.match(op.stderr, /runs inside `3rc serve`/);
    } finally {
      cfg.cleanup();
    }
  });
});
