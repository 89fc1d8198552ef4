/**
 * Every schema version that ever landed (`git log -p src/store/migrations.ts`: 1 in 139386e,
 * 2 in 26463c2, 3 in 4743666, 4 in 40bd9ed; 0 is a new file) opens with today's code: its rows
 * survive and the version is current. And no shipped migration has been edited since (its SQL
 * is pinned by hash: a database of that version would not have it).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { migrations } from './migrations.js';
import { buildAtVersion } from './migrations-testkit.js';
import { SqliteStore } from './sqlite.js';

const dir = mkdtempSync(join(tmpdir(), '3rc-migrations-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** sha256 (first 16 hex) of each shipped migration's SQL, as it landed. */
const SHIPPED = ['79d95247d300eb06', '84fddb7da0ce34c2', '7b2d41af5eea1db2', '101eb39a4d208dea'];
const hash = (sql: string) => createHash('sha256').update(sql).digest('hex').slice(0, 16);

describe('schema migrations', () => {
  it('has not edited a shipped migration', () => {
    assert.deepEqual(migrations.slice(0, SHIPPED.length).map(hash), SHIPPED);
  });

  for (let v = 0; v < migrations.length; v++) {
    it(`opens a database of schema ${v} with today's code, keeping its rows`, async () => {
      const path = join(dir, `v${v}.db`);
      const want = buildAtVersion(path, v);
      const s = SqliteStore.open({ path, exclusive: true });
      try {
        assert.equal(s.schemaVersion, migrations.length);
        assert.deepEqual(await s.listLeases(), want.leases);
        assert.deepEqual(await s.listBootEntries(), want.boot);
        assert.deepEqual(await s.listVmStates(), want.vms);
        assert.deepEqual(await s.queryEvents(), want.events);
        assert.deepEqual(await s.listHostOverrides(), want.hosts);
        assert.deepEqual(await s.listHostKeys(), want.hostKeys);
        // And it takes today's writes: every table of today's schema exists.
        await s.write([
          { op: 'putBootEntry', entry: { mac: '52:54:00:77:00:99', mode: 'install', profile: 'p', token: 't', since: 1, result: 'failed' } },
          { op: 'putHostOverride', override: { name: 'new', host: { name: 'new' }, updatedAt: 5000 } },
          { op: 'putHostKeys', record: { host: 'new', address: '10.77.0.99', keys: [], learnedAt: 5000 } },
          { op: 'appendEvent', event: { at: 5000, kind: 'boot.set' } },
        ]);
        assert.equal((await s.queryEvents()).at(-1)!.id, want.events.length + 1);
      } finally {
        await s.close();
      }
    });
  }
});
