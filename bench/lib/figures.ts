/**
 * What every benchmark returns: figures, each with one number per round for 3rc and (when there
 * is one) for the reference server. bench/run.ts turns them into results.md and results.json.
 */
import { median } from './stats.js';

export type Better = 'higher' | 'lower';

export interface Figure {
  /** Which benchmark: dhcp, tftp, dns, http, storm, ha, pxeboot. */
  bench: string;
  /** What is measured, with its conditions (`DORA/s, pool, giaddr on the server's link`). */
  name: string;
  unit: string;
  better: Better;
  /** 3rc, one value per round. */
  ours: number[];
  /** The reference server, one value per round; absent when there is no reference. */
  ref?: number[] | undefined;
  /** Which reference (`dnsmasq`, `tftpd-hpa`). */
  refName?: string | undefined;
  note?: string | undefined;
  /**
   * The figure's resolution: medians at or below it are the measurement's noise (perfdhcp counts the
   * exchanges still in flight when its period ends as drops: a few of 10,000 at any rate). When
   * both medians are at or below it, no ratio is computed and the table says "both <= floor".
   */
  floor?: number | undefined;
  /** A design goal this figure is checked against (median of 3rc's values). */
  target?: { max: number; text: string } | undefined;
}

/** Issue 26 and design.md: peak memory with a 10,000-host inventory under 120 MB. */
export const PEAK_RSS_TARGET = { max: 120, text: 'peak RSS under 120 MB with a 10,000-host inventory' };

/**
 * The ratio of the medians, oriented so that > 1 means 3rc is better: ours/ref when higher is
 * better, ref/ours when lower is better. Undefined without a reference or when a median is 0 or
 * not a number (the table then says why).
 */
export function ratio(f: Figure): number | undefined {
  if (!f.ref || f.ref.length === 0) return undefined;
  const a = median(f.ours);
  const b = median(f.ref);
  if (!Number.isFinite(a) || !Number.isFinite(b)) return undefined;
  if (f.floor !== undefined && a <= f.floor && b <= f.floor) return undefined;
  if (f.better === 'higher') return b === 0 ? undefined : a / b;
  return a === 0 ? undefined : b / a;
}
