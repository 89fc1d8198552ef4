/**
 * A small seeded PRNG (mulberry32) with a normal sampler, for the simulator: the same seed gives
 * the same cluster history, so a statistical test is a reproducible computation, not a dice roll.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Normal(mean, sd) by Box-Muller. */
  normal(mean: number, sd: number): number;
}

export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  let spare: number | null = null;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    normal(mean, sd) {
      if (spare !== null) {
        const z = spare;
        spare = null;
        return mean + sd * z;
      }
      const u = 1 - next(); // (0, 1]: log(0) is never taken
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return mean + sd * r * Math.cos(2 * Math.PI * v);
    },
  };
}
