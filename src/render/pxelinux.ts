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
 * Who may read them: the install entry carries the per-install token in its kickstart URL, so it
 * is generated as a secret bound to the host's reserved IP (boot/virtual.ts readableBy):
 * - `01-<mac>` in install mode: only to the host's reserved IP (inventory host.ip), as the HTTP
 *   route /boot/ipxe does; anyone else is told "file not found" (pxelinux then moves on to the
 *   next name and ends at `default`: local boot, harmless). A MAC with an install entry but no
 *   host in the inventory has no owner: refused to everyone;
 * - `01-<mac>` in local mode and `default`: served to anyone. They hold no token (only
 *   LOCALBOOT and the host's name, which DNS publishes anyway), and refusing them would change
 *   nothing: a refused host ends at `default`, which boots locally too;
 * - hex-IP and UUID names are never generated (see above), so they hold nothing of ours.
 * What the entry says (install or local, kernel, arguments) is the booter's answer
 * (boot/booter.ts); this file only writes it in pxelinux's syntax.
 * A loader in a sub-directory (`efi64/syslinux.efi`) asks for `efi64/pxelinux.cfg/...` and would
 * prefix the kernel path with `efi64/`: the entry then names it `::path` (pxelinux's syntax for
 * "relative to the TFTP root, no prefix").
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ANY_CLIENT, bootSpec, type BootSources, type BootSpec } from '../boot/booter.js';
import { specFile, type VirtualFile, type VirtualFiles } from '../boot/virtual.js';
import { createHandlebars } from './engine.js';

export const PXELINUX_TEMPLATE = 'pxelinux.cfg.hbs';

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

/** Compiles a boot-config template the way every 3rc config template is: no HTML escaping, strict. */
export function compileBootTemplate<C>(source: string): (ctx: C) => string {
  return createHandlebars().compile<C>(source, { noEscape: true, strict: true });
}

export function compilePxelinuxTemplate(source: string): PxelinuxTemplate {
  return compileBootTemplate<PxelinuxContext>(source);
}

/**
 * Reads and compiles a boot-config template (pxelinux.cfg.hbs, grub.cfg.hbs) the way every 3rc
 * config template is compiled; the error names the file (TFTP cannot start without it).
 */
export function loadBootTemplate<C>(templatesDir: string, name: string): (ctx: C) => string {
  const file = join(templatesDir, name);
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot start TFTP: cannot read the template ${file}: ${(err as Error).message} (set paths.templates)`, { cause: err });
  }
  return compileBootTemplate<C>(source);
}

/** Reads and compiles templates/pxelinux.cfg.hbs. */
export function loadPxelinuxTemplate(templatesDir: string): PxelinuxTemplate {
  return loadBootTemplate<PxelinuxContext>(templatesDir, PXELINUX_TEMPLATE);
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

function localCtx(target: string, comment: string): PxelinuxContext {
  return { target, comment, install: false, host: '', profile: '', kernel: '', initrd: '', append: '' };
}

/**
 * The `01-<mac>` entry of a boot spec, for a loader in directory `prefix`; null when the MAC is
 * neither in the BootTable nor in the inventory (then the request falls through to the boot root).
 */
export function macConfig(spec: BootSpec, prefix: string, template: PxelinuxTemplate): VirtualFile | null {
  const path = (p: string) => (prefix ? `::${p}` : p);
  return specFile(spec, {
    local: (target, comment) => template(localCtx(target, comment)),
    install: (name, target) =>
      template({
        target,
        comment: `boot mode install, profile ${spec.profileName!}`,
        install: true,
        host: name,
        profile: spec.profileName!,
        kernel: path(spec.kernel!),
        initrd: path(spec.initrd!),
        append: spec.args!,
      }),
  });
}

/** The generated `default`: local boot for machines 3rc does not know. */
export function defaultConfig(template: PxelinuxTemplate): VirtualFile {
  return { content: template(localCtx('unknown machines', 'not in the inventory, so local boot')), mac: null, mode: 'local', note: null, secret: false, ownerIp: null };
}

/**
 * The pxelinux.cfg files the TFTP server serves: `01-<mac>` of a known MAC in place of the root's,
 * `default` when the root has none. pxelinux and syslinux.efi are BIOS and UEFI PXE loaders
 * alike: their entry does not depend on the architecture.
 */
export function pxelinuxFiles(src: BootSources, template: PxelinuxTemplate): VirtualFiles {
  return {
    generated(rel) {
      const req = parsePxelinuxName(rel);
      return req?.mac ? macConfig(bootSpec(src, req.mac, ANY_CLIENT), req.prefix, template) : null;
    },
    fallback(rel) {
      return parsePxelinuxName(rel)?.name === 'default' ? defaultConfig(template) : null;
    },
  };
}
