import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { BootFiles, checkRequestPath } from './files.js';
import { toNetascii, netasciiSize } from './netascii.js';

const dir = mkdtempSync(join(tmpdir(), '3rc-tftp-files-'));
const root = join(dir, 'boot');
mkdirSync(join(root, 'sub'), { recursive: true });
writeFileSync(join(root, 'pxelinux.0'), 'loader');
writeFileSync(join(root, 'sub', 'a.txt'), 'aaa');
writeFileSync(join(dir, 'secret'), 'secret');
symlinkSync(join(dir, 'secret'), join(root, 'out'));
symlinkSync('sub/a.txt', join(root, 'in'));
symlinkSync(dir, join(root, 'outdir'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('request names: the documented decisions', () => {
  const ok = (n: string) => {
    const r = checkRequestPath(n);
    return r.ok ? r.rel : `refused:${r.reason}`;
  };
  assert.equal(ok('pxelinux.0'), 'pxelinux.0');
  assert.equal(ok('/pxelinux.0'), 'pxelinux.0', 'one leading slash is stripped (tftpd-hpa -s, GRUB)');
  assert.equal(ok('./a/./b'), 'a/b');
  assert.equal(ok('//etc/passwd'), 'refused:absolute-path');
  assert.equal(ok('../etc/passwd'), 'refused:dot-dot');
  assert.equal(ok('a/../../x'), 'refused:dot-dot');
  assert.equal(ok('a/..'), 'refused:dot-dot');
  assert.equal(ok('..\\..\\x'), 'refused:backslash');
  assert.equal(ok('a\\b'), 'refused:backslash');
  assert.equal(ok('a\0b'), 'refused:control-character');
  assert.equal(ok('a\nb'), 'refused:control-character');
  assert.equal(ok('a//b'), 'refused:empty-component');
  assert.equal(ok('a/'), 'refused:empty-component');
  assert.equal(ok(''), 'refused:empty-name');
  assert.equal(ok('/'), 'refused:empty-component');
  assert.equal(ok('x'.repeat(2000)), 'refused:name-too-long');
  for (const r of ['../x', '//x', 'a\\b', 'a\0']) assert.equal((checkRequestPath(r) as { code: number }).code, 2);
});

test('opens files inside the root, follows symlinks only while they stay inside', async () => {
  const files = new BootFiles(root, 1 << 20);
  const a = await files.open('pxelinux.0');
  assert.ok(!('ok' in a) && a.data.toString() === 'loader');
  const b = await files.open('in');
  assert.ok(!('ok' in b) && b.data.toString() === 'aaa');
  assert.deepEqual(await files.open('out'), { ok: false, code: 2, reason: 'outside-root' });
  assert.deepEqual(await files.open('outdir/secret'), { ok: false, code: 2, reason: 'outside-root' });
  assert.deepEqual(await files.open('/etc/passwd'), { ok: false, code: 1, reason: 'not-found' });
  assert.deepEqual(await files.open('missing'), { ok: false, code: 1, reason: 'not-found' });
  assert.deepEqual(await files.open('pxelinux.0/x'), { ok: false, code: 1, reason: 'not-found' });
  assert.deepEqual(await files.open('sub'), { ok: false, code: 2, reason: 'not-a-file' });
  assert.deepEqual(await new BootFiles(join(dir, 'nope'), 0).open('x'), { ok: false, code: 1, reason: 'no-boot-root' });
});

test('cache: hits without reading, invalidated by a change of size or mtime, LRU within budget', async () => {
  const files = new BootFiles(root, 10);
  writeFileSync(join(root, 'k'), '12345');
  writeFileSync(join(root, 'l'), '67890');
  writeFileSync(join(root, 'm'), 'abc');
  const first = await files.open('k');
  assert.ok(!('ok' in first) && !first.cached);
  // Read once, into shared memory (the TFTP workers read it without a copy).
  assert.ok(!('ok' in first) && first.data.buffer instanceof SharedArrayBuffer);
  const second = await files.open('k');
  assert.ok(!('ok' in second) && second.cached && second.data === first.data);
  writeFileSync(join(root, 'k'), '123456');
  const changed = await files.open('k');
  assert.ok(!('ok' in changed) && !changed.cached && changed.data.toString() === '123456');
  // Same size, new mtime.
  writeFileSync(join(root, 'k'), '654321');
  utimesSync(join(root, 'k'), new Date(), new Date(Date.now() + 5000));
  const touched = await files.open('k');
  assert.ok(!('ok' in touched) && !touched.cached && touched.data.toString() === '654321');
  await files.open('m'); // 6 + 3 = 9 bytes
  await files.open('k'); // k most recent
  await files.open('l'); // 5 more: evicts the least recently used (m)
  assert.ok(files.stats().bytes <= 10);
  const k = await files.open('k');
  assert.ok(!('ok' in k) && !k.cached, 'k (6) + l (5) > 10: k was evicted when l came in');
  // Concurrent opens of a new file share one read.
  writeFileSync(join(root, 'n'), 'nnn');
  const before = files.stats().misses;
  const all = await Promise.all([files.open('n'), files.open('n'), files.open('n')]);
  assert.ok(all.every((r) => !('ok' in r) && r.data.toString() === 'nnn'));
  assert.equal(files.stats().misses - before, 3);
  const zero = new BootFiles(root, 0);
  await zero.open('m');
  assert.equal(zero.stats().entries, 0, 'cacheMb 0 caches nothing');
});

test('cache hits after one stat: the same file only; a retargeted symlink or directory, a replaced or changed file take the full path', async () => {
  const files = new BootFiles(root, 1 << 20);
  const open = async (name: string) => {
    const before = files.stats().statOnly;
    const r = await files.open(name);
    return { r, statOnly: files.stats().statOnly - before, text: 'ok' in r ? `refused:${r.reason}` : r.data.toString() };
  };
  writeFileSync(join(root, 'f1'), 'one');
  writeFileSync(join(dir, 'outside'), 'outside');
  symlinkSync('f1', join(root, 'flip'));
  mkdirSync(join(root, 'd1'));
  writeFileSync(join(root, 'd1', 'x'), 'x in d1');
  symlinkSync('d1', join(root, 'dl'));
  const first = await open('flip');
  assert.deepEqual([first.text, first.statOnly], ['one', 0], 'the first open resolves, reads and caches');
  const again = await open('/flip');
  assert.equal(again.text, 'one');
  assert.equal(again.statOnly, 1, 'a cached file is served after one stat');
  assert.ok(!('ok' in again.r) && again.r.cached);
  // The symlink now leads out of the root: refused, never the cached copy.
  unlinkSync(join(root, 'flip'));
  symlinkSync(join(dir, 'outside'), join(root, 'flip'));
  assert.deepEqual([(await open('flip')).text, (await open('flip')).statOnly], ['refused:outside-root', 0]);
  // A directory symlink retargeted outside: refused.
  assert.equal((await open('dl/x')).text, 'x in d1');
  assert.equal((await open('dl/x')).statOnly, 1);
  unlinkSync(join(root, 'dl'));
  symlinkSync(dir, join(root, 'dl'));
  writeFileSync(join(dir, 'x'), 'x outside');
  assert.equal((await open('dl/x')).text, 'refused:outside-root');
  // Replaced by another file (rename over it, same size and mtime): the new content.
  assert.equal((await open('f1')).text, 'one');
  writeFileSync(join(root, 'f1.new'), 'two');
  utimesSync(join(root, 'f1.new'), new Date(1e12), new Date(1e12));
  utimesSync(join(root, 'f1'), new Date(1e12), new Date(1e12));
  assert.equal((await open('f1')).text, 'one');
  renameSync(join(root, 'f1.new'), join(root, 'f1'));
  assert.deepEqual([(await open('f1')).text, (await open('f1')).statOnly], ['two', 1]);
  // Rewritten in place with the same size and mtime restored: the ctime moved.
  await new Promise((r) => setTimeout(r, 20));
  writeFileSync(join(root, 'f1'), 'TWO');
  utimesSync(join(root, 'f1'), new Date(1e12), new Date(1e12));
  assert.equal((await open('f1')).text, 'TWO');
  // Gone: not served from the cache.
  unlinkSync(join(root, 'f1'));
  assert.equal((await open('f1')).text, 'refused:not-found');
});

test('netascii: LF -> CR LF, CR -> CR NUL, size is the translated size', () => {
  const src = Buffer.from('a\nb\rc\r\n');
  assert.deepEqual([...toNetascii(src)], [...Buffer.from('a\r\nb\r\0c\r\0\r\n')]);
  assert.equal(netasciiSize(src), 11);
  assert.equal(toNetascii(Buffer.alloc(0)).length, 0);
});
