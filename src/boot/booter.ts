/**
 * The one answer to "what does this MAC boot?" (style.md: netboot's Booter). It reads the
 * BootTable, the inventory and the config, and nothing else; every protocol asks it:
 * - DHCP: the boot file and next-server ({@link bootFile});
 * - TFTP: the generated pxelinux.cfg files (render/pxelinux.ts, through a callback);
 * - HTTP: the iPXE script (render/render.ts renderIpxe takes a {@link BootSpec});
 * - `3rc render` and the dashboard preview: the same spec, so a preview shows what is served.
 * Pure: no I/O, no templates (those are render/'s).
 */
import type { Config } from '../config/load.js';
import type { BootEntry } from '../domain/boot-entry.js';
import type { Host, Profile } from '../inventory/inventory.js';
import { archInfo, ClientArch, type BootClient } from './client.js';
import { installKernelArgs } from './kernel-args.js';
import { bootFileUrl, installUrls, macPath, publicBaseUrl, type InstallUrls } from './urls.js';

/** What the booter needs from the config, computed once. */
export interface BootSettings {
  /** next-server (where TFTP is). */
  serverIp: string;
  domain: string;
  /** Base URL hosts reach 3rc's HTTP server at (no trailing slash). */
  base: string;
  bootFiles: { bios: string; efiX64: string };
  /** Send iPXE clients the HTTP script (true) or the boot file by architecture (false). */
  ipxeScript: boolean;
}

export function bootSettings(config: Pick<Config, 'network' | 'servers'>): BootSettings {
  return {
    serverIp: config.network.serverIp,
    domain: config.network.domain,
    base: publicBaseUrl(config),
    bootFiles: config.servers.dhcp.bootFiles,
    ipxeScript: config.servers.dhcp.ipxeScript,
  };
}

/** Where the booter reads hosts, profiles and boot entries (the inventory and the BootTable). */
export interface BootSources {
  settings: BootSettings;
  hostByMac(mac: string): Host | undefined;
  profile(name: string): Profile | undefined;
  bootEntry(mac: string): BootEntry | undefined;
}

/** Sources from the inventory and the BootTable, as the servers and the CLI hold them. */
export function bootSources(
  config: Pick<Config, 'network' | 'servers'>,
  inventory: { hostByMac(mac: string): Host | undefined; profile(name: string): Profile | undefined },
  bootTable: { get(mac: string): BootEntry | undefined },
): BootSources {
  return { settings: bootSettings(config), hostByMac: (m) => inventory.hostByMac(m), profile: (n) => inventory.profile(n), bootEntry: (m) => bootTable.get(m) };
}

/** The first thing a client loads, and where from. */
export interface Loader {
  /** TFTP path of the loader, or the URL of the iPXE script; null: the client gets no boot file. */
  file: string | null;
  /** The TFTP server the file is on (DHCP siaddr); null with no file. */
  nextServer: string | null;
  /** Why there is no file (for the trace), else null. */
  why: string | null;
}

/**
 * The loader for a client whose MAC has BootTable entry `entry`. The DHCP answer is the same
 * whether the entry says local or install: the pxelinux/iPXE config served next either boots the
 * disk or starts the install. A MAC without an entry (a pool client unknown to the inventory)
 * gets no boot file. iPXE gets its HTTP script (servers.dhcp.ipxeScript); everyone else the
 * loader of its architecture (table in client.ts), a client without option 93 the BIOS one.
 */
export function bootFile(settings: BootSettings, mac: string, entry: BootEntry | undefined, client: BootClient): Loader {
  if (!entry) return { file: null, nextServer: null, why: 'no-entry' };
  if (client.firmware === 'ipxe' && settings.ipxeScript) return { file: installUrls(settings.base, mac, null).ipxe, nextServer: settings.serverIp, why: null };
  const arch = client.arch ?? ClientArch.BIOS;
  const slot = archInfo(arch)?.loader ?? null;
  if (slot === null) return { file: null, nextServer: null, why: `none for architecture ${arch}` };
  return { file: settings.bootFiles[slot], nextServer: settings.serverIp, why: null };
}

/** Everything a MAC boots, for one client. */
export interface BootSpec {
  mac: string;
  host: Host | undefined;
  /** The BootTable entry as stored (before any preview override). */
  entry: BootEntry | undefined;
  /**
   * What the host boots: `install` only when its entry (or a preview) says install and the
   * profile exists; a profile that left the config means local, with {@link note}.
   */
  mode: 'install' | 'local';
  /** The profile it installs (install), or would (its entry's, else the host's). */
  profileName: string | undefined;
  profile: Profile | undefined;
  /** The per-install token (in the install URLs), null when none. */
  token: string | null;
  /** Why an install became a local boot, else null. */
  note: string | null;
  loader: Loader;
  /** Install only (null when local): kernel and initrd paths under the boot root, and the kernel command line. */
  kernel: string | null;
  initrd: string | null;
  args: string | null;
  /** Generated config files the loader reads (relative to the boot root). */
  configs: string[];
  urls: InstallUrls & { base: string; kernel: string | null; initrd: string | null };
}

/**
 * What `mac` boots when `client` asks. `opts.profile` previews an install with another profile
 * (`3rc render --profile`): the spec is then an install with that profile and the entry's token.
 */
export function bootSpec(src: BootSources, mac: string, client: BootClient, opts: { profile?: string } = {}): BootSpec {
  const s = src.settings;
  const host = src.hostByMac(mac);
  const entry = src.bootEntry(mac);
  const wantsInstall = opts.profile !== undefined || entry?.mode === 'install';
  const profileName = opts.profile ?? entry?.profile ?? host?.profile;
  const profile = profileName === undefined ? undefined : src.profile(profileName);
  const token = entry?.token ?? null;
  const install = wantsInstall && profile !== undefined;
  const note = wantsInstall && !profile ? `profile ${profileName} is not in the config: local boot instead` : null;
  const urls = installUrls(s.base, mac, token);
  const args = install ? installKernelArgs({ profile, hostName: host?.name ?? macPath(mac), domain: s.domain, kickstartUrl: urls.kickstart }) : null;
  const loader = bootFile(s, mac, entry, client);
  const configs = loader.file !== null && client.firmware !== 'ipxe' ? [`pxelinux.cfg/01-${macPath(mac)}`] : [];
  return {
    mac, host, entry, mode: install ? 'install' : 'local', profileName, profile, token, note, loader,
    kernel: install ? profile.kernel : null,
    initrd: install ? profile.initrd : null,
    args,
    configs,
    urls: { ...urls, base: s.base, kernel: install ? bootFileUrl(s.base, profile.kernel) : null, initrd: install ? bootFileUrl(s.base, profile.initrd) : null },
  };
}

/** The client a preview or an HTTP request stands for when no DHCP request says otherwise. */
export const ANY_CLIENT: BootClient = { arch: null, firmware: 'bios', family: 'ipv4' };
