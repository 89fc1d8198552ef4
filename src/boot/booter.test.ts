import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../config/load.js';
import { Inventory } from '../inventory/inventory.js';
import { packageRoot } from '../lib/paths.js';
import type { BootEntry } from '../domain/boot-entry.js';
import { ANY_CLIENT, bootFile, bootSettings, bootSources, bootSpec, peerClient, settingsFor } from './booter.js';
import { ARCHES, archName, ClientArch, dhcpClient, LOADER_SLOTS, vendorClassArch, type BootClient } from './client.js';

const file = join(packageRoot(), 'examples', 'lab.yaml');
const config = parseConfig(readFileSync(file, 'utf8'), file);
const inventory = Inventory.fromConfig(config);
const settings = bootSettings(config);
const VM10 = '52:54:00:77:00:10';
const entry = (mode: 'install' | 'local', profile = 'debian12', token: string | null = 'tok'): BootEntry => ({ mac: VM10, mode, profile, token, since: 0 });

test('every client architecture of RFC 4578 and the IANA registry gets its slot\'s loader, or none with the architecture and the key to set', () => {
  // The defaults (examples/lab.yaml sets no bootFiles): Debian's loaders where a package has one.
  const expected: Record<number, string | null> = {
    [ClientArch.BIOS]: 'pxelinux.0',
    [ClientArch.EFI_IA32]: null,
    [ClientArch.EFI_X64]: 'syslinux.efi',
    [ClientArch.EFI_BC]: 'syslinux.efi',
    [ClientArch.EFI_ARM32]: null,
    [ClientArch.EFI_ARM64]: 'grubaa64.efi',
    [ClientArch.EFI_IA32_HTTP]: null,
    [ClientArch.EFI_X64_HTTP]: 'http://10.77.0.1/boot/files/ipxe.efi',
    [ClientArch.EFI_ARM32_HTTP]: null,
    [ClientArch.EFI_ARM64_HTTP]: 'http://10.77.0.1/boot/files/grubaa64.efi',
  };
  const unsetKey: Record<number, string> = { 6: 'efiIa32', 10: 'efiArm32', 15: 'httpIa32', 18: 'httpArm32' };
  assert.deepEqual(ARCHES.map((a) => a.code).sort((a, b) => a - b), Object.keys(expected).map(Number).sort((a, b) => a - b), 'the test covers the whole table');
  assert.deepEqual([...new Set(ARCHES.map((a) => a.loader))].sort(), [...LOADER_SLOTS].sort(), 'every slot is some architecture\'s');
  for (const a of ARCHES) {
    const got = bootFile(settings, VM10, entry('local'), dhcpClient(a.code, false));
    assert.equal(got.file, expected[a.code], `arch ${a.code}`);
    assert.equal(got.nextServer, got.file === null ? null : config.network.serverIp);
    if (got.file === null) assert.equal(got.why, `none for architecture ${a.code} (${a.name}): servers.dhcp.bootFiles.${unsetKey[a.code]} is not set`);
    else assert.deepEqual([got.why, got.slot, got.fromProfile], [null, a.loader, false]);
    assert.equal(dhcpClient(a.code, false).firmware, a.firmware);
  }
  // Every slot set: each architecture gets its own, never another's.
  const all = Object.fromEntries(LOADER_SLOTS.map((k) => [k, `${k}.efi`]));
  for (const a of ARCHES) {
    const got = bootFile({ ...settings, bootFiles: all }, VM10, entry('local'), dhcpClient(a.code, false)).file;
    assert.equal(got, a.firmware === 'uefi-http' ? `http://10.77.0.1/boot/files/${a.loader}.efi` : `${a.loader}.efi`);
  }
  // Not in the table: no file, and why. No option 93 at all: answered as BIOS.
  assert.deepEqual(bootFile(settings, VM10, entry('local'), dhcpClient(42, false)), { file: null, nextServer: null, why: 'none for architecture 42 (arch 42: not in the architecture table)', slot: null, fromProfile: false });
  assert.equal(bootFile(settings, VM10, entry('local'), dhcpClient(null, false)).file, 'pxelinux.0');
  assert.equal(archName(7), 'UEFI x64');
  assert.equal(archName(18), 'UEFI arm32 HTTP');
  assert.equal(archName(42), 'arch 42');
});

