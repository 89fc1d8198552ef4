/**
 * Virtual GRUB configs, generated at request time from the booter's answer (boot/booter.ts
 * bootSpec) and templates/grub.cfg.hbs, as pxelinux.ts does for pxelinux.cfg.
 *
 * Which names GRUB asks for. GRUB 2.06 (Debian 12) searches, when its prefix is on the network
 * and `normal` is started without a file: `$prefix/grub.cfg-01-<mac>` (lower case, dashes),
 * `$prefix/grub.cfg-<IP in upper-case hex>` with ever shorter prefixes, then `$prefix/grub.cfg`
 * (grub-core/net/net.c grub_net_search_config_file; the "01-" and "%02X%02X%02X%02X" strings are
 * in Debian's signed images). The prefix is built into the image: `/grub` for
 * grubnetx64.efi.signed (grub-efi-amd64-signed), `/debian-installer/arm64/grub` for the arm64
 * installer's grubaa64.efi. Debian's signed images start `normal (memdisk)/grub.cfg`, whose
 * script sources `$prefix/grub.cfg` by name, skipping that search; so the generated
 * `grub.cfg` (when the boot root has none) chains to `grub.cfg-<mac>` by GRUB's own variable
 * `net_default_mac` (colons), which is answered like `grub.cfg-01-<mac>`. Seen in the labs:
 * - Secure Boot (test/lab/pxe-firmware.test.ts), after shim's own requests (revocations_sku.efi,
 *   revocations_sbat.efi, shim_certificate_0.efi: absent, fine) and grubx64.efi: GRUB asks for
 *   `/grub/x86_64-efi/{command,fs,crypto,terminal}.lst` (absent: its modules are built in), then
 *   `grub/grub.cfg`, then `grub/grub.cfg-52:54:00:77:00:10`, then the kernel;
 * - AAVMF and the arm64 grubaa64.efi (test/lab/arm64.test.ts): `<prefix>/arm64-efi/{command,fs,
 *   crypto,terminal}.lst` (absent), `<prefix>/grub.cfg`, `<prefix>/grub.cfg-52:54:00:77:00:10`,
 *   then the kernel; its `[ -e $prefix/arm64-efi/grub.cfg ]` never reaches the server (no file
 *   test over TFTP). After UEFI HTTP Boot the same image has no network configuration and asks
 *   nothing.
 * Neither asks for `grub.cfg-01-<mac>`. We answer, in any
 * directory (the prefix differs by image):
 * - `grub.cfg-01-<mac>` and `grub.cfg-<mac:with:colons>` of a MAC in the BootTable or the
 *   inventory: the host's entry (install or local);
 * - `grub.cfg`: a file of that name under the root if the operator put one there, else the chain
 *   by MAC above, then `exit` (an unknown machine boots its disk, never installs by accident);
 * - hex-IP and UUID names: whatever the root holds (normally nothing), as for pxelinux.
 * Who may read them: the install entry carries the per-install token (kernel arguments), so it is
 * a secret bound to the host's reserved IP (boot/virtual.ts readableBy), exactly as pxelinux.cfg.
 * Paths name the device the loader came from: `(tftp,<server>)/<path>` for TFTP,
 * `(http,<host>)/boot/files/<path>` for HTTP (GRUB fetches the kernel the way it was loaded).
 */
import { bootSpec, peerClient, settingsFor, type BootSources, type BootSpec } from '../boot/booter.js';
import { bootFileUrl } from '../boot/urls.js';
import { specFile, type VirtualFile, type VirtualFiles } from '../boot/virtual.js';
import { compileBootTemplate } from './pxelinux.js';

export const GRUB_TEMPLATE = 'grub.cfg.hbs';

/** The variables templates/grub.cfg.hbs receives (all present: it is compiled strict). */
export interface GrubContext {
  /** `vm10 (52:54:00:77:00:10)`. */
  target: string;
  comment: string;
  install: boolean;
  host: string;
  profile: string;
  /** The GRUB device the kernel and initrd come from: `(tftp,10.77.0.1)`. */
  from: string;
  /** GRUB paths with their device: `(tftp,10.77.0.1)/debian-installer/12/amd64/linux`. */
  kernel: string;
  initrd: string;
  /** Kernel arguments, each word quoted for GRUB's script parser where needed. */
  append: string;
}

export type GrubTemplate = (ctx: GrubContext) => string;

export function compileGrubTemplate(source: string): GrubTemplate {
  return compileBootTemplate<GrubContext>(source);
}

/** How the loader reached 3rc: its files are fetched the same way. */
export type GrubProtocol = 'tftp' | 'http';

/** A GRUB config request: the prefix directory, and the MAC for a per-MAC name. */
export interface GrubName {
  prefix: string;
  name: string;
  mac: string | null;
}

