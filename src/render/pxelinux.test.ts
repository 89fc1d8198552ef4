import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../config/load.js';
import { Inventory } from '../inventory/inventory.js';
import { packageRoot } from '../lib/paths.js';
import type { BootEntry } from '../domain/boot-entry.js';
import { bootSources } from '../boot/booter.js';
import { readableBy } from '../boot/virtual.js';
import { compilePxelinuxTemplate, defaultConfig, parsePxelinuxName, pxelinuxFiles } from './pxelinux.js';

const config = parseConfig(readFileSync(join(packageRoot(), 'examples', 'lab.yaml'), 'utf8'), join(packageRoot(), 'examples', 'lab.yaml'));
const inventory = Inventory.fromConfig(config);
const template = compilePxelinuxTemplate(readFileSync(join(packageRoot(), 'templates', 'pxelinux.cfg.hbs'), 'utf8'));
const entries = new Map<string, BootEntry>();
const files = pxelinuxFiles(bootSources(config, inventory, { get: (m: string) => entries.get(m) }), template);

test('names: pxelinux search order, with or without a loader directory', () => {
  assert.deepEqual(parsePxelinuxName('pxelinux.cfg/01-52-54-00-77-00-10'), { prefix: '', name: '01-52-54-00-77-00-10', mac: '52:54:00:77:00:10' });
  assert.deepEqual(parsePxelinuxName('efi64/pxelinux.cfg/01-52-54-00-77-00-AA'), { prefix: 'efi64', name: '01-52-54-00-77-00-AA', mac: '52:54:00:77:00:aa' });
  assert.deepEqual(parsePxelinuxName('pxelinux.cfg/0A4D000A'), { prefix: '', name: '0A4D000A', mac: null });
  assert.deepEqual(parsePxelinuxName('pxelinux.cfg/b8945908-d6a6-41a9-611d-74a6ab80b83d')?.mac, null);
  assert.deepEqual(parsePxelinuxName('pxelinux.cfg/default')?.name, 'default');
  assert.equal(parsePxelinuxName('pxelinux.0'), null);
  assert.equal(parsePxelinuxName('pxelinux.cfg/a/b'), null);
});

test('local entry for a known host; unknown MAC -> null (falls through to the root)', () => {
  entries.set('52:54:00:77:00:10', { mac: '52:54:00:77:00:10', mode: 'local', profile: 'debian12', token: null, since: 0 });
  const v = files.generated('pxelinux.cfg/01-52-54-00-77-00-10')!;
  assert.equal(v.mode, 'local');
  assert.match(v.content, /^DEFAULT local$/m);
  assert.match(v.content, /LOCALBOOT 0/);
  assert.doesNotMatch(v.content, /KERNEL/);
  assert.equal(files.generated('pxelinux.cfg/01-52-54-00-99-99-99'), null);
  assert.equal(files.generated('pxelinux.cfg/0A4D000A'), null);
});

test('install entry: kernel, initrd and install arguments with the per-install token; no escaping', () => {
  entries.set('52:54:00:77:00:10', { mac: '52:54:00:77:00:10', mode: 'install', profile: 'debian12', token: 'tok&<en>', since: 0 });
  const v = files.generated('pxelinux.cfg/01-52-54-00-77-00-10')!;
  assert.equal(v.mode, 'install');
  assert.match(v.content, /^DEFAULT install$/m);
  assert.match(v.content, /^ {2}KERNEL debian-installer\/12\/amd64\/linux$/m);
  assert.match(v.content, /^ {2}INITRD debian-installer\/12\/amd64\/initrd\.gz$/m);
  assert.match(
    v.content,
    /^ {2}APPEND auto=true priority=critical console=ttyS0 url=http:\/\/10\.77\.0\.1\/ks\/52-54-00-77-00-10\?token=tok%26%3Cen%3E hostname=vm10 domain=lab\.test$/m,
  );
  // From a loader in a sub-directory the paths are absolute on the server (pxelinux "::").
  const efi = files.generated('efi64/pxelinux.cfg/01-52-54-00-77-00-10')!;
  assert.match(efi.content, /KERNEL ::debian-installer\/12\/amd64\/linux/);
  // A profile that left the config: local boot, with the reason.
  entries.set('52:54:00:77:00:11', { mac: '52:54:00:77:00:11', mode: 'install', profile: 'gone', token: 't', since: 0 });
  const gone = files.generated('pxelinux.cfg/01-52-54-00-77-00-11')!;
  assert.equal(gone.mode, 'local');
  assert.match(gone.note!, /gone/);
});

test('default: local boot for unknown machines; strict template refuses a missing variable', () => {
  assert.match(defaultConfig(template).content, /DEFAULT local[\s\S]*LOCALBOOT 0/);
  assert.throws(() => compilePxelinuxTemplate('{{nope}}')({} as never));
});

test('readableBy: a file with the install token only from its host\'s reserved IP; local entries and the default from anywhere', () => {
  entries.set('52:54:00:77:00:10', { mac: '52:54:00:77:00:10', mode: 'install', profile: 'debian12', token: 'tok', since: 0 });
  const install = files.generated('pxelinux.cfg/01-52-54-00-77-00-10')!;
  assert.equal(install.secret, true);
  assert.equal(install.ownerIp, '10.77.0.10');
  assert.equal(readableBy(install, '10.77.0.10'), true);
  assert.equal(readableBy(install, '::ffff:10.77.0.10'), true, 'dual-stack spelling of the same address');
  for (const other of ['10.77.0.11', '127.0.0.1', '10.77.0.100', '']) assert.equal(readableBy(install, other), false, other);
  // An install entry for a MAC that is not in the inventory has no owner: nobody reads it.
  entries.set('52:54:00:99:00:01', { mac: '52:54:00:99:00:01', mode: 'install', profile: 'debian12', token: 'tok', since: 0 });
  const orphan = files.generated('pxelinux.cfg/01-52-54-00-99-00-01')!;
  assert.equal(orphan.ownerIp, null);
  assert.equal(readableBy(orphan, '10.77.0.10'), false);
  entries.set('52:54:00:77:00:10', { mac: '52:54:00:77:00:10', mode: 'local', profile: 'debian12', token: null, since: 0 });
  const local = files.generated('pxelinux.cfg/01-52-54-00-77-00-10')!;
  assert.equal(local.secret, false);
  assert.equal(readableBy(local, '127.0.0.1'), true);
  assert.equal(readableBy(defaultConfig(template), '127.0.0.1'), true);
  // Whatever the template does, a non-install entry never carries a token to leak.
  assert.doesNotMatch(local.content + defaultConfig(template).content, /token/);
});
