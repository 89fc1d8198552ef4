/**
 * Transfer progress of a P2V disk upload: bytes, percent, rate over a sliding window and ETA,
 * plus the human formats the CLI and web page show. Pure: the caller passes the time (`now`,
 * in milliseconds, e.g. from lib/clock), so tests drive it with a fake clock.
 */

/** Rate window: long enough to smooth chunk-sized bursts, short enough to follow a slowdown. */
const RATE_WINDOW_MS = 30_000;
/** Below this span between the oldest and newest sample the rate is noise: none is shown. */
const MIN_RATE_SPAN_MS = 1_000;
/** add() may be called per 64 KiB block: samples closer than this are merged into one. */
const MERGE_MS = 500;

export interface ProgressView {
  bytes: number;
  totalBytes: number;
  /** 0..100, one decimal, rounded down: 100 only when every byte is there. */
  percent: number;
  rateBytesPerSec: number | null;
  etaSeconds: number | null;
}

interface Sample {
  t: number;
  /** Cumulative bytes at t. */
  bytes: number;
}

export class TransferProgress {
  private bytes = 0;
  /** Oldest first; the constructor's (now, 0) is the first sample. */
  private samples: Sample[];

  constructor(
    readonly totalBytes: number,
    now: number,
  ) {
    this.samples = [{ t: now, bytes: 0 }];
  }

  /** Records `bytes` more transferred at `now`. */
  add(bytes: number, now: number): void {
    this.bytes += bytes;
    const s = this.samples;
    // Keep at most ~2 samples per MERGE_MS: move the newest forward instead of appending.
    if (s.length >= 2 && now - s[s.length - 2]!.t < MERGE_MS) s[s.length - 1] = { t: now, bytes: this.bytes };
    else s.push({ t: now, bytes: this.bytes });
    // Drop samples that left the window, keeping the newest so a stall is still measured from it.
    let drop = 0;
    while (drop < s.length - 1 && s[drop]!.t < now - RATE_WINDOW_MS) drop++;
    if (drop > 0) s.splice(0, drop);
  }

  /**
   * The state at `now`. The rate is over the samples of the last 30 s (oldest to newest); with
   * fewer than two samples there at least 1 s apart it is null (starting, or stalled > 30 s).
   */
  view(now: number): ProgressView {
    const inWindow = this.samples.filter((x) => x.t >= now - RATE_WINDOW_MS && x.t <= now);
    const first = inWindow[0];
    const last = inWindow[inWindow.length - 1];
    let rate: number | null = null;
    if (first && last && last.t - first.t >= MIN_RATE_SPAN_MS) rate = ((last.bytes - first.bytes) * 1000) / (last.t - first.t);
    const remaining = Math.max(0, this.totalBytes - this.bytes);
    const percent = this.totalBytes > 0 ? Math.min(100, Math.floor((this.bytes * 1000) / this.totalBytes) / 10) : 100;
    return {
      bytes: this.bytes,
      totalBytes: this.totalBytes,
      percent,
      rateBytesPerSec: rate,
      etaSeconds: rate === null || rate <= 0 ? null : Math.ceil(remaining / rate),
    };
  }
}

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** "512 B", "12.0 MiB", "1.5 GiB": binary units, one decimal above bytes. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '?';
  if (n < 1024) return `${Math.round(n)} B`;
  let v = n / 1024;
  let u = 0;
  // Carry on when rounding would show "1024.0" of a unit.
  while (u < UNITS.length - 1 && Number(v.toFixed(1)) >= 1024) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${UNITS[u]}`;
}

/** "1h02m", "3m05s", "42s"; "?" when unknown. */
export function formatEta(s: number | null): string {
  if (s === null || !Number.isFinite(s) || s < 0) return '?';
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}
