/**
 * What the HTTP routes serve a host, as an interface: the routes ask it (AppDeps.render), the
 * templates behind it live in render/ (render/served.ts), so no protocol folder imports render/.
 * Types only.
 */
import type { BootEntry } from '../domain/boot-entry.js';
import type { AddressFamily } from './client.js';
import type { Host } from '../inventory/inventory.js';

/** A rendered text and where it came from. */
export interface Served {
  text: string;
  /** Template file it came from. */
  file: string;
  /** Name of the profile it was rendered for. */
  profile: string;
}

/** Everything a host would be served (`3rc render`, GET /api/v1/hosts/NAME/render). */
export interface Preview {
  host: string;
  /** In URL and pxelinux form: 52-54-00-77-00-10. */
  mac: string;
  mode: 'install' | 'local';
  profile: string;
  /** The address family the host is shown asking over: its URLs name 3rc's address of that family. */
  family: AddressFamily;
  /** Null for `image` profiles, which have no template. */
  kickstart: { file: string; text: string } | null;
  /** What the host's cloud-init fetches from /ci/<mac>/ (by file name); null when the profile serves no NoCloud user-data. */
  nocloud: Record<'meta-data' | 'user-data' | 'vendor-data' | 'network-config', { file: string; text: string }> | null;
  ipxe: { file: string; text: string };
  /** pxelinux.cfg/01-<mac> as TFTP serves it (pxelinux.0 and syslinux.efi read it). */
  pxelinux: { file: string; text: string };
  /** grub.cfg-01-<mac> as TFTP serves it (GRUB's netboot images: Secure Boot's shim chain, ARM64). */
  grub: { file: string; text: string };
  /** Why what is shown is not (yet) what the host gets, if it is not. */
  note: string | null;
}

export interface HostRenderer {
  /**
   * The iPXE script of a host as the booter answers for its current boot entry; `mode` is that
   * answer's. `family`: the address family the host asked over (default IPv4): its URLs name 3rc's
   * address of that family, as for every method here.
   */
  ipxe(host: Host, family?: AddressFamily): Served & { mode: 'install' | 'local' };
  /** The kickstart/preseed of a host for its boot entry. Throws NotFoundError (no template) or TemplateError. */
  kickstart(host: Host, entry: BootEntry | undefined, family?: AddressFamily): Served;
  /**
   * One NoCloud file (meta-data, user-data, vendor-data, network-config) of a host for its boot
   * entry. Throws NotFoundError (the profile serves no user-data) or TemplateError.
   */
  nocloud(host: Host, entry: BootEntry | undefined, file: 'meta-data' | 'user-data' | 'vendor-data' | 'network-config', family?: AddressFamily): Served;
  /** Everything the host would be served, optionally with another profile. */
  preview(host: Host, profile?: string, family?: AddressFamily): Preview;
}
