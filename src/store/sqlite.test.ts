import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { runStoreContract } from './contract.js';
import { migrations } from './migrations.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './store.js';

const dir = mkdtempSync(join(tmpdir(), '3rc-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const paths = new WeakMap<Store, string>();

runStoreContract('sqlite', {
  async make() {
    const path = join(dir, `c${n++}.db`);
    const s = SqliteStore.open({ path, exclusive: true });
    paths.set(s, path);
    return s;
  },
  async reopen(s) {
    await s.close();
    return SqliteStore.open({ path: paths.get(s)!, exclusive: true });
  },
});

describe('SqliteStore specifics', () => {
  it('refuses a second opener while a server holds the file, and frees it on close', async () => {
    const path = join(dir, 'locked.db');
    const server = SqliteStore.open({ path, exclusive: true });
    assert.throws(() => SqliteStore.open({ path, exclusive: true }), { code: 'E_STORE_LOCKED' });
    assert.throws(() => SqliteStore.open({ path }), { code: 'E_STORE_LOCKED' });
    await server.close();
    const cli = SqliteStore.open({ path });
    await cli.close();
  });

  it('migrates to the latest schema and refuses a newer one', async () => {
    const path = join(dir, 'schema.db');
    const s = SqliteStore.open({ path });
    assert.equal(s.schemaVersion, migrations.length);
    await s.close();
    const db = new Database(path);
    db.pragma(`user_version = ${migrations.length + 1}`);
    db.close();
    assert.throws(() => SqliteStore.open({ path }), (err: Error & { code?: string }) => err.code === 'E_STORE_SCHEMA' && /newer than this 3rc/.test(err.message));
  });

  it('names the path when the store cannot be created', () => {
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'not a folder');
    const path = join(file, 'x.db');
    assert.throws(() => SqliteStore.open({ path }), (err: Error & { code?: string }) => err.code === 'E_STORE_OPEN' && err.message.includes(path));
  });
});
