/**
 * A model checker for the HA controller. It explores the steps of a CheckWorld (the real
 * controller over a simulated cluster, every completion and fault a choice):
 *
 * - `explore`: breadth-first, every interleaving up to a depth, states deduplicated by hash; the
 *   first violation found is therefore one with the shortest trace. A state is reached again by
 *   replaying its trace from scratch (the controller's promises cannot be copied).
 * - `randomRuns`: fast-check model-based commands on larger clusters; a violation is shrunk.
 *
 * Safety (one copy, no repeat, budget, decisions recorded once) is checked after every step;
 * liveness (faults stop -> every VM running or quarantined within a bound) from every new state.
 */
import fc from 'fast-check';
import { CheckWorld, Violation, type CheckConfig, type CheckStep } from './check-world.js';

export interface CounterExample {
  invariant: string;
  message: string;
  config: CheckConfig;
  /** Replay these steps on CheckWorld.replay(config, ...). */
  steps: CheckStep[];
  /** The violation shows after the steps only once faults stop (CheckWorld.checkSettles). */
  settle: boolean;
}

export interface ExploreOptions {
  depth: number;
  /** Fault steps per trace at most (progress steps, tick and ok, are free). Default: depth. */
  maxFaults?: number;
  /** Check liveness from every new state (costs one settle run per state). Default: true. */
  liveness?: boolean;
  /** Give up after this many states (the result says so). */
  maxStates?: number;
  progress?: (line: string) => void;
}

export interface CheckStats {
  states: number;
  transitions: number;
  depth: number;
  ms: number;
  complete: boolean;
  violation: CounterExample | null;
}

/** Steps that are faults; the others (time passing, an op done as asked) are the world's progress. */
function isFault(s: CheckStep): boolean {
  return s.t !== 'tick' && s.t !== 'ok';
}

/** Replays a counter-example: resolves with the Violation it shows, or null when none shows. */
export async function replay(ce: Pick<CounterExample, 'config' | 'steps' | 'settle'>): Promise<Violation | null> {
  try {
    const w = await CheckWorld.replay(ce.config, ce.steps);
    if (ce.settle) await w.checkSettles();
    return null;
  } catch (err) {
    if (err instanceof Violation) return err;
    throw err;
  }
}

interface Node {
  trace: CheckStep[];
  faults: number;
}

export async function explore(config: CheckConfig, o: ExploreOptions): Promise<CheckStats> {
  const t0 = performance.now();
  const maxFaults = o.maxFaults ?? o.depth;
  const stats: CheckStats = { states: 1, transitions: 0, depth: 0, ms: 0, complete: true, violation: null };
  const found = (steps: CheckStep[], v: Violation, settle: boolean): CheckStats => {
    stats.violation = { invariant: v.invariant, message: v.message, config, steps, settle };
    stats.depth = steps.length;
    stats.ms = Math.round(performance.now() - t0);
    return stats;
  };
  const root = await CheckWorld.create(config);
  const seen = new Set<string>([root.hash()]);
  let frontier: Node[] = [{ trace: [], faults: 0 }];
  for (let d = 1; d <= o.depth && frontier.length > 0; d++) {
    const next: Node[] = [];
    for (const node of frontier) {
      const w = await CheckWorld.replay(config, node.trace);
      for (const s of w.enabled(node.faults < maxFaults)) {
        const trace = [...node.trace, s];
        stats.transitions += 1;
        let w2: CheckWorld;
        try {
          w2 = await CheckWorld.replay(config, trace);
        } catch (err) {
          if (err instanceof Violation) return found(trace, err, false);
          throw err;
        }
        const h = w2.hash();
        if (seen.has(h)) continue;
        seen.add(h);
        stats.states += 1;
        if (o.liveness ?? true) {
          try {
            await w2.checkSettles();
          } catch (err) {
            if (err instanceof Violation) return found(trace, err, true);
            throw err;
          }
        }
        next.push({ trace, faults: node.faults + (isFault(s) ? 1 : 0) });
        if (o.maxStates !== undefined && stats.states >= o.maxStates) {
          stats.complete = false;
          stats.depth = d;
          stats.ms = Math.round(performance.now() - t0);
          return stats;
        }
      }
    }
    stats.depth = d;
    o.progress?.(`depth ${d}: ${stats.states} states, ${next.length} new, ${Math.round(performance.now() - t0)} ms`);
    frontier = next;
  }
  stats.ms = Math.round(performance.now() - t0);
  return stats;
}

export interface RandomOptions {
  runs: number;
  /** Steps per run at most. */
  steps: number;
  seed: number;
  progress?: (line: string) => void;
}

/**
 * Random exploration with fast-check model-based commands: each command picks one of the steps
 * enabled in the world at that moment (progress or fault), and every run ends with the liveness
 * check. A failing run is shrunk by fast-check; the counter-example is the shrunk run's steps.
 */
export async function randomRuns(config: CheckConfig, o: RandomOptions): Promise<{ runs: number; steps: number; ms: number; violation: CounterExample | null }> {
  const t0 = performance.now();
  let steps = 0;
  let runs = 0;
  let last: CounterExample | null = null;
  class Pick implements fc.AsyncCommand<object, CheckWorld> {
    constructor(readonly fault: boolean, readonly n: number) {}
    check(): boolean {
      return true;
    }
    async run(_m: object, w: CheckWorld): Promise<void> {
      const all = w.enabled(this.fault);
      const choices = this.fault ? all.filter(isFault) : all;
      if (choices.length === 0) return;
      steps += 1;
      await w.apply(choices[this.n % choices.length]!);
    }
    toString(): string {
      return `${this.fault ? 'fault' : 'progress'}(${this.n})`;
    }
  }
  const command = fc.oneof(
    { arbitrary: fc.nat(63).map((n) => new Pick(false, n)), weight: 3 },
    { arbitrary: fc.nat(63).map((n) => new Pick(true, n)), weight: 1 },
  );
  const result = await fc.check(
    fc.asyncProperty(fc.commands([command], { maxCommands: o.steps }), async (cmds) => {
      runs += 1;
      const w = await CheckWorld.create(config);
      let settle = false;
      try {
        await fc.asyncModelRun(() => ({ model: {}, real: w }), cmds);
        settle = true;
        await w.checkSettles();
      } catch (err) {
        if (err instanceof Violation) last = { invariant: err.invariant, message: err.message, config, steps: [...w.trace], settle };
        throw err;
      }
    }),
    { numRuns: o.runs, seed: o.seed, endOnFailure: false },
  );
  o.progress?.(`random: ${runs} runs (${result.numRuns} before failure or end), ${steps} steps`);
  return { runs, steps, ms: Math.round(performance.now() - t0), violation: result.failed ? last : null };
}

/** The counter-example as a fixture file's text. */
export function formatCounterExample(ce: CounterExample): string {
  const steps = ce.steps.map((s) => `    ${JSON.stringify(s)}`).join(',\n');
  return `{\n  "invariant": ${JSON.stringify(ce.invariant)},\n  "message": ${JSON.stringify(ce.message)},\n  "settle": ${ce.settle},\n  "config": ${JSON.stringify(ce.config)},\n  "steps": [\n${steps}\n  ]\n}\n`;
}
