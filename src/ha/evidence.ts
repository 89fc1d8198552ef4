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
    const list = this.seen.get(vm);
    if (!list) return;
    const left = list.filter((t) => t > at);
    if (left.length) this.seen.set(vm, left);
    else this.seen.delete(vm);
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

  /** Forget a VM's history (after a reinstall was ordered). */
  clear(vm: string): void {
    this.seen.delete(vm);
  }
}

/** The slice of the boot trace this needs (inventory/trace.ts BootTrace). */
export interface TraceSink {
  record(event: { at: number; kind: string; host?: string | null; data?: Record<string, unknown> | null }): void;
}

/**
 * Wraps the boot trace so that every DHCP DISCOVER from a PXE client (the DHCP server puts the
 * boot entry's mode in `data.boot`) also feeds the evidence. One DISCOVER per boot attempt.
 */
export function evidenceTrace(inner: TraceSink, evidence: PxeEvidence): TraceSink {
  return {
    record(event) {
      const mode = event.data?.['boot'];
      if (event.kind === 'dhcp.discover' && event.host && (mode === 'local' || mode === 'install')) evidence.record(event.host, event.at, mode);
      // The HTTP server traces every install-failed callback; status 200 = token checked, accepted.
      if (event.kind === 'http.install-failed' && event.host && event.data?.['status'] === 200) evidence.installFailed(event.host);
      inner.record(event);
    },
  };
}
