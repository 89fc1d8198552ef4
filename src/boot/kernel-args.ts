/**
 * Kernel command line of an install: the profile's own arguments plus what the installer needs
 * to find its kickstart/preseed (Anaconda: inst.ks=; debian-installer: url=, with the host name
 * and domain preset so it does not ask before the preseed is loaded), and for cloud-init the
 * NoCloud seed, `ds=nocloud;s=URL` (cloud-init's documented form; Ubuntu's installer also wants
 * the bare word `autoinstall` so it does not ask before wiping the disk).
 *
 * The `;` is one more character of the word for every loader 3rc writes it to: pxelinux's APPEND
 * takes the rest of its line as it is, GRUB's `linux` line quotes the word (render/grub.ts
 * grubWord), and iPXE ends a command only at a `;` standing alone between spaces (its exec.c
 * command_terminator compares whole tokens).
 */
import type { Profile } from '../inventory/inventory.js';

export interface KernelArgsInput {
  profile: Pick<Profile, 'installer' | 'kernelArgs'>;
  hostName: string;
  domain: string;
  kickstartUrl: string;
  /** The NoCloud seed URL (boot/urls.ts installUrls().nocloud), ending with `/`. */
  nocloudUrl: string;
}

/** cloud-init's kernel command line datasource argument for a NoCloud seed over HTTP. */
export function nocloudArg(seedUrl: string): string {
  return `ds=nocloud;s=${seedUrl}`;
}

export function installKernelArgs({ profile, hostName, domain, kickstartUrl, nocloudUrl }: KernelArgsInput): string {
  const own = profile.kernelArgs.trim();
  let extra: string[];
  switch (profile.installer) {
    case 'kickstart':
      extra = [`inst.ks=${kickstartUrl}`];
      break;
    case 'preseed':
      extra = [`url=${kickstartUrl}`, `hostname=${hostName}`, `domain=${domain}`];
      break;
    case 'image':
      extra = [`3rc.image=${kickstartUrl}`];
      break;
    case 'autoinstall':
      extra = ['autoinstall', nocloudArg(nocloudUrl)];
      break;
    case 'cloud-image':
      // The image installer runs the install script; the seed is there for the script (and for a
      // cloud-init that would run in the installer itself).
      extra = [`3rc.image=${kickstartUrl}`, nocloudArg(nocloudUrl)];
      break;
  }
  return [own, ...extra].filter(Boolean).join(' ');
}
