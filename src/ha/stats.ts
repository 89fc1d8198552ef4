/** Summary statistics and a text histogram for the simulator. Pure. */

export interface Summary {
  n: number;
  mean: number;
  sd: number;
  p50: number;
  p95: number;
  max: number;
  min: number;
}

export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((s, x) => s + x, 0) / xs.length;
}

/** Nearest-rank percentile of sorted values (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(xs: readonly number[]): Summary {
  const sorted = [...xs].sort((a, b) => a - b);
  const m = mean(sorted);
  const sd = sorted.length > 1 ? Math.sqrt(sorted.reduce((s, x) => s + (x - m) ** 2, 0) / (sorted.length - 1)) : 0;
  return { n: sorted.length, mean: m, sd, p50: percentile(sorted, 50), p95: percentile(sorted, 95), max: sorted.at(-1) ?? NaN, min: sorted[0] ?? NaN };
}

/** Lines like `  170-180 s | ########   412`, `bins` equal-width bins from min to max. */
export function histogram(xs: readonly number[], bins = 12, width = 40): string[] {
  if (xs.length === 0) return ['  (no samples)'];
  const lo = Math.floor(Math.min(...xs));
  const hi = Math.ceil(Math.max(...xs));
  const size = Math.max(1, Math.ceil((hi - lo + 1) / bins));
  const counts = new Array<number>(bins).fill(0);
  for (const x of xs) counts[Math.min(bins - 1, Math.floor((x - lo) / size))]! += 1;
  const top = Math.max(...counts);
  const label = (i: number) => `${lo + i * size}-${lo + (i + 1) * size} s`;
  const w = Math.max(...counts.map((_, i) => label(i).length));
  return counts.map((c, i) => `  ${label(i).padStart(w)} | ${'#'.repeat(Math.round((c / top) * width)).padEnd(width)} ${c}`);
}
