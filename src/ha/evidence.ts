import { assertNever, readEvent, type DhcpEventData } from '../events/kinds.js';
import { peerAddress } from '../lib/net.js';
import { canonicalIpv6 } from '../lib/net6.js';

/**
 * Boot-server evidence: a VM that PXE-boots again and again while its boot entry says `local`
 * has a disk that no longer boots (the boot servers keep telling it "boot local" and it keeps
 * coming back, without ever answering in between). Fed from the boot trace (DHCP/TFTP PXE requests); pure bookkeeping, clock given.
 */
export class PxeEvidence {
  private readonly seen = new Map<string, number[]>();
  private readonly failedListeners = new Set<(vm: string) => void>();

  /** threshold PXE boots with a local entry within window ms mean "looping". */
  constructor(private readonly opts: { threshold: number; window: number } = { threshold: 3, window: 5 * 60_000 }) {}

  /** A PXE request from the VM's MAC; only `local` entries count (an install PXE-boots by design). */
  record(vm: string, at: number, mode: 'local' | 'install'): void {
    if (mode !== 'local') {
      this.seen.delete(vm);
      return;
    }
    const list = (this.seen.get(vm) ?? []).filter((t) => t > at - this.opts.window);
    list.push(at);
    this.seen.set(vm, list);
  }

  looping(vm: string, now: number): boolean {
    const list = this.seen.get(vm);
    if (!list) return false;
    return list.filter((t) => t > now - this.opts.window).length >= this.opts.threshold;
  }

  /**
   * The VM was seen up at `at`: the boots before it led somewhere, so they are no evidence. A VM
   * whose firmware tries the network first PXE-boots with a local entry on every healthy boot;
   * only boots that never come up add up to a loop.
   */
  seenUp(vm: string, at: number): void {
    this.keepOnly(vm, (t) => t > at);
  }

  /** The VM's installer reported failure (install-failed callback accepted): tell the listeners now. */
  installFailed(vm: string): void {
    for (const fn of this.failedListeners) fn(vm);
  }

  /** Calls fn on every accepted install-failed callback; returns the unsubscribe. */
  onInstallFailed(fn: (vm: string) => void): () => void {
    this.failedListeners.add(fn);
    return () => void this.failedListeners.delete(fn);
  }

  /**
   * The controller powered the VM on or reset it at `at` (start, reset, reinstall): the boots
   * before belong to a copy that no longer runs (reset, or destroyed before this start), so they
   * are no evidence about this one. Without this, a copy that booted where a start timed out
   * (and was then proven off) adds its boots to the new copy's, and a healthy VM looks looping.
   */
  powered(vm: string, at: number): void {
    this.keepOnly(vm, (t) => t >= at);
  }

  private keepOnly(vm: string, keep: (at: number) => boolean): void {
    const left = this.seen.get(vm)?.filter(keep);
    if (left?.length) this.seen.set(vm, left);
    else this.seen.delete(vm);
  }

  /** Forget a VM's history (after a reinstall was ordered). */
  clear(vm: string): void {
    this.seen.delete(vm);
  }
}

/** The slice of the boot trace this needs (inventory/trace.ts BootTrace). */
export interface TraceSink {
  record(event: { at: number; kind: string; host?: string | null; data?: Record<string, unknown> | null }): void;
}

/** What the boot servers tell the HA controller about a VM's install (see {@link bootEvidence}). */
export type BootEvidenceEvent = { type: 'install-failed'; vm: string; at: number } | { type: 'install-done'; vm: string; at: number };

/** How long after a firmware DISCOVER a fetch from the VM's own address confirms the boot attempt. */
export const BOOT_CONFIRM_MS = 120_000;

/** What the sink needs besides the evidence (see {@link bootEvidence}). */
export interface BootEvidenceOptions {
  /** The VM's reserved address (inventory), which a confirming fetch must come from. */
  ipOf(vm: string): string | undefined;
  /** Its reserved IPv6 address (hosts[].ipv6), for a boot over IPv6 (a DHCPv6 Solicit, then fetches over IPv6). */
  ip6Of?(vm: string): string | undefined;
  onEvent?: (e: BootEvidenceEvent) => void;
}

/**
 * The BootEvidence sink: wraps the boot trace so that the boot servers' events feed the HA side.
 * - a DHCP DISCOVER from boot firmware (the DHCP server puts the boot entry's mode in
 *   `data.boot` and marks firmware `data.pxe`) is a boot attempt, one DISCOVER per attempt; it
 *   feeds the PXE-loop evidence only once the VM's own address fetched something the boot servers
 *   answer within {@link BOOT_CONFIRM_MS}: its iPXE script (HTTP, served only to that address), a
 *   whole TFTP transfer or an HTTP boot file to that address. DHCP carries no proof of who sent
 *   it: any host on the LAN can send DISCOVERs with a VM's MAC, and counted alone they would turn a
 *   VM's reboot into a reinstall (its disk wiped) on a stranger's word. A fetch to the reserved
 *   address needs the replies to reach it (a TCP handshake, TFTP's acknowledged blocks);
 * - an accepted install callback (HTTP traces every one; status 200 = token checked) becomes a
 *   controller event: install-failed reaches the FSM at once (PxeEvidence.installFailed), not
 *   after the install timeout; install-done is passed on too.
 * It switches over every event kind (events/kinds.ts): a new kind does not compile until it is
 * decided here whether it is evidence.
 */
