/** The machine line of results.md: CPU model, cores, RAM, kernel, Node.js; and the load. */
import { cpus, loadavg, release, totalmem } from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  ramGb: number;
  kernel: string;
  node: string;
}

export function machine(): Machine {
  const c = cpus();
  return { cpu: c[0]?.model.trim() ?? 'unknown', cores: c.length, ramGb: Math.round((totalmem() / 2 ** 30) * 10) / 10, kernel: release(), node: process.version };
}

export function machineLine(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, ${m.ramGb} GiB RAM, Linux ${m.kernel}, Node.js ${m.node}`;
}

/** 1, 5 and 15-minute load averages, two decimals. */
export function load(): [number, number, number] {
  const [a, b, c] = loadavg();
  const r = (x: number | undefined) => Math.round((x ?? 0) * 100) / 100;
  return [r(a), r(b), r(c)];
}
