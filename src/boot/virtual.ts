/**
 * Files generated at request time (pxelinux.cfg/01-<mac>, pxelinux.cfg/default; next grub.cfg):
 * what the TFTP server asks for through {@link VirtualFiles}, and who may read them.
 *
 * Who may read them (issue 19: the install entry went to anyone who asked): a virtual file that
 * carries a secret goes only to its owner, see {@link readableBy}. The rule is carried by the
 * file ({@link VirtualFile.secret}), not by its name: any virtual file generated with a secret is
 * bound to its owner. Pure: no I/O.
 */

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

/** The generated files a file server answers with, by checked relative path. */
export interface VirtualFiles {
  /** A file generated in place of whatever the root holds (the entry of a known MAC), or null. */
  generated(rel: string): VirtualFile | null;
  /** A file generated only when the root has none by that name (`pxelinux.cfg/default`), or null. */
  fallback(rel: string): VirtualFile | null;
}
