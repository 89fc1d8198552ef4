/**
 * Time, injected. Policy modules take a Clock instead of calling Date.now or setTimeout, so that
 * tests and the simulator can run hours of cluster time in milliseconds.
 */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs fn once after ms milliseconds, unless cancelled. */
  schedule(ms: number, fn: () => void): Timer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(ms, fn) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

/** A clock that only moves when told to; timers fire in time order during advance(). */
export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  schedule(ms: number, fn: () => void): Timer {
    const id = this.seq++;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return { cancel: () => void this.timers.delete(id) };
  }

  /** Moves time forward by ms, firing due timers in order (timers they schedule fire too). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let nextId = -1;
      let nextAt = Infinity;
      for (const [id, timer] of this.timers) {
        if (timer.at <= end && (timer.at < nextAt || (timer.at === nextAt && id < nextId))) {
          nextId = id;
          nextAt = timer.at;
        }
      }
      if (nextId < 0) break;
      const timer = this.timers.get(nextId)!;
      this.timers.delete(nextId);
      this.t = timer.at;
      timer.fn();
    }
    this.t = end;
  }

  /** Number of timers not yet fired or cancelled. */
  get pending(): number {
    return this.timers.size;
  }
}

/** Runs fn every ms milliseconds on the clock until the returned timer is cancelled. */
export function every(clock: Clock, ms: number, fn: () => void): Timer {
  let t: Timer;
  const tick = () => {
    t = clock.schedule(ms, tick);
    fn();
  };
  t = clock.schedule(ms, tick);
  return { cancel: () => t.cancel() };
}

/** Resolves after ms milliseconds of the clock's time. */
export function delay(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => void clock.schedule(ms, resolve));
}
