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
import { tftpConfigFiles } from './boot-configs.js';
import { compileGrubTemplate, grubDefault, grubFiles, grubWord, parseGrubName } from './grub.js';

const file = join(packageRoot(), 'examples', 'lab.yaml');
const config = parseConfig(readFileSync(file, 'utf8'), file);
const inventory = Inventory.fromConfig(config);
const template = compileGrubTemplate(readFileSync(join(packageRoot(), 'templates', 'grub.cfg.hbs'), 'utf8'));
const entries = new Map<string, BootEntry>();
const src = bootSources(config, inventory, { get: (m: string) => entries.get(m) });
const tftp = grubFiles(src, template, 'tftp');
const http = grubFiles(src, template, 'http');
const VM10 = '52:54:00:77:00:10';

test('names: GRUB\'s netboot search (01-<mac>), the net_default_mac spelling, any prefix directory', () => {
  assert.deepEqual(parseGrubName('grub/grub.cfg-01-52-54-00-77-00-10'), { prefix: 'grub', name: 'grub.cfg-01-52-54-00-77-00-10', mac: VM10 });
  assert.deepEqual(parseGrubName('debian-installer/arm64/grub/grub.cfg-01-52-54-00-77-00-AA')?.mac, '52:54:00:77:00:aa');
  assert.deepEqual(parseGrubName('grub/grub.cfg-52:54:00:77:00:10')?.mac, VM10);
  assert.deepEqual(parseGrubName('grub/grub.cfg-0A4D000A'), { prefix: 'grub', name: 'grub.cfg-0A4D000A', mac: null });
  assert.deepEqual(parseGrubName('grub.cfg'), { prefix: '', name: 'grub.cfg', mac: null });
  assert.equal(parseGrubName('grub/x86_64-efi/normal.mod'), null);
  assert.equal(parseGrubName('pxelinux.cfg/01-52-54-00-77-00-10'), null);
});

