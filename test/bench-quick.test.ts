/**
 * The benchmark suite's smoke run, so that `npm run bench` cannot rot: `node dist/bench/run.js
 * --quick --out TMP` runs every benchmark with tiny sizes and one round (the boot storm at N=20)
 * and must write results.md and results.json with a row per figure, skip nothing, and boot every
 * storm client; the real PXE boot (pxeboot) is left out, saying why. Wall-clock figures are never
 * asserted (the machine is shared). Needs root (namespaces) and the Debian tools the benchmarks
 * drive; skips, saying which, without them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { dhcpUnavailable } from '../bench/dhcp.js';
import { dnsUnavailable } from '../bench/dns.js';
import { httpUnavailable } from '../bench/http.js';
import { stormUnavailable } from '../bench/storm/storm.js';
import { tftpUnavailable } from '../bench/tftp.js';
import { ROOT } from './lib/serve.js';

const skip = dhcpUnavailable() ?? tftpUnavailable() ?? dnsUnavailable() ?? httpUnavailable() ?? stormUnavailable() ?? (existsSync('/usr/bin/dig') ? undefined : 'needs dig (apt-get install bind9-dnsutils)');
if (skip) console.log(`# skipping the benchmark smoke run: ${skip}`);

interface ResultsJson {
  options: { quick: boolean; rounds: number };
  skipped: Array<{ bench: string; reason: string }>;
  figures: Array<{ bench: string; name: string; ours: number[]; ref?: number[] }>;
}

test('npm run bench --quick: every benchmark runs and writes results.md/json; the storm boots every client', { skip: skip ?? false, timeout: 300_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), '3rc-bench-quick-'));
  try {
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [join(ROOT, 'dist', 'bench', 'run.js'), '--quick', '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('close', (code) => resolve({ code, stderr }));
    });
    assert.equal(r.code, 0, `bench --quick failed:\n${r.stderr}`);
    const md = readFileSync(join(out, 'results.md'), 'utf8');
    const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ResultsJson;
    assert.equal(json.options.quick, true);
    assert.deepEqual(json.skipped, [], 'no benchmark skipped or failed');
    for (const bench of ['dhcp', 'tftp', 'dns', 'http', 'storm', 'ha']) {
      assert.ok(json.figures.some((f) => f.bench === bench), `figures from ${bench}`);
    }
    // One table row per figure, in order, each with a number for 3rc.
    const rows = md.split('\n').filter((l) => /^\| (dhcp|tftp|dns|http|storm|ha) \|/.test(l));
    assert.equal(rows.length, json.figures.length, 'a row per figure in results.md');
    json.figures.forEach((f, i) => {
      assert.ok(rows[i]!.includes(f.name), `row ${i} is ${f.name}`);
      assert.equal(f.ours.length > 0, true, `${f.name}: a value for 3rc`);
    });
    assert.match(md, /Machine: .+ cores, .+ GiB RAM, Linux .+, Node\.js v\d+/);
    assert.match(md, /Load average \(1, 5, 15 min\): before [\d.]+, [\d.]+, [\d.]+; after/);
    assert.match(md, /Ratio > 1 means 3rc is better/);
    // The storm (N=20): zero failed clients, for 3rc and dnsmasq, with and without HTTP.
    const failed = json.figures.filter((f) => f.bench === 'storm' && f.name.includes('failed clients'));
    assert.equal(failed.length, 2);
    for (const f of failed) {
      assert.deepEqual(f.ours, [0], `${f.name}: 3rc`);
      if (f.ref) assert.deepEqual(f.ref, [0], `${f.name}: dnsmasq`);
    }
    assert.ok(json.figures.some((f) => f.bench === 'storm' && /N=20: time to all done, full boot/.test(f.name) && Number.isFinite(f.ours[0])));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('bench --quick leaves out the real PXE boot (it boots qemu for minutes) and says why', { timeout: 60_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), '3rc-bench-quick-pxe-'));
  try {
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [join(ROOT, 'dist', 'bench', 'run.js'), '--quick', '--only', 'pxeboot', '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('close', (code) => resolve({ code, stderr }));
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /bench pxeboot: not run in --quick: boots qemu/);
    const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ResultsJson;
    assert.deepEqual(json.skipped, []);
    assert.deepEqual(json.figures, []);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
