/**
 * How much of one event-loop turn the DHCP receive queue may use (issue 26, the boot storm). The
 * queue is worked a slice per turn (server.ts pump); between two slices the loop runs everything
 * else: the sockets' reads and the other servers. In a storm, the clients that already have their
 * lease are fetching files: one TFTP socket per transfer, each read up to 32 datagrams a turn, so
 * a turn can last tens of ms, and a fixed slice of DHCP requests per turn gave DHCP a small
 * fraction of the loop: the clients still waiting for a lease waited, timed out and retransmitted.
 *
 * The rule: a slice takes at least `min` entries (what the queue did before), and past that goes
 * on while it has used less time than the loop spent elsewhere since the previous slice ended
 * with entries still waiting (an even share while DHCP is backlogged), never more than `maxMs`. With nothing else running
 * (a DHCP-only load) the time elsewhere is the sockets' reads, shorter than `min` entries take,
 * and the slice stays at `min`: the sockets are still read between slices as often as before.
 *
 * Pure: the caller gives the times (a monotonic clock in ms, fractions allowed).
 */
export interface TurnShareLimits {
  /** Entries a slice takes whatever the time (when the queue has them). */
  min: number;
  /** The longest slice, ms. */
  maxMs: number;
  /**
   * Time elsewhere (ms) below which a slice takes only `min`: a DHCP-only load spends about a
   * ms between slices on its own reads and replies, and a longer slice there reads the socket
   * less often, so the kernel's first-in-first-out buffer overflows and drops REQUESTs whose
   * OFFER was already paid for (measured: goodput 0.6-0.8x at 8,000 and 16,000/s offered).
   */
  busyMs: number;
  /**
   * Datagrams queued since the previous slice at or above which a slice takes only `min`: the
   * DHCP sockets themselves are busy (libuv reads up to 32 datagrams per socket per turn), and
   * reading them often is what keeps their buffer from overflowing. Time elsewhere is wall time
   * (a process the machine preempts sees long gaps with nothing else running); this tells a loop
   * busy with other servers from one busy with DHCP.
   */
  readBurst: number;
}

export class TurnShare {
  /** When the previous slice ended, or undefined before the first one. */
  private lastEnd: number | undefined;

  constructor(private readonly limits: TurnShareLimits) {}

  /**
   * A slice starts at `now`, `arrived` datagrams having been queued since the previous one: the
   * time by which it should stop taking entries once it has taken `min` of them.
   */
  begin(now: number, arrived: number): number {
    const elsewhere = this.lastEnd === undefined ? 0 : Math.max(0, now - this.lastEnd);
    if (elsewhere < this.limits.busyMs || arrived >= this.limits.readBurst) return now;
    return now + Math.min(this.limits.maxMs, elsewhere);
  }

  /**
   * The slice ended at `now`; `backlog`: entries are still waiting (the time until the next slice
   * is then the loop's other work; otherwise it is idle time, which earns no share).
   */
  end(now: number, backlog: boolean): void {
    this.lastEnd = backlog ? now : undefined;
  }

  /** Whether a slice that has taken `taken` entries goes on at `now`, given begin()'s deadline. */
  goOn(taken: number, now: number, deadline: number): boolean {
    return taken < this.limits.min || now < deadline;
  }
}
