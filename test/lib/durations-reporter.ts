/**
 * A node:test reporter that prints, at the end of the run, how long each test file took (sorted,
 * slowest first) and one plain closing line `tests: N passed, N failed, N skipped`.
 *
 * Each file runs in its own process; the runner reports the file itself as a test whose name is
 * the file's path, and its `test:complete` carries the file's duration (process start and imports
 * included: what CI pays). Tests declared in a shared suite (a contract) carry that suite's file,
 * so files are only taken from these per-file events.
 */
import { relative } from 'node:path';

interface TestEvent {
  type: string;
  data?: { name?: string; file?: string; skip?: boolean | string; todo?: boolean | string; details?: { type?: string; duration_ms?: number } };
}

function fmt(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  // Round to whole seconds first: 119.9 s is 2m00s, not 1m60s.
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

export default async function* durations(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const started = Date.now();
  const rows: Array<{ file: string; ms: number; failed: boolean }> = [];
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for await (const ev of source) {
    const d = ev.data;
    const isFile = d?.file !== undefined && d.name === d.file;
    if (ev.type === 'test:complete' && isFile) {
      rows.push({ file: relative(process.cwd(), d.file!), ms: d.details?.duration_ms ?? 0, failed: false });
    }
    if (ev.type !== 'test:pass' && ev.type !== 'test:fail') continue;
    if (isFile) {
      // The file itself: a failure here (a crash, a failed hook) counts once; a pass is its tests'.
      if (ev.type === 'test:fail') {
        failed++;
        const row = rows.find((r) => r.file === relative(process.cwd(), d!.file!));
        if (row) row.failed = true;
      }
      continue;
    }
    if (d?.details?.type === 'suite') continue;
    if (d?.skip || d?.todo) skipped++;
    else if (ev.type === 'test:pass') passed++;
    else failed++;
  }
  rows.sort((a, b) => b.ms - a.ms);
  let out = `\nper-file durations (${rows.length} files, ${fmt(Date.now() - started)} in all), slowest first:\n`;
  for (const r of rows) out += `  ${fmt(r.ms).padStart(7)}  ${r.file}${r.failed ? '  (failed)' : ''}\n`;
  out += `tests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`;
  yield out;
}
