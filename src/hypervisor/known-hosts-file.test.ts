import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KnownHostsFile, knownHostsSink } from './known-hosts-file.js';
import { parseReportedHostKeys } from './known-hosts-update.js';

const ED = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPFZapSbgVPaWtwPLoe9XGiRQ1Eonv2hcM/UWZkeIkLf';
const OLD = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAj4JP3i0GfU7CRnPZn/kUjbHhJD8ozajvZo2f9a9eMZ';
const keys = parseReportedHostKeys(ED).keys;

describe('the known_hosts file 3rc learns into', () => {
  const dir = mkdtempSync(join(tmpdir(), '3rc-kh-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces the host atomically (mode 0600, no temporary file left) and creates a missing file', async () => {
    const path = join(dir, 'known_hosts');
    writeFileSync(path, `# top\n10.77.0.14 ${OLD}\nhv1 ${OLD}\n`, { mode: 0o644 });
    const sink = knownHostsSink(new KnownHostsFile(path), { port: 22, domain: 'lab.test' });
    assert.deepEqual(await sink.learn({ name: 'vm14', ip: '10.77.0.14' }, keys), { file: path, replaced: 1, written: 1 });
    assert.equal(readFileSync(path, 'utf8'), `# top\n10.77.0.14 ${ED}\nhv1 ${OLD}\n`);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const fresh = join(dir, 'new_known_hosts');
    await new KnownHostsFile(fresh).replaceHost({ address: '10.77.0.15', port: 2222, names: [] }, keys);
    assert.equal(readFileSync(fresh, 'utf8'), `[10.77.0.15]:2222 ${ED}\n`);
    assert.deepEqual(readdirSync(dir).sort(), ['known_hosts', 'new_known_hosts']);
  });

  it('runs concurrent updates one after the other, so none is lost', async () => {
    const path = join(dir, 'busy');
    writeFileSync(path, '');
    const file = new KnownHostsFile(path);
    await Promise.all(Array.from({ length: 20 }, (_, i) => file.replaceHost({ address: `10.77.0.${i}`, port: 22, names: [] }, keys)));
    assert.deepEqual(readFileSync(path, 'utf8').trim().split('\n').map((l) => l.split(' ')[0]), Array.from({ length: 20 }, (_, i) => `10.77.0.${i}`));
  });

  it('writes through a symlink, which stays a symlink', async () => {
    const real = join(dir, 'real');
    const link = join(dir, 'link');
    writeFileSync(real, `10.77.0.14 ${OLD}\n`);
    symlinkSync(real, link);
    await new KnownHostsFile(link).replaceHost({ address: '10.77.0.14', port: 22, names: [] }, keys);
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readFileSync(real, 'utf8'), `10.77.0.14 ${ED}\n`);
  });

  it('rejects when the directory does not exist, and the next update still runs', async () => {
    const file = new KnownHostsFile(join(dir, 'later', 'known_hosts'));
    const first = file.replaceHost({ address: '10.77.0.14', port: 22, names: [] }, keys);
    const second = file.replaceHost({ address: '10.77.0.15', port: 22, names: [] }, keys);
    await assert.rejects(first, { code: 'ENOENT' });
    await assert.rejects(second, { code: 'ENOENT' });
    mkdirSync(join(dir, 'later'));
    await file.replaceHost({ address: '10.77.0.16', port: 22, names: [] }, keys);
    assert.equal(readFileSync(join(dir, 'later', 'known_hosts'), 'utf8'), `10.77.0.16 ${ED}\n`);
  });
});
