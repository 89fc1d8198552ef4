import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createLogger } from './log.js';
import { secureStateDir } from './state-dir.js';

const root = mkdtempSync(join(tmpdir(), '3rc-state-'));
after(() => rmSync(root, { recursive: true, force: true }));
const mode = (p: string) => statSync(p).mode & 0o777;

function capture() {
  const lines: { msg: string; path?: string; level: number }[] = [];
  return { lines, log: createLogger('info', { write: (l: string) => void lines.push(JSON.parse(l) as { msg: string; path?: string; level: number }) }) };
}

describe('state directory modes', () => {
  it('tightens every looser directory (0700) and file (no group/other bits), warning with the path', () => {
    const dir = join(root, 'state');
    mkdirSync(join(dir, 'vms'), { recursive: true });
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'vms'), 0o775);
    writeFileSync(join(dir, '3rc.db'), 'tokens', { mode: 0o644 });
    writeFileSync(join(dir, 'api-token'), 'secret', { mode: 0o600 });
    writeFileSync(join(dir, 'vms', 'web-sda.img'), 'disk');
    chmodSync(join(dir, 'vms', 'web-sda.img'), 0o666);
    const outside = join(root, 'outside.txt');
    writeFileSync(outside, 'not ours', { mode: 0o644 });
    symlinkSync(outside, join(dir, 'link'));
    const { lines, log } = capture();
    const fixes = secureStateDir(dir, log);
    assert.deepEqual(fixes.map((f) => [f.path, f.from, f.to]), [
      [dir, 0o755, 0o700],
      [join(dir, '3rc.db'), 0o644, 0o600],
      [join(dir, 'vms'), 0o775, 0o700],
      [join(dir, 'vms', 'web-sda.img'), 0o666, 0o600],
    ]);
    assert.equal(mode(dir), 0o700);
    assert.equal(mode(join(dir, '3rc.db')), 0o600);
    assert.equal(mode(join(dir, 'api-token')), 0o600);
    assert.equal(mode(join(dir, 'vms')), 0o700);
    assert.equal(mode(join(dir, 'vms', 'web-sda.img')), 0o600);
    assert.equal(mode(outside), 0o644, 'a symbolic link is not followed');
    assert.deepEqual(lines.filter((l) => l.level === 40).map((l) => l.path), fixes.map((f) => f.path));
    // Once fixed, nothing more to say.
    const again = capture();
    assert.deepEqual(secureStateDir(dir, again.log), []);
    assert.deepEqual(again.lines, []);
  });

  it('leaves a public directory inside it (the boot files) readable, and its way there passable', () => {
    const dir = join(root, 'with-boot');
    mkdirSync(join(dir, 'boot', 'lab'), { recursive: true });
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'boot', 'lab', 'pxelinux.0'), 'loader', { mode: 0o644 });
    writeFileSync(join(dir, '3rc.db'), 'tokens', { mode: 0o644 });
    const { log } = capture();
    const fixes = secureStateDir(dir, log, { public: [join(dir, 'boot')] });
    assert.deepEqual(fixes.map((f) => [f.path, f.from, f.to]), [
      [dir, 0o755, 0o711],
      [join(dir, '3rc.db'), 0o644, 0o600],
    ]);
    assert.equal(mode(join(dir, 'boot')), 0o755);
    assert.equal(mode(join(dir, 'boot', 'lab', 'pxelinux.0')), 0o644);
  });

  it('leaves a missing directory alone, and a shared one untouched with a warning', () => {
    const { lines, log } = capture();
    assert.deepEqual(secureStateDir(join(root, 'nope'), log), []);
    assert.deepEqual(lines, []);
    const shared = capture();
    assert.deepEqual(secureStateDir(tmpdir(), shared.log), []);
    assert.match(shared.lines[0]?.msg ?? '', /shared directory/);
  });
});