export function bootEvidence(inner: TraceSink, evidence: PxeEvidence, opts: BootEvidenceOptions): TraceSink {
  const { ipOf, ip6Of, onEvent } = opts;
  const fromVm = (vm: string, peer: unknown): boolean => {
    const a = peerAddress(peer);
    if (a === null) return false;
    if (a === ipOf(vm)) return true;
    const v6 = ip6Of?.(vm);
    return v6 !== undefined && canonicalIpv6(a) === canonicalIpv6(v6);
  };
  /** The last unconfirmed boot attempt of each VM (inventory hosts only: bounded). */
  const pending = new Map<string, { at: number; mode: 'local' | 'install' }>();
  /** A fetch by `peer` (`ip` or `ip:port`) at `at`: confirms the VM's pending attempt if it came from the VM's address. */
  const confirm = (vm: string, peer: unknown, at: number): void => {
    const p = pending.get(vm);
    if (!p || !fromVm(vm, peer) || at - p.at > BOOT_CONFIRM_MS) return;
    pending.delete(vm);
    evidence.record(vm, p.at, p.mode);
  };
  const feed = (event: Parameters<TraceSink['record']>[0]): void => {
    const e = readEvent(event);
    if (!event.host) return;
    if ('other' in e) {
      // DHCPv6 (no kinds of its own yet): boot firmware's Solicit (option 61 or iPXE: `pxe`) is a
      // boot attempt over IPv6, confirmed the same way by a fetch from the VM's own address.
      const d = e.data as DhcpEventData | null;
      if (e.kind === 'dhcp6.solicit' && d?.pxe === true && (d.boot === 'local' || d.boot === 'install')) pending.set(event.host, { at: e.at, mode: d.boot });
      return;
    }
    const vm = event.host;
    switch (e.kind) {
      case 'dhcp.discover': {
        // Boot firmware only (the DHCP server marks it `pxe`): the installed system's DHCP client
        // also asks on each boot, and counting it would make every boot count twice.
        const mode = e.data?.boot;
        if (e.data?.pxe === true && (mode === 'local' || mode === 'install')) pending.set(vm, { at: e.at, mode });
        return;
      }
      // The boot servers answered the VM's own address: the attempt was the VM's.
      case 'http.ipxe':
        if (e.data?.status === 200) confirm(vm, e.data.peer, e.at);
        return;
      case 'tftp.transfer':
        if (e.data?.outcome === 'complete') confirm(vm, e.data.peer, e.at);
        return;
      case 'http.file':
        if (e.reason === 'complete' && e.data?.status === 200) confirm(vm, e.data.peer, e.at);
        return;
      case 'http.install-failed':
        if (e.data?.status !== 200) return;
        evidence.installFailed(vm);
        onEvent?.({ type: 'install-failed', vm, at: e.at });
        return;
      case 'http.install-done':
        if (e.data?.status === 200) onEvent?.({ type: 'install-done', vm, at: e.at });
        return;
      // Not evidence: other DHCP messages (one DISCOVER per boot attempt is counted), the
      // kickstart (an install is no loop), and what the boot servers do not record
      // (install.* is written by the install lifecycle, ha.* by the controller, the rest by
      // the inventory, the monitor and P2V).
      case 'dhcp.offer': case 'dhcp.request': case 'dhcp.decline': case 'dhcp.ack': case 'dhcp.nak': case 'dhcp.release': case 'dhcp.inform':
      case 'dhcp.bootp': case 'dhcp.invalid': case 'dhcp.malformed': case 'dhcp.dropped':
      case 'http.kickstart': case 'http.refused':
      case 'install.done': case 'install.failed': case 'install.expired': case 'install.host-keys':
      case 'dns.query': case 'boot.set': case 'boot.removed': case 'host.created': case 'host.updated': case 'host.deleted':
      case 'p2v.job': case 'p2v.refused': case 'ha.transition': case 'ha.action': case 'ha.done': case 'ha.admission': case 'hypervisor.up': case 'hypervisor.down': case 'hypervisor.maintenance': case 'hypervisor.drain': case 'hypervisor.roll':
      case 'trace.unknown':
        return;
      default:
        assertNever(e);
    }
  };
  return {
    record(event) {
      feed(event);
      inner.record(event);
    },
  };
}

/** The sink under its old name. */
export const evidenceTrace = bootEvidence;
