/**
 * Boot evidence from the trace: a host that fetched its first-stage loader and then never asked
 * for anything else is stuck after its loader. That is what Secure Boot refusing an unsigned
 * loader looks like from the network (the firmware fetches the file, verifies it, refuses it, and
 * may fetch it again from its next boot option), and also what a broken or wrong-architecture
 * loader looks like. The firmware's own retries (its DHCP answered with the same loader, the same
 * loader fetched again) are not progress; anything else the host asks for is: another file over
 * TFTP or HTTP (even one we do not have: the loader ran), an iPXE script, a kickstart, a DNS
 * query, the installer's own DHCP, an install callback.
 *
 * A file fetch counts (as the loader, or as progress past it) only when it came from the host's
 * own address (its reserved IP, when it has one): any host can ask for another host's
 * pxelinux.cfg/01-<mac> or grub.cfg-01-<mac>, and must not be able to clear (or make) its verdict.
 *
 * Pure and incremental: every trace event of a host of the inventory goes through
 * {@link LoaderWatch.observe} (O(1), one small record per host; events without a host name are
 * ignored, so a random-MAC flood grows nothing), and {@link LoaderWatch.stuck} answers with the
 * time it is given.
 */
import type { TraceEvent } from '../events/kinds.js';
import { peerAddress } from '../lib/net.js';

/** A host stuck after its loader, as the API, `3rc status` and the dashboard show it. */
export interface StuckBoot {
  host: string;
  mac: string;
  /** The loader as DHCP named it, relative to the boot root: `shimx64.efi`. */
  loader: string;
  via: 'tftp' | 'http';
  /** When the loader was first fetched whole (ms), and how often since. */
  since: number;
  fetches: number;
  /** When the host last asked anything (a loader fetch or the firmware's DHCP). */
  lastSeen: number;
  /** One line for people: `fetched its loader shimx64.efi over TFTP 2 times, asked for nothing else in 95 s`. */
  detail: string;
}

interface Watch {
  host: string;
  /** Loaders fetched before this one in the same stall (`ipxe.efi over TFTP`): the firmware's next boot option. */
  earlier: string[];
  /** The loader the host's firmware was last told to fetch (null: none, or progress past it). */
  loader: string | null;
  firstFetch: number | null;
  fetches: number;
  lastSeen: number;
  via: 'tftp' | 'http';
}

/** `http://10.77.0.1/boot/files/ipxe.efi` (a UEFI HTTP Boot answer) -> `ipxe.efi`; a TFTP name as it is. */
export function loaderName(file: string): string {
  const m = /^https?:\/\/[^/]+\/boot\/files\/(.+)$/.exec(file);
  const name = m ? m[1]! : file;
  return name.replace(/^\/+/, '');
}

export class LoaderWatch {
  private readonly watches = new Map<string, Watch>();

  /**
   * @param quietMs how long a host may ask nothing but its loader before it is reported stuck.
   * @param ipOf the host's own address (undefined: it has none reserved, fetches from anywhere count).
   */
  constructor(private readonly quietMs: number, private readonly ipOf: (host: string) => string | undefined = () => undefined) {}

  observe(e: TraceEvent): void {
    const mac = e.mac;
    if (!mac || !e.host) return;
    const w = this.watches.get(mac);
    switch (e.kind) {
      case 'dhcp.discover': case 'dhcp.request': case 'dhcp.bootp': {
        const d = e.data ?? {};
        const answered = typeof e.reason === 'string' && /^(offer|ack|proxy-offer|proxy-ack)/.test(e.reason);
        if (!answered) return;
        // Boot firmware told to fetch a loader: a (new) boot attempt, or the firmware's retry.
        if (d.pxe && typeof d.file === 'string' && d.file && d.client !== 'ipxe') {
          const loader = loaderName(d.file);
          const via = /^https?:/.test(d.file) ? 'http' : 'tftp';
          if (w && w.loader === loader && w.via === via) {
            w.lastSeen = e.at;
            return;
          }
          // Another loader after one that went nowhere (OVMF's next boot option, e.g. HTTP after
          // PXE): the same stall goes on, since its first fetch.
          if (w?.loader && w.firstFetch !== null) {
            w.earlier.push(`${w.loader} over ${w.via.toUpperCase()}`);
            Object.assign(w, { loader, via, lastSeen: e.at });
            return;
          }
          this.watches.set(mac, { host: e.host, earlier: [], loader, firstFetch: null, fetches: 0, lastSeen: e.at, via });
          return;
        }
        // iPXE asking again, or the installer's own DHCP: the loader ran.
        this.progress(mac);
        return;
      }
      case 'tftp.transfer':
        if (!e.data || !this.fromHost(e.host, e.data.peer)) return;
        return this.fetched(mac, w, e.at + (e.data.ms ?? 0), e.data.file, e.data.outcome === 'complete');
      case 'http.file':
        if (!e.data || !this.fromHost(e.host, e.data.peer)) return;
        return this.fetched(mac, w, e.at + (e.data.ms ?? 0), e.data.file.replace(/^\/boot\/files\//, ''), e.reason === 'complete' && e.data.status === 200);
      case 'http.kickstart': case 'http.ipxe': case 'http.install-done': case 'http.install-failed':
      case 'dns.query': case 'install.done': case 'install.failed':
        return this.progress(mac);
      case 'boot.set': case 'boot.removed': case 'host.deleted':
        // A new decision about the host: whatever it was stuck on is history.
        return this.progress(mac);
      default:
        return;
    }
  }

  /** True when `peer` is the host's own address, or the host has none to compare with. */
  private fromHost(host: string, peer: unknown): boolean {
    const own = this.ipOf(host);
    return own === undefined || peerAddress(peer) === own;
  }

  /** A file fetch: the loader itself (whole: counted), or anything else (progress). */
  private fetched(mac: string, w: Watch | undefined, at: number, file: string, whole: boolean): void {
    if (!w?.loader) return;
    if (file.replace(/^\/+/, '') !== w.loader) return this.progress(mac);
    w.lastSeen = Math.max(w.lastSeen, at);
    if (!whole) return;
    w.firstFetch ??= at;
    w.fetches++;
  }

  private progress(mac: string): void {
    this.watches.delete(mac);
  }

  /** The host's boot, if it is stuck after its loader at `now`. */
  of(mac: string, now: number): StuckBoot | null {
    const w = this.watches.get(mac);
    if (!w || !w.loader || w.firstFetch === null || now - w.firstFetch < this.quietMs) return null;
    const quiet = Math.round((now - w.firstFetch) / 1000);
    return {
      host: w.host, mac, loader: w.loader, via: w.via, since: w.firstFetch, fetches: w.fetches, lastSeen: w.lastSeen,
      detail: `fetched its loader ${w.loader} over ${w.via.toUpperCase()}${w.earlier.length ? ` (before it: ${w.earlier.join(', ')})` : ''} ${w.fetches === 1 ? 'once' : `${w.fetches} times`}, asked for nothing else in ${quiet} s (a loader the firmware refused, e.g. unsigned under Secure Boot, or a broken one)`,
    };
  }

  /** Every host stuck after its loader at `now`, by host name. */
  stuck(now: number): StuckBoot[] {
    return [...this.watches.keys()].map((mac) => this.of(mac, now)).filter((s): s is StuckBoot => s !== null).sort((a, b) => a.host.localeCompare(b.host));
  }
}
