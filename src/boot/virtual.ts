/**
 * Files generated at request time (pxelinux.cfg/01-<mac>, pxelinux.cfg/default, grub.cfg-01-<mac>, grub.cfg):
 * what the TFTP server asks for through {@link VirtualFiles}, and who may read them.
 *
 * Who may read them (issue 19: the install entry went to anyone who asked): a virtual file that
 * carries a secret goes only to its owner, see {@link readableBy}. The rule is carried by the
 * file ({@link VirtualFile.secret}), not by its name: any virtual file generated with a secret is
 * bound to its owner. Pure: no I/O.
 */
import { isOwnerAddress } from '../lib/net.js';
import type { BootSpec } from './booter.js';

/** A generated file and what it was generated from (for the log and the boot trace). */
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
  /** The host's reserved IPv6 address (hosts[].ipv6), if it has one: the owner may ask from it too. */
  ownerIp6?: string | null;
}

/**
 * Whether a request from `address` may read `v`: a file with a secret only from its owner's
 * reserved IP or reserved IPv6 address (no owner: nobody), any other file from anywhere.
 */
export function readableBy(v: VirtualFile, address: string): boolean {
  if (!v.secret) return true;
  return isOwnerAddress(address, { ip: v.ownerIp, ipv6: v.ownerIp6 });
}

/**
 * The generated files a file server answers with, by checked relative path and the address that
 * asks (`peer`: a loader that came over IPv6 reads a config naming 3rc's IPv6 address).
 */
export interface VirtualFiles {
  /** A file generated in place of whatever the root holds (the entry of a known MAC), or null. */
  generated(rel: string, peer?: string): VirtualFile | null;
  /** A file generated only when the root has none by that name (`pxelinux.cfg/default`), or null. */
  fallback(rel: string, peer?: string): VirtualFile | null;
}

/** Several generators as one: the first that generates a name answers it (their names do not overlap). */
export function anyVirtualFiles(...all: VirtualFiles[]): VirtualFiles {
  return {
    generated: (rel, peer) => all.reduce<VirtualFile | null>((found, v) => found ?? v.generated(rel, peer), null),
    fallback: (rel, peer) => all.reduce<VirtualFile | null>((found, v) => found ?? v.fallback(rel, peer), null),
  };
}

/**
 * Generated files that a config reload builds again (new profiles, templates): readers keep the
 * same object. A build that fails (a template gone) keeps the files as they were and throws.
 */
export class ReloadableFiles implements VirtualFiles {
  private current: VirtualFiles;

  constructor(private readonly build: () => VirtualFiles) {
    this.current = build();
  }

  generated(rel: string, peer?: string): VirtualFile | null {
    return this.current.generated(rel, peer);
  }

  fallback(rel: string, peer?: string): VirtualFile | null {
    return this.current.fallback(rel, peer);
  }

  reload(): void {
    this.current = this.build();
  }
}

/**
 * A loader's per-MAC config from a boot spec, in the loader's syntax (`render`): null when the MAC
 * is neither in the BootTable nor in the inventory (the request falls through to the boot root).
 * An install entry holds the kickstart URL with the per-install token: a secret bound to the
 * host's reserved IP. A local one holds none.
 */
export function specFile(spec: BootSpec, render: { local(target: string, comment: string): string; install(name: string, target: string): string }): VirtualFile | null {
  const { mac, host, entry } = spec;
  if (!entry && !host) return null;
  const name = host?.name ?? mac.replace(/:/g, '-');
  const target = `${name} (${mac})`;
  const ownerIp = host?.ip ?? null;
  const ownerIp6 = host?.ipv6 ?? null;
  if (spec.mode === 'local') return { content: render.local(target, spec.note ?? 'boot mode local'), mac, mode: 'local', note: spec.note, secret: false, ownerIp, ownerIp6 };
  return { content: render.install(name, target), mac, mode: 'install', note: null, secret: true, ownerIp, ownerIp6 };
}
