/**
 * A node:test reporter that prints, at the end of the run, how long each test file took (sorted,
 * slowest first) and one plain closing line `tests: N passed, N failed, N skipped`.
 *
 * Files run one after another (--test-concurrency=1), each in its own process. Node 20 reports no
 * per-file event, so a file's time is measured here as the time from the previous file's last
 * event to this file's last event: it includes the file's process start and imports, which is
 * what CI pays.
 */
import { relative } from 'node:path';

interface TestEvent {
  type: string;
  data?: { file?: string; nesting?: number; skip?: boolean | string; todo?: boolean | string; details?: { type?: string } };
}

function fmt(ms: number): string {
  return ms >= 60_000 ? `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s` : `${(ms / 1000).toFixed(1)}s`;
}

export default async function* durations(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const started = Date.now();
  const lastAt = new Map<string, number>();
  const firstSeen: string[] = [];
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const failedFiles = new Set<string>();
  for await (const ev of source) {
    const file = ev.data?.file;
    if (file) {
      if (!lastAt.has(file)) firstSeen.push(file);
      lastAt.set(file, Date.now());
    }
    if ((ev.type === 'test:pass' || ev.type === 'test:fail') && ev.data?.details?.type !== 'suite') {
      if (ev.data?.skip || ev.data?.todo) skipped++;
      else if (ev.type === 'test:pass') passed++;
      else {
        failed++;
        if (file) failedFiles.add(file);
      }
    }
  }
  const rows: Array<{ file: string; ms: number }> = [];
  let prev = started;
  for (const file of [...firstSeen].sort((a, b) => lastAt.get(a)! - lastAt.get(b)!)) {
    const end = lastAt.get(file)!;
    rows.push({ file: relative(process.cwd(), file), ms: end - prev });
    prev = end;
  }
  rows.sort((a, b) => b.ms - a.ms);
  let out = `\nper-file durations (${rows.length} files, ${fmt(Date.now() - started)} in all), slowest first:\n`;
  for (const r of rows) out += `  ${fmt(r.ms).padStart(7)}  ${r.file}${failedFiles.has(r.file) ? '  (failed)' : ''}\n`;
  out += `tests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`;
  yield out;
}
