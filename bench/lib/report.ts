/** results.md (the table people read) and results.json (every raw number) from the figures. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ratio, type Figure } from './figures.js';
import { machineLine, type Machine } from './machine.js';
import { fmt, median } from './stats.js';

export interface RunRecord {
  started: string;
  finished: string;
  machine: Machine;
  loadBefore: [number, number, number];
  loadAfter: [number, number, number];
  options: { rounds: number; quick: boolean; only: string[]; noisy?: boolean };
  figures: Figure[];
  /** Benchmarks that could not run, with the reason. */
  skipped: Array<{ bench: string; reason: string }>;
  /** Paragraphs each benchmark adds under the table (what is compared, caveats). */
  notes: string[];
}

function ratioCell(f: Figure): string {
  if (!f.ref) return 'no reference';
  const r = ratio(f);
  if (r !== undefined) return `${r.toFixed(2)}x`;
  const a = median(f.ours);
  const b = median(f.ref);
  if (a === 0 && b === 0) return 'both 0';
  if (f.floor !== undefined && a <= f.floor && b <= f.floor) return `both <= ${fmt(f.floor)} (noise)`;
  if (f.better === 'lower' && a === 0) return '3rc 0';
  if (f.better === 'higher' && b === 0) return 'reference 0';
  return 'n/a';
}

export function renderMarkdown(r: RunRecord): string {
  const [b1] = r.loadBefore;
  // Quiet or not is decided by the load before the run (run.ts refuses a busy machine without
  // --noisy): the load after includes the bench's own clients (up to 100 atftp processes, the storm
  // generator, perfdhcp), so it is high after any full run.
  const noisy = r.options.noisy === true || b1 > 1;
  const cores = r.machine.cores;
  const lines = [
    '# 3rc benchmark results',
    '',
    `Run ${r.started} to ${r.finished} (UTC) with \`node dist/bench/run.js${r.options.quick ? ' --quick' : ''}${r.options.noisy ? ' --noisy' : ''} --rounds ${r.options.rounds}${r.options.only.length ? ` --only ${r.options.only.join(',')}` : ''}\`.`,
    '',
    `Machine: ${machineLine(r.machine)}.`,
    '',
    `Load average (1, 5, 15 min): before ${r.loadBefore.join(', ')}; after ${r.loadAfter.join(', ')} (the load after includes the bench's own clients).${noisy ? ` **Noisy: other work running** on this machine during the run (${r.options.noisy ? 'started with --noisy; ' : ''}load above 1 on ${cores} cores), so absolute numbers are low and single rounds vary; the ratios, measured alternately in the same run, are what to quote, and even they move with the load.` : ''}`,
    '',
    `Every figure is the median of ${r.options.rounds} round${r.options.rounds > 1 ? 's' : ''}; 3rc and the reference server alternate within each round and the order flips every round. **Ratio > 1 means 3rc is better** (3rc/reference for rates, reference/3rc for latencies, drops, failures, times and memory). Absolute numbers depend on the machine; the ratios are what to quote.`,
    '',
    '| bench | figure | unit | 3rc | reference | ratio (>1: 3rc better) |',
    '|---|---|---|---:|---:|---:|',
  ];
  for (const f of r.figures) {
    const ref = f.ref ? `${fmt(median(f.ref))} (${f.refName ?? 'reference'})` : '—';
    lines.push(`| ${f.bench} | ${f.name}${f.note ? ` (${f.note.length > 140 ? `${f.note.slice(0, 140)}...` : f.note})` : ''} | ${f.unit} | ${fmt(median(f.ours))} | ${ref} | ${ratioCell(f)} |`);
  }
  // Below 1.0x as the table shows it (two decimals): a 0.998 printed as 1.00x is not listed.
  const short = r.figures.filter((f) => {
    const x = ratio(f);
    return x !== undefined && Number(x.toFixed(2)) < 1;
  });
  lines.push('', '## Where 3rc falls short of 1.0x', '');
  if (short.length === 0) lines.push('Nowhere in this run.');
  else for (const f of short) lines.push(`- ${f.bench}: ${f.name}: ${ratio(f)!.toFixed(2)}x against ${f.refName ?? 'the reference'} (3rc ${fmt(median(f.ours))}, reference ${fmt(median(f.ref!))} ${f.unit}).`);
  const targets = r.figures.filter((f) => f.target);
  if (targets.length) {
    lines.push('', '## Targets', '');
    for (const f of targets) {
      const v = median(f.ours);
      lines.push(`- ${f.target!.text}: ${f.bench}, ${f.name}: ${fmt(v)} ${f.unit}: ${v <= f.target!.max ? 'met' : '**missed**'}.`);
    }
  }
  if (r.skipped.length) {
    lines.push('', '## Not run', '');
    for (const s of r.skipped) lines.push(`- ${s.bench}: ${s.reason}`);
  }
  if (r.notes.length) lines.push('', '## What is compared', '', ...r.notes.flatMap((n) => [n, '']));
  lines.push('', 'Raw numbers (every round): `results.json` beside this file.', '');
  return lines.join('\n');
}

export function writeResults(dir: string, r: RunRecord): { md: string; json: string } {
  mkdirSync(dir, { recursive: true });
  const md = join(dir, 'results.md');
  const json = join(dir, 'results.json');
  writeFileSync(md, renderMarkdown(r));
  const figures = r.figures.map((f) => ({ ...f, oursMedian: median(f.ours), refMedian: f.ref ? median(f.ref) : undefined, ratio: ratio(f) }));
  writeFileSync(json, `${JSON.stringify({ ...r, ratioOrientation: '>1 means 3rc is better', figures }, null, 2)}\n`);
  return { md, json };
}
