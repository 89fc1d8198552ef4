/**
 * The event-loop stall monitor's arithmetic and pace, with no I/O (metrics.ts drives it with
 * a timer, hrtime, /proc schedstat and the loop's utilisation).
 *
 * A timer due every `tickMs` notes how late it fires: the lateness is the loop's delay, and less
 * the main thread's run-queue wait over the same tick it is the process's own stall. Its cost is
 * the wake-ups: at 5 ms, 200 a second, about two thirds of what 3rc spends with no traffic
 * (issue 26: 2.4-3.0 % of a core idle, 1.1 % without the monitor, on a loaded 2-core machine).
 * So the pace follows the loop: while the loop works the timer ticks every AWAKE_TICK_MS; once
 * QUIET_TICKS ticks in a row found the loop doing nothing but this timer, it ticks every
 * DORMANT_TICK_MS, and the first tick that finds work done again goes back to the fast pace.
 * A stall is seen at either pace (a blocked loop delays whichever tick is due), measured to
 * within the tick: one that starts from a dormant loop reads up to DORMANT_TICK_MS short.
 */

/** The timer's period while the loop works: the stall's precision under load. */
export const AWAKE_TICK_MS = 5;
/** The timer's period once the loop has been quiet for QUIET_TICKS ticks. */
export const DORMANT_TICK_MS = 25;
/** Consecutive quiet ticks (100 ms at AWAKE_TICK_MS) before the timer slows down. */
export const QUIET_TICKS = 20;
/**
 * Work over one tick (the loop's active time less the thread's run-queue wait) below which the
 * tick counts as quiet: the timer's own callback is a few tens of microseconds.
 */
export const QUIET_WORK_MS = 0.5;

/** What one tick measured, in ms since the previous tick. */
export interface TickReading {
  /** Wall time since the previous tick. */
  elapsedMs: number;
  /** Run-queue wait of the main thread (0 where the kernel does not say). */
  queuedMs: number;
  /** The loop's active time (not waiting for events). */
  activeMs: number;
}

export interface PaceState {
  tickMs: number;
  quietTicks: number;
}

export const initialPace = (): PaceState => ({ tickMs: AWAKE_TICK_MS, quietTicks: 0 });

/** One tick's delay (lateness) and own stall (the delay less the run-queue wait), in ms. */
export function stallOf(r: TickReading, tickMs: number): { delayMs: number; ownMs: number } {
  const delayMs = r.elapsedMs - tickMs;
  return { delayMs, ownMs: delayMs - r.queuedMs };
}

/** The pace after a tick: slower after QUIET_TICKS quiet ticks, fast again at the first busy one. */
export function nextPace(s: PaceState, r: TickReading): PaceState {
  const quiet = r.activeMs - r.queuedMs < QUIET_WORK_MS;
  if (!quiet) return { tickMs: AWAKE_TICK_MS, quietTicks: 0 };
  if (s.tickMs === DORMANT_TICK_MS) return s;
  const quietTicks = s.quietTicks + 1;
  return quietTicks >= QUIET_TICKS ? { tickMs: DORMANT_TICK_MS, quietTicks: 0 } : { tickMs: s.tickMs, quietTicks };
}