const GRUB_RE = /^(?:(.*)\/)?(grub\.cfg(?:-[^/]+)?)$/;
const HEX = '([0-9a-f]{2})';
const MAC_DASH_RE = new RegExp(`^grub\\.cfg-01-${Array(6).fill(HEX).join('-')}$`, 'i');
const MAC_COLON_RE = new RegExp(`^grub\\.cfg-${Array(6).fill(HEX).join(':')}$`, 'i');

/** Parses a checked relative path; null when it is no GRUB config name. */
export function parseGrubName(rel: string): GrubName | null {
  const m = GRUB_RE.exec(rel);
  if (!m) return null;
  const name = m[2]!;
  const mm = MAC_DASH_RE.exec(name) ?? MAC_COLON_RE.exec(name);
  return { prefix: m[1] ?? '', name, mac: mm ? mm.slice(1, 7).join(':').toLowerCase() : null };
}

/**
 * One kernel argument as a GRUB word: left bare when it holds only characters GRUB's parser
 * takes literally, else single-quoted (`'` as `'\''`). `?` and `*` are quoted too: GRUB expands
 * them as wildcards when its regexp module is loaded, and a kickstart URL has a `?token=`.
 */
export function grubWord(arg: string): string {
  return /^[A-Za-z0-9_./:=,%+@-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * The GRUB device of a protocol: `(tftp,10.77.0.1)`, `(http,10.77.0.1)` or `(http,host,8080)`
 * (GRUB 2.12 syntax for a port); an IPv6 server without brackets, `(tftp,fd77::1)` (the comma
 * ends the protocol, GRUB's parse_ip6 reads the rest).
 */
function device(spec: BootSpec, proto: GrubProtocol, serverIp: string): { from: string; path(p: string): string } {
  if (proto === 'tftp') return { from: `(tftp,${serverIp})`, path: (p) => `(tftp,${serverIp})/${p}` };
  const url = new URL(bootFileUrl(spec.urls.base, ''));
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const from = url.port ? `(http,${host},${url.port})` : `(http,${host})`;
  return { from, path: (p) => `${from}${new URL(bootFileUrl(spec.urls.base, p)).pathname}` };
}

function localCtx(target: string, comment: string): GrubContext {
  return { target, comment, install: false, host: '', profile: '', from: '', kernel: '', initrd: '', append: '' };
}

/**
 * The per-MAC GRUB config of a boot spec, as fetched over `proto` from `serverIp`; null when the
 * MAC is neither in the BootTable nor in the inventory (the request falls through to the root).
 */
export function grubConfig(spec: BootSpec, template: GrubTemplate, proto: GrubProtocol, serverIp: string): VirtualFile | null {
  return specFile(spec, {
    local: (target, comment) => template(localCtx(target, comment)),
    install: (name, target) => {
      const dev = device(spec, proto, serverIp);
      return template({
        target,
        comment: `boot mode install, profile ${spec.profileName!}`,
        install: true,
        host: name,
        profile: spec.profileName!,
        from: dev.from,
        kernel: dev.path(spec.kernel!),
        initrd: dev.path(spec.initrd!),
        append: spec.args!.split(/\s+/).filter(Boolean).map(grubWord).join(' '),
      });
    },
  });
}

/**
 * The generated `grub.cfg` (when the root has none): the per-MAC config by GRUB's own
 * `net_default_mac`, for images whose embedded config sources `$prefix/grub.cfg` without
 * searching; an unknown MAC finds nothing there and boots its disk.
 */
export function grubDefault(): VirtualFile {
  const content = [
    '# Generated by 3rc: the config of this machine by its MAC (net_default_mac), if 3rc knows it;',
    '# else the local disk (`exit` returns to the firmware, which boots the next entry).',
    'if [ -n "${net_default_mac}" ]; then',
    '  configfile "${prefix}/grub.cfg-${net_default_mac}"',
    'fi',
    'exit',
    '',
  ].join('\n');
  return { content, mac: null, mode: 'local', note: null, secret: false, ownerIp: null };
}

/**
 * The GRUB configs a file server serves over `proto`. A GRUB that asks over IPv6 gets the device
 * and the kernel arguments at 3rc's IPv6 address (network.ipv6.serverIp): it came that way.
 */
export function grubFiles(src: BootSources, template: GrubTemplate, proto: GrubProtocol): VirtualFiles {
  return {
    generated(rel, peer) {
      const req = parseGrubName(rel);
      if (!req?.mac) return null;
      const client = peerClient(peer);
      return grubConfig(bootSpec(src, req.mac, client), template, proto, settingsFor(src.settings, client.family).serverIp);
    },
    fallback(rel) {
      return parseGrubName(rel)?.name === 'grub.cfg' ? grubDefault() : null;
    },
  };
}
