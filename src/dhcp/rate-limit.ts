/**
 * Per-MAC rate limit: a token bucket of `perSecond` tokens, refilled continuously. Pure apart
 * from its own state: time comes from the caller, so tests use a fake clock.
 *
 * Memory: a flood of random MACs (anyone on the segment can send them) must not grow the state
 * without bound. A bucket idle for a full refill period (1 s) is back at `perSecond` tokens, the
 * same as a bucket never seen, so it is forgotten: at most once per second a sweep drops every
 * such bucket (time-based, from the caller's clock). Between sweeps the table is also capped at
 * `maxTracked` entries, dropping the least recently used first.
 */

/** What allow() says about one packet. */
export type RateVerdict =
  /** Accepted (a token was consumed). */
  | 'allow'
  /** The first packet refused since this MAC was last accepted: the start of a flood. */
  | 'limit-start'
  /** Refused again, within the same flood. */
  | 'limit';

interface Bucket {
  tokens: number;
  /** Last packet (ms). */
  at: number;
  /** Refused since the last accepted packet (so that a flood is reported once). */
  limited: boolean;
}

/** A bucket is full again, and forgettable, after this long without packets. */
const REFILL_MS = 1000;

export class MacRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private sweptAt = -Infinity;

  /**
   * @param perSecond packets accepted per second per MAC (also the burst size).
   * @param maxTracked most MACs remembered at once, whatever the clock says.
   */
  constructor(private readonly perSecond: number, private readonly maxTracked = 100_000) {}

  /** MACs currently remembered (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  /** True when a packet from `mac` at time `now` (ms) is accepted; consumes a token. */
  allow(mac: string, now: number): boolean {
    return this.check(mac, now) === 'allow';
  }

  /** Like allow(), and tells the first refusal of a flood apart from the ones after it. */
  check(mac: string, now: number): RateVerdict {
    this.sweep(now);
    let b = this.buckets.get(mac);
    if (b) {
      // Most recently used last, so that the cap evicts the MACs silent for longest.
      this.buckets.delete(mac);
    } else {
      if (this.buckets.size >= this.maxTracked) this.evict(Math.max(1, Math.floor(this.maxTracked / 10)));
      b = { tokens: this.perSecond, at: now, limited: false };
    }
    this.buckets.set(mac, b);
    b.tokens = Math.min(this.perSecond, b.tokens + (Math.max(0, now - b.at) * this.perSecond) / 1000);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      b.limited = false;
      return 'allow';
    }
    if (b.limited) return 'limit';
    b.limited = true;
    return 'limit-start';
  }

  /**
   * Forgets every bucket idle for a full refill period; runs at most once per REFILL_MS. The map
   * is in order of last use, so the sweep stops at the first bucket still in use (a clock that
   * steps back only delays forgetting; maxTracked still holds).
   */
  private sweep(now: number): void {
    if (now - this.sweptAt < REFILL_MS && now >= this.sweptAt) return;
    this.sweptAt = now;
    for (const [mac, b] of this.buckets) {
      if (now - b.at < REFILL_MS) break;
      this.buckets.delete(mac);
    }
  }

  /** Drops the `n` least recently used buckets. */
  private evict(n: number): void {
    for (const k of this.buckets.keys()) {
      if (n-- <= 0) break;
      this.buckets.delete(k);
    }
  }
}
