/**
 * `3rc serve` keeps its state directory for itself: the store (install tokens), its WAL, the API
 * token and anything else there end up owner-only, and what it had to tighten is logged by path.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { serve, writeLabConfig } from './lib/serve.js';

const mode = (p: string) => statSync(p).mode & 0o777;

describe('state directory at start-up', () => {
  it('a fresh store is 0600 and a 0755 directory with a 0644 file is tightened, with warnings', async () => {
    const cfg = await writeLabConfig({ servers: { dhcp: { enabled: false }, tftp: { enabled: false }, dns: { enabled: false } } });
    try {
      chmodSync(cfg.dir, 0o755);
      const stale = join(cfg.dir, 'web-sda.img');
      writeFileSync(stale, 'a disk');
      chmodSync(stale, 0o644);
      const s = await serve(cfg);
      try {
        // The test config keeps its boot files (public: TFTP and HTTP serve them to anyone) in
        // cfg.dir/boot: the directory stays passable (0711) so that they can be reached, never listable.
        assert.equal(mode(cfg.dir), 0o711);
        assert.equal(mode(stale), 0o600);
        for (const f of ['3rc.db', '3rc.db-wal', 'api-token']) {
          const p = join(cfg.dir, f);
          if (f.endsWith('-wal') && !existsSync(p)) continue;
          assert.equal(mode(p), 0o600, f);
        }
        const warned = s.lines.map((l) => JSON.parse(l) as { level: number; path?: string; msg: string }).filter((l) => l.level === 40 && /state directory/.test(l.msg)).map((l) => l.path);
        assert.deepEqual(warned.sort(), [cfg.dir, cfg.file, stale].sort());
      } finally {
        await s.stop();
      }
    } finally {
      cfg.cleanup();
    }
  });
});
