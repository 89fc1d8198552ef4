/**
 * The one answer to "what does this MAC boot?" (style.md: netboot's Booter). It reads the
 * BootTable, the inventory and the config, and nothing else; every protocol asks it:
 * - DHCP: the boot file and next-server ({@link bootFile}), a URL for UEFI HTTP Boot;
 * - TFTP: the generated pxelinux.cfg and grub.cfg files (render/pxelinux.ts, render/grub.ts);
 * - HTTP: the iPXE script (render/render.ts renderIpxe takes a {@link BootSpec});
 * - `3rc render` and the dashboard preview: the same spec, so a preview shows what is served.
 * Pure: no I/O, no templates (those are render/'s).
 */
import type { Config } from '../config/load.js';
import type { BootEntry } from '../domain/boot-entry.js';
import type { Host, Profile } from '../inventory/inventory.js';
import { isIpv4, plainAddress } from '../lib/net.js';
import { archInfo, archName, ClientArch, type BootClient, type LoaderSlot } from './client.js';
import { installKernelArgs } from './kernel-args.js';
import { bootFileUrl, installUrls, macPath, publicBaseUrl, type InstallUrls } from './urls.js';

/** Which config a profile's loader reads (config profiles[].chain). */
export type Chain = 'pxelinux' | 'grub' | 'ipxe';

/** What a profile changes in the first stage: its loaders (per slot) and the config they read. */
export interface ProfileBoot {
  loaders: Partial<Record<LoaderSlot, string>>;
  chain: Chain;
}

/** What the booter needs from the config, computed once. */
export interface BootSettings {
  /** next-server (where TFTP is). */
  serverIp: string;
  domain: string;
  /** Base URL hosts reach 3rc's HTTP server at (no trailing slash). */
  base: string;
  /** The server's loader per slot (servers.dhcp.bootFiles); an unset slot is absent. */
  bootFiles: Partial<Record<LoaderSlot, string>>;
  /** Per-profile loaders and chain, by profile name (profiles are fixed at start-up). */
  profiles: ReadonlyMap<string, ProfileBoot>;
  /** Send iPXE clients the HTTP script (true) or the boot file by architecture (false). */
  ipxeScript: boolean;
  /**
   * What an IPv6 client is given instead of {@link serverIp} and {@link base} (network.ipv6):
   * a client that asked over IPv6 is answered with URLs it can reach over IPv6. Absent: none.
   */
  ipv6?: { serverIp: string; base: string };
}

/**
 * The booter's settings from a config. `profiles` is optional in the type so that callers typed
 * with a narrower config (the DHCP and render deps) need not change: they are handed the whole
 * config at run time, and a config without profiles has no per-profile loaders anyway.
 */
export function bootSettings(config: Pick<Config, 'network' | 'servers'> & Partial<Pick<Config, 'profiles'>>): BootSettings {
  const v6 = ipv6Endpoint(config);
  return {
    serverIp: config.network.serverIp,
    domain: config.network.domain,
    base: publicBaseUrl(config),
    bootFiles: config.servers.dhcp.bootFiles,
    profiles: new Map((config.profiles ?? []).map((p) => [p.name, { loaders: p.loaders ?? {}, chain: p.chain ?? 'pxelinux' }])),
    ipxeScript: config.servers.dhcp.ipxeScript,
    ...(v6 ? { ipv6: v6 } : {}),
  };
}

/** 3rc's IPv6 address and base URL (network.ipv6), or undefined when it serves no IPv6. */
function ipv6Endpoint(config: Pick<Config, 'network' | 'servers'>): { serverIp: string; base: string } | undefined {
  const v6 = config.network.ipv6;
  if (!v6) return undefined;
  const http = config.servers.http;
  // servers.http.publicUrl when it names the server (a name can have an AAAA record); an IPv4
  // literal there is of no use to an IPv6 client: the URL at network.ipv6.serverIp instead.
  const named = http.publicUrl !== undefined && !isIpv4(new URL(http.publicUrl).hostname);
  return { serverIp: v6.serverIp, base: named ? http.publicUrl!.replace(/\/+$/, '') : `http://[${v6.serverIp}]${http.port === 80 ? '' : `:${http.port}`}` };
}

