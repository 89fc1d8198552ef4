/**
 * Runs C clients (atftp) in parallel, from inside a namespace, and times them, so that the
 * `ip netns exec` cost stays out of the measurement:
 *
 *   ip netns exec NS node dist/bench/lib/fanout.js '{"clients":20,"repeat":1,"argv":["atftp",...]}'
 *
 * `clients` loops run at once, each running argv `repeat` times in a row. Prints one JSON line:
 * {"seconds": wall time of the slowest loop, "failures": runs with a non-zero exit, "error": the
 * first failure's stderr}.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

interface Spec {
  clients: number;
  repeat: number;
  argv: string[];
  timeoutMs?: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;
let failures = 0;
let error: string | undefined;

function once(): Promise<void> {
  return new Promise((resolve) => {
    const p = spawn(spec.argv[0]!, spec.argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), spec.timeoutMs ?? 120_000);
    p.on('close', (code) => {
      clearTimeout(t);
      if (code !== 0) {
        failures++;
        error ??= `exit ${code}: ${err.trim().split('\n').slice(-2).join(' / ')}`;
      }
      resolve();
    });
  });
}

const t0 = performance.now();
await Promise.all(Array.from({ length: spec.clients }, async () => {
  for (let i = 0; i < spec.repeat; i++) await once();
}));
process.stdout.write(`${JSON.stringify({ seconds: (performance.now() - t0) / 1000, failures, error })}\n`);
