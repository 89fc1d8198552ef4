import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../config/load.js';
import { Inventory } from '../inventory/inventory.js';
import { packageRoot } from '../lib/paths.js';
import type { BootEntry } from '../domain/boot-entry.js';
import { ANY_CLIENT, bootFile, bootSettings, bootSources, bootSpec } from './booter.js';
import { ARCHES, archName, ClientArch, dhcpClient, type BootClient } from './client.js';

const file = join(packageRoot(), 'examples', 'lab.yaml');
const config = parseConfig(readFileSync(file, 'utf8'), file);
const inventory = Inventory.fromConfig(config);
const settings = bootSettings(config);
const VM10 = '52:54:00:77:00:10';
const entry = (mode: 'install' | 'local', profile = 'debian12', token: string | null = 'tok'): BootEntry => ({ mac: VM10, mode, profile, token, since: 0 });

test('every client architecture 3rc knows (option 93) gets its loader, or none, from the one table', () => {
  // What each architecture loads first: the x64 EFI loader for 7 and 9 (several x64 ROMs send 9), the BIOS one for 0, nothing else.
  const expected: Record<number, string | null> = {
    [ClientArch.BIOS]: 'pxelinux.0',
    [ClientArch.EFI_IA32]: null,
    [ClientArch.EFI_X64]: 'syslinux.efi',
    [ClientArch.EFI_BC]: 'syslinux.efi',
    [ClientArch.EFI_ARM32]: null,
    [ClientArch.EFI_ARM64]: null,
    [ClientArch.EFI_IA32_HTTP]: null,
    [ClientArch.EFI_X64_HTTP]: null,
    [ClientArch.EFI_ARM64_HTTP]: null,
  };
  assert.deepEqual(ARCHES.map((a) => a.code).sort((a, b) => a - b), Object.keys(expected).map(Number).sort((a, b) => a - b), 'the test covers the whole table');
  const s = { ...settings, bootFiles: { bios: 'pxelinux.0', efiX64: 'syslinux.efi' } };
  for (const a of ARCHES) {
    const got = bootFile(s, VM10, entry('local'), dhcpClient(a.code, false));
    assert.equal(got.file, expected[a.code], `arch ${a.code}`);
    assert.equal(got.nextServer, got.file === null ? null : config.network.serverIp);
    assert.equal(got.why, got.file === null ? `none for architecture ${a.code}` : null);
    assert.equal(dhcpClient(a.code, false).firmware, a.firmware);
  }
  // Not in the table: no file. No option 93 at all: answered as BIOS.
  assert.equal(bootFile(s, VM10, entry('local'), dhcpClient(42, false)).file, null);
  assert.equal(bootFile(s, VM10, entry('local'), dhcpClient(null, false)).file, 'pxelinux.0');
  assert.equal(archName(7), 'UEFI x64');
  assert.equal(archName(42), 'arch 42');
});

test('iPXE gets its HTTP script (without token) when servers.dhcp.ipxeScript, else the loader of its architecture; no entry, no file', () => {
  const ipxe: BootClient = dhcpClient(ClientArch.EFI_X64, true);
  assert.equal(ipxe.firmware, 'ipxe');
  assert.equal(bootFile(settings, VM10, entry('install'), ipxe).file, 'http://10.77.0.1/boot/ipxe/52-54-00-77-00-10');
  assert.equal(bootFile({ ...settings, ipxeScript: false }, VM10, entry('install'), ipxe).file, settings.bootFiles.efiX64);
  assert.deepEqual(bootFile(settings, VM10, undefined, ipxe), { file: null, nextServer: null, why: 'no-entry' });
});

test('bootSpec: install with kernel, initrd, arguments and token URLs; local without; a profile gone means local with a note', () => {
  const entries = new Map<string, BootEntry>([[VM10, entry('install')]]);
  const src = bootSources(config, inventory, { get: (m) => entries.get(m) });
  const on = bootSpec(src, VM10, ANY_CLIENT);
  assert.equal(on.mode, 'install');
  assert.equal(on.host?.name, 'vm10');
  assert.equal(on.kernel, 'debian-installer/12/amd64/linux');
  assert.equal(on.urls.kickstart, 'http://10.77.0.1/ks/52-54-00-77-00-10?token=tok');
  assert.equal(on.urls.kernel, 'http://10.77.0.1/boot/files/debian-installer/12/amd64/linux');
  assert.match(on.args!, /url=http:\/\/10\.77\.0\.1\/ks\/52-54-00-77-00-10\?token=tok hostname=vm10 domain=lab\.test$/);
  assert.deepEqual(on.configs, ['pxelinux.cfg/01-52-54-00-77-00-10']);
  entries.set(VM10, entry('local', 'debian12', null));
  const off = bootSpec(src, VM10, ANY_CLIENT);
  assert.deepEqual([off.mode, off.kernel, off.args, off.note, off.urls.kernel], ['local', null, null, null, null]);
  // A preview of another profile: install, with the entry's token.
  const preview = bootSpec(src, VM10, ANY_CLIENT, { profile: 'rocky9' });
  assert.deepEqual([preview.mode, preview.profileName], ['install', 'rocky9']);
  entries.set(VM10, entry('install', 'gone'));
  const gone = bootSpec(src, VM10, ANY_CLIENT);
  assert.equal(gone.mode, 'local');
  assert.match(gone.note!, /profile gone is not in the config/);
  // A MAC nobody knows: no host, no entry, no boot file.
  const stranger = bootSpec(src, '52:54:00:99:99:99', ANY_CLIENT);
  assert.deepEqual([stranger.host, stranger.entry, stranger.loader.file, stranger.mode], [undefined, undefined, null, 'local']);
});
