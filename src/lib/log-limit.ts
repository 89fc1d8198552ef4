/**
 * A limit on log lines per second (a token bucket; pure, time given). Any host on the LAN can
 * make 3rc log: a malformed DHCP packet, a TFTP request turned away as busy, an ICMP error on a
 * transfer socket each write a line. Unbounded, a flood of them costs a JSON serialisation per
 * packet, fills the disk or the journal, and (stdout being asynchronous) grows the process's
 * memory while the reader lags. Beyond the limit lines are dropped and counted per level; a
 * summary line says how many, once the flood leaves room again or at the next flush.
 */
export interface LogLimitOptions {
  /** Lines per second, also the burst. 0: no limit. */
  linesPerSecond: number;
}

/** pino's numeric levels (fatal 60 is never limited: it comes before an exit). */
const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const FATAL = 60;

export class LogLimiter {
  private tokens: number;
  private last: number;
  private readonly dropped = new Map<string, number>();
  private since: number | null = null;

  constructor(private readonly o: LogLimitOptions, now: number) {
    this.tokens = o.linesPerSecond;
    this.last = now;
  }

  /** May a line of this level be written now? A refused one is counted. */
  allow(level: number, now: number): boolean {
    if (this.o.linesPerSecond <= 0 || level >= FATAL) return true;
    const rate = this.o.linesPerSecond;
    this.tokens = Math.min(rate, this.tokens + ((now - this.last) / 1000) * rate);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    const name = LEVEL_NAMES[level] ?? String(level);
    this.dropped.set(name, (this.dropped.get(name) ?? 0) + 1);
    this.since ??= now;
    return false;
  }

  /** A line dropped elsewhere (standard output's buffer full), counted with the others. */
  countDropped(why: string): void {
    this.dropped.set(why, (this.dropped.get(why) ?? 0) + 1);
    this.since ??= this.last;
  }

  /** Lines dropped since the last call (per level, and since when), then forgotten; null if none. */
  takeDropped(now: number): { total: number; byLevel: Record<string, number>; seconds: number } | null {
    if (this.since === null) return null;
    const byLevel = Object.fromEntries(this.dropped);
    const total = [...this.dropped.values()].reduce((a, b) => a + b, 0);
    const seconds = Math.max(0, (now - this.since) / 1000);
    this.dropped.clear();
    this.since = null;
    return { total, byLevel, seconds };
  }
}
