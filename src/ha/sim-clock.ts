/**
 * A virtual clock for the simulator that waits for the asynchronous work each timer starts:
 * after firing a timer it awaits the promise the callback returned and then `settle()` (the
 * controller's idle), so simulated time never runs ahead of the controller's I/O.
 */
import type { Clock, Timer } from '../lib/clock.js';

interface Entry {
  at: number;
  seq: number;
  fn: () => unknown;
  cancelled: boolean;
}

export class SimClock implements Clock {
  private t: number;
  private seq = 0;
  private queue: Entry[] = [];

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  schedule(ms: number, fn: () => void): Timer {
    const e: Entry = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    // Sorted insert from the end: most new timers are the latest.
    let i = this.queue.length;
    while (i > 0 && (this.queue[i - 1]!.at > e.at || (this.queue[i - 1]!.at === e.at && this.queue[i - 1]!.seq > e.seq))) i--;
    this.queue.splice(i, 0, e);
    // Cancelled entries are skipped when reached: O(1) cancel, thousands of timers are cheap.
    return { cancel: () => void (e.cancelled = true) };
  }

  /** Runs every timer due up to `end`, in order, settling after each; then sets now = end. */
  async runUntil(end: number, settle: () => Promise<void>, stop?: () => boolean): Promise<void> {
    while (this.queue.length > 0 && this.queue[0]!.at <= end) {
      const e = this.queue.shift()!;
      if (e.cancelled) continue;
      this.t = e.at;
      const r = e.fn();
      if (r && typeof (r as Promise<unknown>).then === 'function') await r;
      await settle();
      if (stop?.()) return;
    }
    this.t = end;
  }

  /** When the next live timer is due, or null when none is. */
  nextAt(): number | null {
    while (this.queue.length > 0 && this.queue[0]!.cancelled) this.queue.shift();
    return this.queue[0]?.at ?? null;
  }

  /** How far ahead each live timer is due, in order (for state hashing). */
  dueIn(): number[] {
    return this.queue.filter((e) => !e.cancelled).map((e) => e.at - this.t);
  }

  /**
   * A wall-clock jump: now() moves by ms (either way) while every timer keeps the delay it had
   * left, as real timers (monotonic) do when the system clock is set.
   */
  jump(ms: number): void {
    this.t += ms;
    for (const e of this.queue) e.at += ms;
  }

  get pending(): number {
    return this.queue.filter((e) => !e.cancelled).length;
  }
}
