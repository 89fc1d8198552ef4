/**
 * Kernel command line of an install: the profile's own arguments plus what the installer needs
 * to find its kickstart/preseed (Anaconda: inst.ks=; debian-installer: url=, with the host name
 * and domain preset so it does not ask before the preseed is loaded).
 */
import type { Profile } from '../inventory/inventory.js';

export interface KernelArgsInput {
  profile: Pick<Profile, 'installer' | 'kernelArgs'>;
  hostName: string;
  domain: string;
  kickstartUrl: string;
}

export function installKernelArgs({ profile, hostName, domain, kickstartUrl }: KernelArgsInput): string {
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
  }
  return [own, ...extra].filter(Boolean).join(' ');
}
