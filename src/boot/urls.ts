/**
 * The URLs that hosts are given (in DHCP options, pxelinux/iPXE configs, kernel arguments and
 * kickstarts). One place, so that DHCP, TFTP and HTTP agree on them.
 */
import type { Config } from '../config/load.js';

/** Base URL hosts use to reach 3rc's HTTP server (no trailing slash). */
export function publicBaseUrl(config: Pick<Config, 'network' | 'servers'>): string {
  const http = config.servers.http;
  if (http.publicUrl) return http.publicUrl.replace(/\/+$/, '');
  return http.port === 80 ? `http://${config.network.serverIp}` : `http://${config.network.serverIp}:${http.port}`;
}

/** MAC in URL form: `52-54-00-77-00-10` (no colons, which some firmware mangles). */
export function macPath(mac: string): string {
  return mac.replace(/:/g, '-');
}

export interface InstallUrls {
  /** iPXE script for this MAC. */
  ipxe: string;
  /** The rendered kickstart or preseed. */
  kickstart: string;
  /** Called by the installer when it finished (POST or GET). */
  done: string;
  /** Called by the installer when it failed (POST, body = log). */
  failed: string;
  /**
   * The NoCloud seed (cloud-init appends meta-data, user-data, vendor-data, network-config): no
   * token, since cloud-init appends file names to it; served by source address alone.
   */
  nocloud: string;
}

export function installUrls(base: string, mac: string, token: string | null): InstallUrls {
  const m = macPath(mac);
  const q = token ? `?token=${encodeURIComponent(token)}` : '';
  return {
    ipxe: `${base}/boot/ipxe/${m}`,
    kickstart: `${base}/ks/${m}${q}`,
    done: `${base}/install/${m}/done${q}`,
    failed: `${base}/install/${m}/failed${q}`,
    nocloud: `${base}/ci/${m}/`,
  };
}

/** Boot files are served over HTTP under /boot/files/, from the same root as TFTP. */
export function bootFileUrl(base: string, path: string): string {
  return `${base}/boot/files/${path.split('/').map(encodeURIComponent).join('/')}`;
}