/**
 * 3rc's address and base URL for a client of `family`, as settingsFor answers it, without the
 * rest of the boot settings (a render asks for these two only).
 */
export function serverEndpoint(config: Pick<Config, 'network' | 'servers'>, family: BootClient['family']): { serverIp: string; base: string } {
  return (family === 'ipv6' ? ipv6Endpoint(config) : undefined) ?? { serverIp: config.network.serverIp, base: publicBaseUrl(config) };
}

/** The settings a client of `family` is answered with: the IPv6 server address and base URL for an IPv6 client (when configured). */
export function settingsFor(settings: BootSettings, family: BootClient['family']): BootSettings {
  return family === 'ipv6' && settings.ipv6 ? { ...settings, serverIp: settings.ipv6.serverIp, base: settings.ipv6.base } : settings;
}

/**
 * The profile whose loaders a MAC gets: its boot entry's, else its host's (an entry naming a
 * profile that left the config falls back to the host's, as its boot does). Undefined: the
 * server's loaders.
 */
export function profileBoot(settings: BootSettings, entry: BootEntry | undefined, hostProfile: string | undefined): ProfileBoot | undefined {
  return (entry && settings.profiles.get(entry.profile)) ?? (hostProfile === undefined ? undefined : settings.profiles.get(hostProfile));
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
  config: Pick<Config, 'network' | 'servers'> & Partial<Pick<Config, 'profiles'>>,
  inventory: { hostByMac(mac: string): Host | undefined; profile(name: string): Profile | undefined },
  bootTable: { get(mac: string): BootEntry | undefined },
): BootSources {
  return { settings: bootSettings(config), hostByMac: (m) => inventory.hostByMac(m), profile: (n) => inventory.profile(n), bootEntry: (m) => bootTable.get(m) };
}

/** The first thing a client loads, and where from. */
export interface Loader {
  /**
   * TFTP path of the loader; for UEFI HTTP Boot the http:// URL of the loader; for iPXE the URL
   * of its script; null: the client gets no boot file.
   */
  file: string | null;
  /** The TFTP server the file is on (DHCP siaddr); null with no file. */
  nextServer: string | null;
  /** Why there is no file (for the trace), else null. */
  why: string | null;
  /** The slot the file came from (null for iPXE's script or no file), and whether a profile set it. */
  slot: LoaderSlot | null;
  fromProfile: boolean;
}

const none = (why: string): Loader => ({ file: null, nextServer: null, why, slot: null, fromProfile: false });

/**
 * The loader for a client whose MAC has BootTable entry `entry` (and whose inventory host, if
 * any, has profile `hostProfile`). The DHCP answer is the same whether the entry says local or
 * install: the config served next either boots the disk or starts the install. A MAC without an
 * entry (a pool client unknown to the inventory) gets no boot file. iPXE gets its HTTP script
 * (servers.dhcp.ipxeScript); everyone else the loader of its architecture's slot (table in
 * client.ts), a client without option 93 the BIOS one: the profile's `loaders` first, then
 * servers.dhcp.bootFiles. A slot set in neither: no file, and the reason names the architecture
 * and the key to set. UEFI HTTP Boot clients get the loader as a full http:// URL under
 * /boot/files/; an HTTPClient whose architecture is not an HTTP type gets nothing (a TFTP path
 * would be a wrong answer it cannot use).
 */
