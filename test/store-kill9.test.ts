/**
 * The store survives kill -9 at any moment with nothing acknowledged lost: a child process writes
 * in a loop and reports each acknowledged write; we kill it at random points, then reopen the
 * file and check that every acknowledged write is there, complete.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { SqliteStore } from '../src/store/sqlite.js';
import { keysFor } from './fixtures/kill9-keys.js';

const WRITER = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'store-writer.js');
const dir = mkdtempSync(join(tmpdir(), '3rc-kill9-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the writer from `start`, kills it with SIGKILL after `killAfter` acks; returns the acked ids. */
function runAndKill(db: string, start: number, killAfter: number, sync: string): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, db, String(start), sync], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: number[] = [];
    let buf = '';
    let err = '';
    let killed = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`writer made no progress: ${err}`));
    }, 60_000);
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        if (l.startsWith('ack ')) acked.push(Number(l.slice(4)));
      }
      if (!killed && acked.length >= killAfter) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited on its own (code ${code}): ${err}`));
      resolve(acked);
    });
  });
}

for (const sync of ['full', 'normal']) {
  describe(`SQLite store under kill -9 (sync ${sync})`, () => {
    it('keeps every acknowledged write, complete, across repeated kills', async () => {
      const db = join(dir, `${sync}.db`);
      const all: number[] = [];
      // Pseudo-random but reproducible kill points.
      let seed = sync === 'full' ? 7 : 11;
      for (let round = 0; round < 6; round++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        const killAfter = 20 + (seed % 600);
        all.push(...(await runAndKill(db, round * 1_000_000, killAfter, sync)));
      }
      assert.ok(all.length >= 6 * 20);

      const store = SqliteStore.open({ path: db });
      try {
        const leases = new Map((await store.listLeases()).map((l) => [l.mac, l]));
        const boot = new Map((await store.listBootEntries()).map((e) => [e.mac, e]));
        const vms = new Map((await store.listVmStates()).map((v) => [v.vm, v]));
        const hostKeys = new Map((await store.listHostKeys()).map((r) => [r.host, r]));
        const events = new Set((await store.queryEvents({ kind: 'test.write', limit: 10_000_000 })).map((e) => (e.data as { i: number }).i));
        const missing: string[] = [];
        for (const i of all) {
          const { mac } = keysFor(i);
          if (leases.get(mac)?.expiresAt !== i) missing.push(`lease ${i}`);
          const e = boot.get(mac);
          if (!e || e.since !== i || e.token !== (i % 2 ? `t${i}` : null)) missing.push(`boot entry ${i}`);
          if ((vms.get(`vm${i}`)?.data as { i?: number } | undefined)?.i !== i) missing.push(`vm state ${i}`);
          if (hostKeys.get(`h${i}`)?.keys[0]?.base64 !== `k${i}`) missing.push(`host keys ${i}`);
          if (!events.has(i)) missing.push(`event ${i}`);
        }
        assert.deepEqual(missing.slice(0, 10), [], `${missing.length} acknowledged writes lost`);
        // Atomicity: a write is all there or not at all (no lease without its event).
        for (const [mac, l] of leases) assert.ok(events.has(l.expiresAt), `lease ${mac} stored without its event`);
      } finally {
        await store.close();
      }
    });
  });
}
