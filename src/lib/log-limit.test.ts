import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { LogLimiter } from './log-limit.js';
import { createLogger } from './log.js';

describe('log line limit', () => {
  it('passes the burst, then one line per 1/rate s; counts the rest per level; fatal always passes', () => {
    const l = new LogLimiter({ linesPerSecond: 3 }, 0);
    assert.deepEqual([30, 40, 50, 30, 40].map((lvl) => l.allow(lvl, 0)), [true, true, true, false, false]);
    assert.equal(l.allow(60, 0), true, 'fatal');
    assert.equal(l.allow(30, 200), false, '0.6 tokens');
    assert.equal(l.allow(30, 340), true, 'a third of a second: one more');
    assert.deepEqual(l.takeDropped(1000), { total: 3, byLevel: { info: 2, warn: 1 }, seconds: 1 });
    assert.equal(l.takeDropped(1000), null, 'forgotten once taken');
  });

  it('0 is no limit', () => {
    const l = new LogLimiter({ linesPerSecond: 0 }, 0);
    for (let i = 0; i < 10_000; i++) assert.equal(l.allow(30, 0), true);
    assert.equal(l.takeDropped(0), null);
  });

  it('a flood through the logger writes the limit, then one summary line with the counts', () => {
    let t = 0;
    const lines: Record<string, unknown>[] = [];
    const out = new Writable({ write: (chunk, _e, cb) => { lines.push(JSON.parse(String(chunk))); cb(); } });
    // A sync destination that pino writes to line by line.
    const dest = { write: (s: string) => void out.write(s) };
    const log = createLogger('info', dest, { maxLinesPerSecond: 100, now: () => t });
    const child = log.child({ server: 'dhcp' });
    for (let i = 0; i < 5000; i++) child.warn({ i }, 'dhcp: malformed packet dropped');
    assert.equal(lines.length, 100, 'the burst only');
    t = 1500;
    child.info('after the flood');
    const summary = lines.find((l) => l.msg === 'log: lines dropped over the limit (log.maxLinesPerSecond)');
    assert.ok(summary, 'the summary line');
    assert.equal(summary.dropped, 4900);
    assert.deepEqual(summary.byLevel, { warn: 4900 });
    assert.equal(lines.at(-1)!.msg, 'after the flood', 'the line that found room is written after the summary');
  });
});
