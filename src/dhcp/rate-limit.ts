/**
 * Per-MAC rate limit: a token bucket of `perSecond` tokens, refilled continuously. Pure apart
 * from its own state: time comes from the caller, so tests use a fake clock.
 */
export class MacRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  /** @param perSecond packets accepted per second per MAC (also the burst size). */
  constructor(private readonly perSecond: number, private readonly maxTracked = 100_000) {}

  /** True when a packet from `mac` at time `now` (ms) is accepted; consumes a token. */
  allow(mac: string, now: number): boolean {
    let b = this.buckets.get(mac);
    if (!b) {
      // A flood of random MACs must not grow memory without bound: forget the oldest half.
      if (this.buckets.size >= this.maxTracked) {
        let n = this.buckets.size / 2;
        for (const k of this.buckets.keys()) {
          if (n-- <= 0) break;
          this.buckets.delete(k);
        }
      }
      b = { tokens: this.perSecond, at: now };
      this.buckets.set(mac, b);
    }
    b.tokens = Math.min(this.perSecond, b.tokens + ((now - b.at) * this.perSecond) / 1000);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