export function bootFile(settings: BootSettings, mac: string, entry: BootEntry | undefined, client: BootClient, hostProfile?: string): Loader {
  if (!entry) return none('no-entry');
  if (client.firmware === 'ipxe' && settings.ipxeScript) return { file: installUrls(settings.base, mac, null).ipxe, nextServer: settings.serverIp, why: null, slot: null, fromProfile: false };
  const arch = client.arch ?? ClientArch.BIOS;
  const row = archInfo(arch);
  if (!row) return none(`none for architecture ${arch} (${archName(arch)}: not in the architecture table)`);
  const http = row.firmware === 'uefi-http';
  if (client.firmware === 'uefi-http' && !http) return none(`none for architecture ${arch} (${row.name}): an HTTPClient, but not an HTTP Boot architecture`);
  const prof = profileBoot(settings, entry, hostProfile);
  const own = prof?.loaders[row.loader];
  const path = own ?? settings.bootFiles[row.loader];
  if (path === undefined) return none(`none for architecture ${arch} (${row.name}): servers.dhcp.bootFiles.${row.loader} is not set`);
  return { file: http ? bootFileUrl(settings.base, path) : path, nextServer: settings.serverIp, why: null, slot: row.loader, fromProfile: own !== undefined };
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
  /** Which config the loader reads (its profile's chain; pxelinux without one). */
  chain: Chain;
  /**
   * Generated config files the loader reads (relative to the directory it was loaded from, the
   * first per-MAC one it reads): pxelinux.cfg/01-<mac>, or grub's grub.cfg-<mac:with:colons>
   * under its prefix (Debian's signed GRUB reads grub/grub.cfg, which 3rc generates to chain that
   * file by net_default_mac: seen in the Secure Boot lab; it never asks for grub.cfg-01-<mac>);
   * none for iPXE (its script is an HTTP URL).
   */
  configs: string[];
  urls: InstallUrls & { base: string; kernel: string | null; initrd: string | null };
}

/**
 * What `mac` boots when `client` asks. `opts.profile` previews an install with another profile
 * (`3rc render --profile`): the spec is then an install with that profile and the entry's token.
 */
export function bootSpec(src: BootSources, mac: string, client: BootClient, opts: { profile?: string } = {}): BootSpec {
  // A client that asked over IPv6 gets URLs at 3rc's IPv6 address (kernel arguments, loader configs).
  const s = settingsFor(src.settings, client.family);
  const host = src.hostByMac(mac);
  const entry = src.bootEntry(mac);
  const wantsInstall = opts.profile !== undefined || entry?.mode === 'install';
  const profileName = opts.profile ?? entry?.profile ?? host?.profile;
  const profile = profileName === undefined ? undefined : src.profile(profileName);
  const token = entry?.token ?? null;
  const install = wantsInstall && profile !== undefined;
  const note = wantsInstall && !profile ? `profile ${profileName} is not in the config: local boot instead` : null;
  const urls = installUrls(s.base, mac, token);
  const args = install ? installKernelArgs({ profile, hostName: host?.name ?? macPath(mac), domain: s.domain, kickstartUrl: urls.kickstart, nocloudUrl: urls.nocloud }) : null;
  const loader = bootFile(s, mac, entry, client, host?.profile);
  const chain = profileBoot(s, entry, host?.profile)?.chain ?? 'pxelinux';
  const configs = loader.file !== null && client.firmware !== 'ipxe' ? chainConfigs(chain, mac) : [];
  return {
    mac, host, entry, mode: install ? 'install' : 'local', profileName, profile, token, note, loader,
    kernel: install ? profile.kernel : null,
    initrd: install ? profile.initrd : null,
    args,
    chain,
    configs,
    urls: { ...urls, base: s.base, kernel: install ? bootFileUrl(s.base, profile.kernel) : null, initrd: install ? bootFileUrl(s.base, profile.initrd) : null },
  };
}

/** The per-MAC config file a chain's loader reads first (GRUB's under Debian's netboot prefix `grub/`, by net_default_mac). */
function chainConfigs(chain: Chain, mac: string): string[] {
  switch (chain) {
    case 'pxelinux':
      return [`pxelinux.cfg/01-${macPath(mac)}`];
    case 'grub':
      return [`grub/grub.cfg-${mac.toLowerCase()}`];
    case 'ipxe':
      return [];
  }
}

/** The client a preview or an HTTP request stands for when no DHCP request says otherwise. */
export const ANY_CLIENT: BootClient = { arch: null, firmware: 'bios', family: 'ipv4' };

/**
 * The client a file request (TFTP, HTTP) from `peer` stands for: {@link ANY_CLIENT} of the
 * peer's address family (an IPv4-mapped address is IPv4), so that a loader that came over IPv6
 * reads a config naming 3rc's IPv6 address. No peer: IPv4.
 */
export function peerClient(peer: string | undefined): BootClient {
  return peer !== undefined && plainAddress(peer).includes(':') ? { ...ANY_CLIENT, family: 'ipv6' } : ANY_CLIENT;
}
