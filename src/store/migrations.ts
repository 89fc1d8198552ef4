/**
 * SQLite schema, as an ordered list of migrations. The database's `user_version` is the number
 * of migrations applied; never edit one that has shipped: append a new one (migrations.test.ts
 * opens a database of every earlier version with today's code).
 */
import type Database from 'better-sqlite3';
import { ErrorCodes, StoreError } from '../lib/errors.js';

export const migrations: readonly string[] = [
  // 1: leases, boot entries, controller state, event log.
  `
  CREATE TABLE leases (
    ip TEXT PRIMARY KEY,
    mac TEXT NOT NULL,
    state TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    client_id TEXT,
    hostname TEXT,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX leases_mac ON leases(mac);

  CREATE TABLE boot_entries (
    mac TEXT PRIMARY KEY,
    mode TEXT NOT NULL CHECK (mode IN ('local', 'install')),
    profile TEXT NOT NULL,
    token TEXT,
    since INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE vm_states (
    vm TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    data TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    mac TEXT,
    host TEXT,
    vm TEXT,
    reason TEXT,
    data TEXT
  ) STRICT;
  CREATE INDEX events_mac ON events(mac, id);
  CREATE INDEX events_host ON events(host, id);
  CREATE INDEX events_vm ON events(vm, id);
  `,
  // 2: last install result per boot entry; hosts created, changed or deleted through the API.
  `
  ALTER TABLE boot_entries ADD COLUMN result TEXT CHECK (result IN ('done', 'failed', 'expired'));

  CREATE TABLE host_overrides (
    name TEXT PRIMARY KEY,
    data TEXT,
    updated_at INTEGER NOT NULL
  ) STRICT;
  `,
  // 3: the API's and the retention's event reads all use an index: by kind (GET
  // /api/v1/ha, P2V jobs); by id (paging, pruning the oldest) is the primary key.
  `
  CREATE INDEX events_kind ON events(kind, id);
  `,
  // 4: SSH host keys learned from install-done calls (issue 20), one row per host, the keys as
  // JSON: the source of truth for guest SSH host key checks (a local known_hosts file was not
  // shared by the instances of a redundant 3rc).
  `
  CREATE TABLE host_keys (
    host TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    keys TEXT NOT NULL,
    learned_at INTEGER NOT NULL
  ) STRICT;
  `,
];

/**
 * Brings a database to the current schema (in one transaction); refuses a newer one than this
 * 3rc knows, naming both versions.
 */
export function migrate(db: Database.Database, path: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > migrations.length) {
    throw new StoreError(ErrorCodes.STORE_SCHEMA, `store ${path} has schema version ${version}, newer than this 3rc knows (${migrations.length}): upgrade 3rc`);
  }
  if (version === migrations.length) return;
  db.transaction(() => {
    for (let v = version; v < migrations.length; v++) db.exec(migrations[v]!);
    db.pragma(`user_version = ${migrations.length}`);
  }).immediate();
}
