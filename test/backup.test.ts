/**
 * `3rc backup` and `3rc restore` against a real `3rc serve`: a backup taken while it serves,
 * a restore refused while it serves, a second backup cut by kill -9 of the server (the last good
 * backup is kept as it was), `restore --force` waiting for a restarted server to stop, and the
 * restored store holding every lease, host and HA decision written before the good backup.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { SqliteStore } from '../src/store/sqlite.js';
import type { StoreOp } from '../src/store/store.js';
import { BIN, cli, serve, writeLabConfig, type Served } from './lib/serve.js';

interface HostView {
  name: string;
  boot: { mode: string; profile: string } | null;
}

/** Resolves once the server has logged `msg` for the n-th time. */
async function logged(s: Served, msg: string, n: number): Promise<void> {
  while (s.lines.filter((l) => l.includes(`"msg":"${msg}"`)).length < n) await new Promise((r) => setTimeout(r, 5));
}

describe('3rc backup and restore with a running 3rc', () => {
  it('keeps the last good backup when 3rc is killed -9 during the next one, and restores it', async () => {
    const cfg = await writeLabConfig();
    const storePath = (cfg.data.store as { path: string }).path;
    const file = join(cfg.dir, 'backups', '3rc.backup');
    try {
      // What 3rc holds before it serves: leases, HA state and decisions, a host added through the
      // API, and 40 MB of boot trace (so that the copy takes long enough to be interrupted).
      const now = Date.now();
      const records: StoreOp[] = [
        { op: 'putLease', lease: { ip: '10.77.0.10', mac: '52:54:00:77:00:10', state: 'bound', expiresAt: now + 3_600_000, clientId: null, hostname: 'vm10', updatedAt: now } },
        { op: 'putVmState', state: { vm: 'vm10', state: 'quarantined', data: { recoveries: 3 }, updatedAt: now } },
        { op: 'appendEvent', event: { at: now, kind: 'ha.transition', vm: 'vm10', reason: 'host down', data: { from: 'running', to: 'recovering' } } },
        { op: 'appendEvent', event: { at: now, kind: 'ha.action', vm: 'vm10', reason: 'restart', data: { action: 'start' } } },
        { op: 'putHostOverride', override: { name: 'extra', host: { name: 'extra', mac: '52:54:00:77:00:42', ip: '10.77.0.42', profile: 'debian12' }, updatedAt: now } },
      ];
      mkdirSync(dirname(file));
      const seed = SqliteStore.open({ path: storePath });
      await seed.write(records);
      for (let b = 0; b < 16; b++) {
        await seed.write(Array.from({ length: 5000 }, (_, i): StoreOp => ({ op: 'appendEvent', event: { at: now, kind: 'dhcp.discover', mac: '52:54:00:77:00:99', data: { i: b * 5000 + i, pad: 'x'.repeat(500) } } })));
      }
      const seeded = { leases: await seed.listLeases(), vms: await seed.listVmStates(), ha: await seed.queryEvents({ vm: 'vm10' }), hosts: await seed.listHostOverrides() };
      await seed.close();

      let s = await serve(cfg);
      let hostsAtBackup: HostView[];
      try {
        const flip = await cli(['boot', 'vm10', '--install', 'rocky9', '-c', cfg.file]);
        assert.equal(flip.code, 0, flip.stderr);
        hostsAtBackup = (await (await fetch(`${s.url}/api/v1/hosts`)).json()) as HostView[];

        const good = await cli(['backup', file, '-c', cfg.file]);
        assert.equal(good.code, 0, good.stderr);
        assert.match(good.stdout, /^backup .*3rc\.backup: sqlite store, schema \d+, taken .* by 3rc .*, taken by the running 3rc at http/);
        assert.equal(statSync(file).mode & 0o777, 0o600);
        const goodBytes = readFileSync(file);

        const refused = await cli(['restore', file, '-c', cfg.file]);
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /served by a running 3rc: stop it first .*--force.*nothing was restored/);

        // After the good backup: may be lost by a restore of it.
        assert.equal((await cli(['boot', 'vm11', '--install', 'rocky9', '-c', cfg.file])).code, 0);

        // The next backup, into the same file: the CLI is held (SIGSTOP) once the server has the
        // request, so the server's answer cannot be read to its end before the server dies.
        const second = spawn(process.execPath, [BIN, 'backup', file, '-c', cfg.file], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        second.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const done = new Promise<number | null>((r) => second.on('close', (code) => r(code)));
        await logged(s, 'backup: started', 2);
        second.kill('SIGSTOP');
        await logged(s, 'backup: copied, sending', 2);
        await s.kill9();
        second.kill('SIGCONT');
        assert.equal(await done, 1);
        assert.match(stderr, /the backup from http.* did not arrive complete .*3rc\.backup was not changed/);
        assert.deepEqual(readFileSync(file), goodBytes);
        assert.deepEqual(readdirSync(dirname(file)), [basename(file)]);
      } finally {
        await s.kill9();
      }

      // A restarted 3rc; `restore --force` waits for it to stop, then restores.
      s = await serve(cfg);
      try {
        const forced = spawn(process.execPath, [BIN, 'restore', file, '--force', '-c', cfg.file], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        forced.stdout.on('data', (d: Buffer) => (out += d.toString()));
        forced.stderr.on('data', (d: Buffer) => (err += d.toString()));
        const done = new Promise<number | null>((r) => forced.on('close', (code) => r(code)));
        while (!err.includes('waiting for it to stop')) await new Promise((r) => setTimeout(r, 20));
        // Still serving while the restore waits.
        assert.equal((await fetch(`${s.url}/api/v1/health`)).status, 200);
        await s.stop();
        assert.equal(await done, 0, err);
        assert.match(out, /^restored .*3rc\.backup \(sqlite store.*\) into .*3rc\.db: .*\d+ leases/);
      } finally {
        await s.kill9();
      }

      // Nothing written before the good backup is lost.
      const back = SqliteStore.open({ path: storePath });
      try {
        assert.deepEqual(await back.listLeases(), seeded.leases);
        assert.deepEqual(await back.listVmStates(), seeded.vms);
        assert.deepEqual((await back.queryEvents({ vm: 'vm10' })).filter((e) => e.kind.startsWith('ha.')), seeded.ha);
        assert.deepEqual(await back.listHostOverrides(), seeded.hosts);
      } finally {
        await back.close();
      }
      s = await serve(cfg);
      try {
        const hosts = (await (await fetch(`${s.url}/api/v1/hosts`)).json()) as HostView[];
        const boot = (h: HostView[]) => Object.fromEntries(h.map((x) => [x.name, x.boot && `${x.boot.mode} ${x.boot.profile}`]));
        assert.deepEqual(boot(hosts), boot(hostsAtBackup));
        assert.equal(boot(hosts).vm10, 'install rocky9');
        assert.ok(hosts.some((h) => h.name === 'extra'));
      } finally {
        await s.stop();
      }
    } finally {
      cfg.cleanup();
    }
  });
});
