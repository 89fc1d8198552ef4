import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { AWAKE_TICK_MS, DORMANT_TICK_MS } from './loop-watch.js';
import { registerEventLoopStall, type LoopStall } from './metrics.js';

const value = async (r: Registry, name: string) => (await r.getSingleMetric(name)!.get()).values[0]!.value;

test('the event-loop stall gauges see a blocked loop, and reset when read', async () => {
  const r = new Registry();
  const m = registerEventLoopStall(r);
  await new Promise((res) => setTimeout(res, 30));
  await value(r, 'threerc_eventloop_delay_max_seconds'); // reset what start-up left
  await value(r, 'threerc_eventloop_stall_max_seconds');
  // Blocks the loop for 80 ms of CPU time (not wall time: on a busy machine the thread also
  // waits for a CPU meanwhile, which the stall gauge leaves out and the delay gauge counts).
  const cpu0 = process.cpuUsage();
  while (process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system < 80_000);
  await new Promise((res) => setTimeout(res, 20));
  const delay = await value(r, 'threerc_eventloop_delay_max_seconds');
  const stall = await value(r, 'threerc_eventloop_stall_max_seconds');
  assert.ok(stall >= 0.06, `stall ${stall}, delay ${delay}`);
  assert.ok(delay >= stall - 1e-9, `stall ${stall}, delay ${delay}`);
  await new Promise((res) => setTimeout(res, 20));
  assert.ok((await value(r, 'threerc_eventloop_stall_max_seconds')) < 0.06, 'reset when read');
  m.stop();
});

test('each stall over 50 ms is reported when it ends, with its own share and its delay', async () => {
  const reports: LoopStall[] = [];
  const m = registerEventLoopStall(new Registry(), (s) => reports.push(s));
  await new Promise((res) => setTimeout(res, 30));
  const block = (ms: number) => {
    const cpu0 = process.cpuUsage();
    while (process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system < ms * 1000);
  };
  const before = reports.length;
  block(80);
  await new Promise((res) => setTimeout(res, 20));
  // At least this one (a VM whose host pauses it may add others).
  const r = reports.slice(before).find((x) => x.ownMs >= 60);
  assert.ok(r && r.delayMs >= r.ownMs - 0.1, JSON.stringify(reports));
  m.stop();
});

test('a quiet loop slows the timer down, and a stall from the quiet loop is still reported, then the timer is fast again', async () => {
  const reports: LoopStall[] = [];
  const m = registerEventLoopStall(new Registry(), (s) => reports.push(s));
  // Quiet (nothing but the timer) for QUIET_TICKS fast ticks, with room for a loaded machine.
  for (let i = 0; i < 100 && m.tickMs() !== DORMANT_TICK_MS; i++) await new Promise((res) => setTimeout(res, 50));
  assert.equal(m.tickMs(), DORMANT_TICK_MS, 'slow once quiet');
  const before = reports.length;
  // 100 ms of CPU from the quiet loop: read at most DORMANT_TICK_MS short, so over the 50 ms report.
  const cpu0 = process.cpuUsage();
  while (process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system < 100_000);
  await new Promise((res) => setTimeout(res, 60));
  assert.ok(reports.slice(before).some((x) => x.ownMs >= 100 - DORMANT_TICK_MS - 1), JSON.stringify(reports));
  assert.equal(m.tickMs(), AWAKE_TICK_MS, 'fast again after work');
  m.stop();
});
