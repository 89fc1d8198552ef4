/** Options every benchmark receives from bench/run.ts. */
export interface BenchOptions {
  /** Rounds per figure; 3rc and the reference alternate, the order flips every round. */
  rounds: number;
  /** Tiny sizes, one round: a smoke run (the test suite's). */
  quick: boolean;
  /** Progress lines go here (stderr). */
  log: (line: string) => void;
}