test('UEFI HTTP Boot: the firmware kind comes from the vendor class or the architecture; the loader only from an HTTP architecture', () => {
  // What OVMF sends: option 93 = 16 and vendor class HTTPClient:Arch:00016.
  const ovmf = dhcpClient(16, false, 'HTTPClient:Arch:00016:UNDI:003001');
  assert.deepEqual(ovmf, { arch: 16, firmware: 'uefi-http', family: 'ipv4' });
  assert.equal(bootFile(settings, VM10, entry('install'), ovmf).file, 'http://10.77.0.1/boot/files/ipxe.efi');
  // No option 93: the vendor class's Arch field says which architecture (PXEClient's too).
  assert.deepEqual(dhcpClient(null, false, 'HTTPClient:Arch:00019:UNDI:003001'), { arch: 19, firmware: 'uefi-http', family: 'ipv4' });
  assert.equal(vendorClassArch('PXEClient:Arch:00007:UNDI:003016'), 7);
  assert.equal(vendorClassArch('HTTPClient'), null);
  assert.equal(vendorClassArch(undefined), null);
  assert.equal(bootFile(settings, VM10, entry('install'), dhcpClient(null, false, 'HTTPClient:Arch:00019:UNDI:003001')).file, 'http://10.77.0.1/boot/files/grubaa64.efi');
  // HTTPClient but a PXE architecture (or none at all): HTTP firmware, but no HTTP slot, so no
  // boot file rather than a TFTP path it cannot fetch.
  for (const [arch, vc, name] of [[7, 'HTTPClient:Arch:00007', 'UEFI x64'], [null, 'HTTPClient', 'BIOS']] as const) {
    const c = dhcpClient(arch, false, vc);
    assert.equal(c.firmware, 'uefi-http');
    const got = bootFile(settings, VM10, entry('install'), c);
    assert.equal(got.file, null);
    assert.equal(got.why, `none for architecture ${arch ?? 0} (${name}): an HTTPClient, but not an HTTP Boot architecture`);
  }
  // A PXEClient keeps its PXE firmware kind; iPXE wins over both.
  assert.equal(dhcpClient(7, false, 'PXEClient:Arch:00007:UNDI:003016').firmware, 'uefi-pxe');
  assert.equal(dhcpClient(16, true, 'HTTPClient:Arch:00016').firmware, 'ipxe');
  // A URL-unsafe character in the path is escaped in the URL.
  assert.equal(bootFile({ ...settings, bootFiles: { httpX64: 'efi/ipxe#1.efi' } }, VM10, entry('local'), ovmf).file, 'http://10.77.0.1/boot/files/efi/ipxe%231.efi');
});

test('per-profile loaders: the entry\'s profile, else the host\'s, wins over servers.dhcp.bootFiles slot by slot; chain grub lists the GRUB config', () => {
  const sb = { loaders: { efiX64: 'shimx64.efi', httpX64: 'shimx64.efi' }, chain: 'grub' as const };
  const s = { ...settings, profiles: new Map([...settings.profiles, ['secure', sb]]) };
  const uefi = dhcpClient(7, false);
  const got = bootFile(s, VM10, entry('install', 'secure'), uefi);
  assert.deepEqual([got.file, got.slot, got.fromProfile], ['shimx64.efi', 'efiX64', true]);
  assert.equal(bootFile(s, VM10, entry('install', 'secure'), dhcpClient(16, false)).file, 'http://10.77.0.1/boot/files/shimx64.efi');
  // A slot the profile does not name is the server's.
  assert.equal(bootFile(s, VM10, entry('install', 'secure'), dhcpClient(0, false)).file, 'pxelinux.0');
  // Another profile in the entry: the server's loader.
  assert.equal(bootFile(s, VM10, entry('install', 'debian12'), uefi).file, 'syslinux.efi');
  // The entry's profile left the config: the host's profile decides.
  assert.equal(bootFile(s, VM10, entry('install', 'gone'), uefi, 'secure').file, 'shimx64.efi');
  assert.equal(bootFile(s, VM10, entry('install', 'debian12'), uefi, 'secure').file, 'syslinux.efi', 'the entry\'s profile first');
  // From the config file: loaders and chain reach the booter.
  const c = parseConfig(readFileSync(file, 'utf8').replace("    template: rocky9.ks.hbs\n", "    template: rocky9.ks.hbs\n    chain: grub\n    loaders: { efiX64: shimx64.efi }\n"), file);
  const entries = new Map<string, BootEntry>([[VM10, entry('install', 'rocky9')]]);
  const src = bootSources(c, Inventory.fromConfig(c), { get: (m) => entries.get(m) });
  const spec = bootSpec(src, VM10, uefi);
  assert.deepEqual([spec.loader.file, spec.chain, spec.configs], ['shimx64.efi', 'grub', ['grub/grub.cfg-52:54:00:77:00:10']]);
  entries.set(VM10, entry('local', 'debian12', null));
  assert.deepEqual([bootSpec(src, VM10, uefi).chain, bootSpec(src, VM10, uefi).configs], ['pxelinux', ['pxelinux.cfg/01-52-54-00-77-00-10']]);
});

