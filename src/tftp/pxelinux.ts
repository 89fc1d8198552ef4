/**
 * Virtual pxelinux.cfg files, generated at request time from the BootTable (so a host flipped to
 * `install` gets the install entry on its very next request) and templates/pxelinux.cfg.hbs.
 *
 * pxelinux (and syslinux.efi, which reads the same pxelinux.cfg/ files) searches, relative to the
 * directory it was loaded from: the client UUID, `01-<mac>`, the hex IP with ever shorter
 * prefixes (`0A4D000A`, `0A4D000`, ... `0`), then `default`. We answer:
 * - `01-<mac>` of a MAC in the BootTable or the inventory: the host's entry (install or local);
 * - `default`: a file of that name under the root if the operator put one there, else a local
 *   boot entry (an unknown machine never installs anything by accident);
 * - UUID and hex-IP names: whatever the root holds, normally nothing, so "not found" after one
 *   stat, and pxelinux moves on at once. A known host always stops at `01-<mac>`, which comes
 *   before the hex-IP names, so answering those by IP would only serve unknown MACs that happen
 *   to use a known address: we do not.
 * Who may read them (issue 19: the install entry went to anyone who asked): a virtual file that
 * carries a secret goes only to its owner, see {@link readableBy}. Today the only secret is the
 * per-install token in the install entry's kickstart URL, so:
 * - `01-<mac>` in install mode: only to the host's reserved IP (inventory host.ip), as the HTTP
 *   route /boot/ipxe does; anyone else is told "file not found" (pxelinux then moves on to the
 *   next name and ends at `default`: local boot, harmless). A MAC with an install entry but no
 *   host in the inventory has no owner: refused to everyone;
 * - `01-<mac>` in local mode and `default`: served to anyone, as before. They hold no token (only
 *   LOCALBOOT and the host's name, which DNS publishes anyway), and refusing them would change
 *   nothing: a refused host ends at `default`, which boots locally too;
 * - hex-IP and UUID names are never generated (see above), so they hold nothing of ours.
 * The rule is carried by the file ({@link VirtualFile.secret}), not by its name: any virtual file
 * generated with a secret is bound to its owner.
 * A loader in a sub-directory (`efi64/syslinux.efi`) asks for `efi64/pxelinux.cfg/...` and would
 * prefix the kernel path with `efi64/`: the entry then names it `::path` (pxelinux's syntax for
 * "relative to the TFTP root, no prefix").
 */
import Handlebars from 'handlebars';
import type { Config } from '../config/load.js';
import type { BootEntry } from '../domain/boot-entry.js';
import type { Inventory } from '../inventory/inventory.js';
import { installKernelArgs } from '../render/kernel-args.js';
import { installUrls, publicBaseUrl } from '../render/urls.js';

/** The variables templates/pxelinux.cfg.hbs receives (all present: it is compiled strict). */
export interface PxelinuxContext {
  /** `vm10 (52:54:00:77:00:10)` or `unknown machines`. */
  target: string;
  comment: string;
  install: boolean;
  host: string;
  profile: string;
  kernel: string;
  initrd: string;
  append: string;
}

export type PxelinuxTemplate = (ctx: PxelinuxContext) => string;

/** Compiles the template the way every 3rc config template is: no HTML escaping, strict. */
export function compilePxelinuxTemplate(source: string): PxelinuxTemplate {
  return Handlebars.compile<PxelinuxContext>(source, { noEscape: true, strict: true });
}

/** A pxelinux.cfg request: the loader's directory prefix and the name it looked for. */
export interface PxelinuxName {
  prefix: string;
  name: string;
  /** Canonical MAC for `01-<mac>` names. */
  mac: string | null;
}

const PXE_RE = /^(?:(.*)\/)?pxelinux\.cfg\/([^/]+)$/;
const MAC_NAME_RE = /^01-([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})$/i;

/** Parses a checked relative path; null when it is not under a pxelinux.cfg/ directory. */
export function parsePxelinuxName(rel: string): PxelinuxName | null {
  const m = PXE_RE.exec(rel);
  if (!m) return null;
  const name = m[2]!;
  const mm = MAC_NAME_RE.exec(name);
  return { prefix: m[1] ?? '', name, mac: mm ? mm.slice(1, 7).join(':').toLowerCase() : null };
}

export interface PxelinuxDeps {
  config: Pick<Config, 'network' | 'servers'>;
  inventory: Pick<Inventory, 'hostByMac' | 'profile'>;
  bootTable: { get(mac: string): BootEntry | undefined };
  template: PxelinuxTemplate;
}

/** The generated entry and what it was generated from (for the log and the boot trace). */
export interface VirtualFile {
  content: string;
  mac: string | null;
  mode: 'install' | 'local';
  /** Why an install entry became a local one (profile gone), else null. */
  note: string | null;
  /** The content carries a secret (the per-install token): served only to {@link ownerIp}. */
  secret: boolean;
  /** The reserved IP of the host the file is for (inventory host.ip), or null if none is known. */
  ownerIp: string | null;
}

/**
 * Whether a request from `address` may read `v`: a file with a secret only from its owner's
 * reserved IP (null owner: nobody), any other file from anywhere.
 */
export function readableBy(v: VirtualFile, address: string): boolean {
  if (!v.secret) return true;
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v.ownerIp !== null && plain === v.ownerIp;
}

function localCtx(target: string, comment: string): PxelinuxContext {
  return { target, comment, install: false, host: '', profile: '', kernel: '', initrd: '', append: '' };
}

/**
 * The `01-<mac>` entry for a known MAC, or null when the MAC is neither in the BootTable nor in
 * the inventory (then the request falls through to the boot root).
 */
export function macConfig(req: PxelinuxName, deps: PxelinuxDeps): VirtualFile | null {
  if (!req.mac) return null;
  const mac = req.mac;
  const host = deps.inventory.hostByMac(mac);
  const entry = deps.bootTable.get(mac);
  if (!entry && !host) return null;
  const name = host?.name ?? mac.replace(/:/g, '-');
  const target = `${name} (${mac})`;
  const ownerIp = host?.ip ?? null;
  if (!entry || entry.mode === 'local') {
    return { content: deps.template(localCtx(target, 'boot mode local')), mac, mode: 'local', note: null, secret: false, ownerIp };
  }
  const profile = deps.inventory.profile(entry.profile);
  if (!profile) {
    const note = `profile ${entry.profile} is not in the config: local boot instead`;
    return { content: deps.template(localCtx(target, note)), mac, mode: 'local', note, secret: false, ownerIp };
  }
  const path = (p: string) => (req.prefix ? `::${p}` : p);
  const urls = installUrls(publicBaseUrl(deps.config), mac, entry.token);
  const ctx: PxelinuxContext = {
    target,
    comment: `boot mode install, profile ${profile.name}`,
    install: true,
    host: name,
    profile: profile.name,
    kernel: path(profile.kernel),
    initrd: path(profile.initrd),
    append: installKernelArgs({ profile, hostName: name, domain: deps.config.network.domain, kickstartUrl: urls.kickstart }),
  };
  // The APPEND line holds the kickstart URL with the per-install token.
  return { content: deps.template(ctx), mac, mode: 'install', note: null, secret: true, ownerIp };
}

/** The generated `default`: local boot for machines 3rc does not know. */
export function defaultConfig(deps: Pick<PxelinuxDeps, 'template'>): VirtualFile {
  return { content: deps.template(localCtx('unknown machines', 'not in the inventory, so local boot')), mac: null, mode: 'local', note: null, secret: false, ownerIp: null };

}