test('install entry over TFTP: linux and initrd from (tftp,<server>), arguments with the token quoted for GRUB; over HTTP from /boot/files', () => {
  entries.set(VM10, { mac: VM10, mode: 'install', profile: 'debian12', token: 'tok&<en>', since: 0 });
  const v = tftp.generated('grub/grub.cfg-01-52-54-00-77-00-10')!;
  assert.equal(v.mode, 'install');
  assert.match(v.content, /^set default=install$/m);
  assert.match(v.content, /^menuentry 'Install debian12 on vm10' --id install \{$/m);
  assert.match(
    v.content,
    /^ {2}linux \(tftp,10\.77\.0\.1\)\/debian-installer\/12\/amd64\/linux auto=true priority=critical console=ttyS0 'url=http:\/\/10\.77\.0\.1\/ks\/52-54-00-77-00-10\?token=tok%26%3Cen%3E' hostname=vm10 domain=lab\.test$/m,
  );
  assert.match(v.content, /^ {2}initrd \(tftp,10\.77\.0\.1\)\/debian-installer\/12\/amd64\/initrd\.gz$/m);
  assert.match(v.content, /--id local \{\n {2}exit\n\}/);
  // The colon spelling (net_default_mac) is the same file.
  assert.equal(tftp.generated('grub/grub.cfg-52:54:00:77:00:10')!.content, v.content);
  const h = http.generated('grub/grub.cfg-01-52-54-00-77-00-10')!;
  assert.match(h.content, /^ {2}linux \(http,10\.77\.0\.1\)\/boot\/files\/debian-installer\/12\/amd64\/linux /m);
  assert.match(h.content, /^ {2}initrd \(http,10\.77\.0\.1\)\/boot\/files\/debian-installer\/12\/amd64\/initrd\.gz$/m);
  // A profile gone from the config: local, with the reason.
  entries.set('52:54:00:77:00:11', { mac: '52:54:00:77:00:11', mode: 'install', profile: 'gone', token: 't', since: 0 });
  const gone = tftp.generated('grub/grub.cfg-01-52-54-00-77-00-11')!;
  assert.deepEqual([gone.mode, gone.secret], ['local', false]);
  assert.match(gone.content, /gone/);
});

test('local entry: exit to the firmware; unknown MAC: not generated; grub.cfg: chains by net_default_mac, then exit', () => {
  entries.set(VM10, { mac: VM10, mode: 'local', profile: 'debian12', token: null, since: 0 });
  const v = tftp.generated('grub/grub.cfg-01-52-54-00-77-00-10')!;
  assert.match(v.content, /^set default=local$/m);
  assert.doesNotMatch(v.content, /linux|initrd|token/);
  assert.equal(tftp.generated('grub/grub.cfg-01-52-54-00-99-99-99'), null);
  assert.equal(tftp.generated('grub/grub.cfg-0A4D000A'), null);
  assert.equal(tftp.generated('grub/grub.cfg'), null, 'grub.cfg is only a fallback: the root\'s own wins');
  assert.equal(tftp.fallback('grub/grub.cfg')!.content, grubDefault().content);
  assert.match(grubDefault().content, /configfile "\$\{prefix\}\/grub\.cfg-\$\{net_default_mac\}"\nfi\nexit\n$/);
  assert.equal(tftp.fallback('grub/grub.cfg-01-52-54-00-99-99-99'), null);
});

test('owner binding: the install entry only to the host\'s reserved IP; local entries and grub.cfg to anyone', () => {
  entries.set(VM10, { mac: VM10, mode: 'install', profile: 'debian12', token: 'tok', since: 0 });
  const install = tftp.generated('grub/grub.cfg-01-52-54-00-77-00-10')!;
  assert.deepEqual([install.secret, install.ownerIp], [true, '10.77.0.10']);
  assert.equal(readableBy(install, '10.77.0.10'), true);
  for (const other of ['10.77.0.11', '127.0.0.1', '']) assert.equal(readableBy(install, other), false, other);
  entries.set('52:54:00:99:00:01', { mac: '52:54:00:99:00:01', mode: 'install', profile: 'debian12', token: 'tok', since: 0 });
  assert.equal(readableBy(tftp.generated('grub/grub.cfg-01-52-54-00-99-00-01')!, '10.77.0.10'), false, 'no host, no owner: nobody');
  assert.equal(readableBy(grubDefault(), '127.0.0.1'), true);
  assert.doesNotMatch(grubDefault().content, /token/);
});

test('what TFTP serves: pxelinux and GRUB names side by side from the shipped templates', () => {
  entries.set(VM10, { mac: VM10, mode: 'install', profile: 'debian12', token: 'tok', since: 0 });
  const files = tftpConfigFiles(src, join(packageRoot(), 'templates'));
  assert.match(files.generated('pxelinux.cfg/01-52-54-00-77-00-10')!.content, /^DEFAULT install$/m);
  assert.match(files.generated('grub/grub.cfg-01-52-54-00-77-00-10')!.content, /^set default=install$/m);
  assert.match(files.fallback('pxelinux.cfg/default')!.content, /LOCALBOOT 0/);
  assert.equal(files.fallback('grub/grub.cfg')!.content, grubDefault().content);
  assert.equal(files.generated('ldlinux.c32'), null);
  assert.throws(() => tftpConfigFiles(src, '/nonexistent'), /cannot read the template \/nonexistent\/pxelinux\.cfg\.hbs/);
});

test('a GRUB that asks over IPv6 (issue 23): device, kernel arguments and owner at 3rc\'s IPv6 address; over IPv4 (or IPv4-mapped) as before', () => {
  const text = readFileSync(file, 'utf8').replace('  leaseTime: 1h\n', '  leaseTime: 1h\n  ipv6: { serverIp: "fd77::1", prefixes: [{ prefix: "fd77::/64" }] }\n');
  const cfg6 = parseConfig(text, file);
  const withV6 = { ...cfg6, hosts: cfg6.hosts.map((h) => (h.mac === VM10 ? { ...h, ipv6: 'fd77::10' } : h)) };
  const src6 = bootSources(withV6, Inventory.fromConfig(withV6), { get: (m: string) => entries.get(m) });
  entries.set(VM10, { mac: VM10, mode: 'install', profile: 'debian12', token: 'tok', since: 0 });
  const v6 = grubFiles(src6, template, 'tftp').generated('grub/grub.cfg-52:54:00:77:00:10', 'fd77::10')!;
  assert.match(v6.content, /^ {2}echo 'Loading the debian12 installer from \(tftp,fd77::1\)'$/m);
  assert.match(v6.content, /^ {2}linux \(tftp,fd77::1\)\/debian-installer\/12\/amd64\/linux .*'url=http:\/\/\[fd77::1\]\/ks\/52-54-00-77-00-10\?token=tok' hostname=vm10/m);
  assert.match(v6.content, /^ {2}initrd \(tftp,fd77::1\)\/debian-installer\/12\/amd64\/initrd\.gz$/m);
  assert.equal(readableBy(v6, 'fd77::10'), true, 'the owner asks from its reserved IPv6 address');
  assert.equal(readableBy(v6, 'fd77::11'), false);
  const h6 = grubFiles(src6, template, 'http').generated('grub/grub.cfg-52:54:00:77:00:10', 'fd77::10')!;
  assert.match(h6.content, /^ {2}linux \(http,fd77::1\)\/boot\/files\/debian-installer\/12\/amd64\/linux /m);
  for (const peer of ['10.77.0.10', '::ffff:10.77.0.10', undefined]) {
    const v4 = grubFiles(src6, template, 'tftp').generated('grub/grub.cfg-52:54:00:77:00:10', peer)!;
    assert.match(v4.content, /^ {2}linux \(tftp,10\.77\.0\.1\)\/\S+ .*'url=http:\/\/10\.77\.0\.1\/ks\//m, String(peer));
  }
});

test('grubWord: GRUB-safe words stay bare, the rest single-quoted', () => {
  assert.equal(grubWord('console=ttyS0,115200'), 'console=ttyS0,115200');
  assert.equal(grubWord('url=http://x/ks?token=a'), "'url=http://x/ks?token=a'");
  assert.equal(grubWord('a$b'), "'a$b'");
  assert.equal(grubWord("it's"), "'it'\\''s'");
  assert.throws(() => compileGrubTemplate('{{nope}}')({} as never));
});
