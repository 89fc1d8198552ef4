/**
 * Databases of an earlier schema for tests: `buildAtVersion(path, v)` applies migrations[0..v)
 * to a new file, as the 3rc that shipped version v did, and inserts representative rows with
 * that version's SQL (never today's code); it returns what today's store must read back.
 */
import Database from 'better-sqlite3';
import { migrations } from './migrations.js';
import type { HostOverride, LearnedHostKeys, StoreEvent, VmState } from './store.js';
import type { BootEntry } from '../domain/boot-entry.js';
import type { Lease } from '../domain/lease.js';

export interface Expected {
  leases: Lease[];
  boot: BootEntry[];
  vms: VmState[];
  events: StoreEvent[];
  hosts: HostOverride[];
  hostKeys: LearnedHostKeys[];
}

export function buildAtVersion(path: string, v: number): Expected {
  const db = new Database(path);
  const want: Expected = { leases: [], boot: [], vms: [], events: [], hosts: [], hostKeys: [] };
  try {
    db.pragma('journal_mode = WAL');
    for (let i = 0; i < v; i++) db.exec(migrations[i]!);
    db.pragma(`user_version = ${v}`);
    if (v >= 1) {
      db.prepare("INSERT INTO leases VALUES ('10.77.0.10', '52:54:00:77:00:10', 'bound', 2000, '01aa', 'node1', 1000), ('10.77.0.11', '52:54:00:77:00:11', 'offered', 3000, NULL, NULL, 1001)").run();
      want.leases.push(
        { ip: '10.77.0.10', mac: '52:54:00:77:00:10', state: 'bound', expiresAt: 2000, clientId: '01aa', hostname: 'node1', updatedAt: 1000 },
        { ip: '10.77.0.11', mac: '52:54:00:77:00:11', state: 'offered', expiresAt: 3000, clientId: null, hostname: null, updatedAt: 1001 },
      );
      db.prepare("INSERT INTO boot_entries (mac, mode, profile, token, since) VALUES ('52:54:00:77:00:10', 'install', 'debian12', 'tok', 500)").run();
      want.boot.push({ mac: '52:54:00:77:00:10', mode: 'install', profile: 'debian12', token: 'tok', since: 500, result: null });
      db.prepare(`INSERT INTO vm_states VALUES ('vm1', 'recovering', '{"host":"hv1","attempt":2}', 700)`).run();
      want.vms.push({ vm: 'vm1', state: 'recovering', data: { host: 'hv1', attempt: 2 }, updatedAt: 700 });
      db.prepare(`INSERT INTO events (at, kind, mac, host, vm, reason, data) VALUES (800, 'ha.transition', NULL, NULL, 'vm1', 'host down', '{"from":"running","to":"recovering"}'), (900, 'dhcp.ack', '52:54:00:77:00:10', 'node1', NULL, NULL, NULL)`).run();
      want.events.push(
        { id: 1, at: 800, kind: 'ha.transition', mac: null, host: null, vm: 'vm1', reason: 'host down', data: { from: 'running', to: 'recovering' } },
        { id: 2, at: 900, kind: 'dhcp.ack', mac: '52:54:00:77:00:10', host: 'node1', vm: null, reason: null, data: null },
      );
    }
    if (v >= 2) {
      db.prepare("INSERT INTO boot_entries (mac, mode, profile, token, since, result) VALUES ('52:54:00:77:00:12', 'local', 'debian12', NULL, 600, 'done')").run();
      want.boot.push({ mac: '52:54:00:77:00:12', mode: 'local', profile: 'debian12', token: null, since: 600, result: 'done' });
      db.prepare(`INSERT INTO host_overrides VALUES ('extra', '{"name":"extra","mac":"52:54:00:77:00:13"}', 1100), ('gone', NULL, 1200)`).run();
      want.hosts.push({ name: 'extra', host: { name: 'extra', mac: '52:54:00:77:00:13' }, updatedAt: 1100 }, { name: 'gone', host: null, updatedAt: 1200 });
    }
    if (v >= 4) {
      const keys = [{ keyType: 'ssh-ed25519', base64: 'AAAA', fingerprint: 'SHA256:x' }];
      db.prepare('INSERT INTO host_keys VALUES (?, ?, ?, ?)').run('node1', '10.77.0.10', JSON.stringify(keys), 1300);
      want.hostKeys.push({ host: 'node1', address: '10.77.0.10', keys, learnedAt: 1300 });
    }
  } finally {
    db.close();
  }
  return want;
}