test('iPXE gets its HTTP script (without token) when servers.dhcp.ipxeScript, else the loader of its architecture; no entry, no file', () => {
  const ipxe: BootClient = dhcpClient(ClientArch.EFI_X64, true);
  assert.equal(ipxe.firmware, 'ipxe');
  assert.equal(bootFile(settings, VM10, entry('install'), ipxe).file, 'http://10.77.0.1/boot/ipxe/52-54-00-77-00-10');
  assert.equal(bootFile({ ...settings, ipxeScript: false }, VM10, entry('install'), ipxe).file, settings.bootFiles.efiX64);
  assert.deepEqual(bootFile(settings, VM10, undefined, ipxe), { file: null, nextServer: null, why: 'no-entry', slot: null, fromProfile: false });
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

test('an IPv6 client (DHCPv6, or a file asked for over IPv6) gets URLs at network.ipv6.serverIp; IPv4 and IPv4-mapped peers, and configs without network.ipv6, as before', () => {
  const text = readFileSync(file, 'utf8').replace('  leaseTime: 1h\n', '  leaseTime: 1h\n  ipv6: { serverIp: "fd77::1", prefixes: [{ prefix: "fd77::/64" }] }\n');
  const cfg6 = parseConfig(text, file);
  const src = bootSources(cfg6, Inventory.fromConfig(cfg6), { get: () => entry('install') });
  assert.deepEqual(bootSettings(cfg6).ipv6, { serverIp: 'fd77::1', base: 'http://[fd77::1]' });
  const v6 = bootSpec(src, VM10, peerClient('fd77::10'));
  assert.match(v6.args!, / url=http:\/\/\[fd77::1\]\/ks\/52-54-00-77-00-10\?token=tok /);
  assert.equal(v6.urls.kernel, 'http://[fd77::1]/boot/files/debian-installer/12/amd64/linux');
  assert.equal(bootSpec(src, VM10, { arch: ClientArch.EFI_X64_HTTP, firmware: 'uefi-http', family: 'ipv6' }).loader.file, 'http://[fd77::1]/boot/files/ipxe.efi');
  for (const peer of ['10.77.0.10', '::ffff:10.77.0.10', undefined]) {
    assert.deepEqual(peerClient(peer), ANY_CLIENT, String(peer));
    assert.match(bootSpec(src, VM10, peerClient(peer)).args!, / url=http:\/\/10\.77\.0\.1\/ks\//);
  }
  // No network.ipv6: an IPv6 client is answered as before (there is no other address to give).
  const plain = bootSources(config, inventory, { get: () => entry('install') });
  const s4 = bootSettings(config);
  assert.equal(s4.ipv6, undefined);
  assert.equal(settingsFor(s4, 'ipv6'), s4);
  assert.match(bootSpec(plain, VM10, peerClient('fd77::10')).args!, / url=http:\/\/10\.77\.0\.1\/ks\//);
});
