/**
 * HTTP: kickstart/preseed renders per second and p99 latency, measured with wrk against `3rc
 * serve` on loopback whose inventory holds 10,000 hosts, every one installing. A kickstart goes
 * only to its host's own address and wrk sends from 127.0.0.1, so every request asks for the
 * kickstart of the host that lives there, with its install token: each is a full, authorised
 * render (handlebars, per-host variables, token check, boot trace event). There is no reference
 * server: dnsmasq and tftpd-hpa do not render templates. While wrk runs, 3rc's own /metrics is
 * read four times a second for its V8 heap spaces (bench/lib/heap-sampler.ts): where the peak is.
 */
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeLabConfig } from '../test/lib/serve.js';
import { PEAK_RSS_TARGET, type Figure } from './lib/figures.js';
import { benchHosts, dashed, labProfiles } from './lib/hosts.js';
import type { BenchOptions } from './lib/options.js';
import { sampleHeap, type HeapPeak } from './lib/heap-sampler.js';
import { findTool, idleRssMb, peakRssMb, run } from './lib/proc.js';
import { start3rc } from './lib/servers.js';

export function httpUnavailable(): string | undefined {
  return findTool('wrk') ? undefined : 'needs wrk (apt-get install wrk)';
}

const CONNECTIONS = 32;

export const HTTP_NOTE = `**HTTP**: wrk (2 threads, ${CONNECTIONS} connections) against 3rc on loopback, 10,000 hosts all installing, every request the kickstart of the host on 127.0.0.1 (a kickstart goes only to its host's own address) with its install token: every request is a full render. No reference server (dnsmasq and tftpd-hpa render nothing), so no ratio. RSS: VmRSS a second after 3rc is ready (before any request), VmHWM after the runs. The heap rows: the largest V8 heap, young and old generation that 3rc's /metrics showed during each run (read four times a second), to say whether a peak is in the JS heap or outside it.`;

export async function runHttp(opts: BenchOptions): Promise<Figure[]> {
  const n = opts.quick ? 300 : 10_000;
  const seconds = opts.quick ? 2 : 10;
  // A kickstart goes only to its host's own address, and wrk sends from 127.0.0.1: the host whose
  // kickstart is rendered lives there; the other hosts fill the inventory (the render reads it all).
  const hosts = benchHosts(n, { boot: 'install' }).map((h, i) => (i === 0 ? { ...h, ip: '127.0.0.1' } : h));
  const cfg = await writeLabConfig({
    network: { subnets: [{ cidr: '10.77.0.0/16', router: '10.77.0.1' }, { cidr: '127.0.0.0/24' }] },
    servers: { dhcp: { enabled: false }, tftp: { enabled: false }, dns: { enabled: false } },
    log: { level: 'info' },
    hypervisors: [],
    profiles: labProfiles(),
    hosts,
  });
  const s = await start3rc(cfg);
  const idle = await idleRssMb(s.pid);
  const rps: number[] = [];
  const p99: number[] = [];
  let non2xx = 0;
  let rss = NaN;
  const heaps: HeapPeak[] = [];
  try {
    const token = readFileSync(join(cfg.dir, 'api-token'), 'utf8').trim();
    const sample = hosts.slice(0, 1);
    const paths: string[] = [];
    for (const h of sample) {
      const r = await fetch(`${s.served.url}/api/v1/hosts/${h.name}/render`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await r.json()) as { kickstart: { text: string } };
      const t = /\?token=([0-9a-f]+)/.exec(body.kickstart.text)?.[1];
      if (!t) throw new Error(`no install token in the render of ${h.name}`);
      paths.push(`/ks/${dashed(h.mac)}?token=${t}`);
    }
    const lua = join(cfg.dir, 'paths.lua');
    writeFileSync(lua, `local paths = {${paths.map((p) => `"${p}"`).join(',')}}\nlocal i = 0\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format("GET", paths[i])\nend\n`);
    const probe = await fetch(`${s.served.url}${paths[0]}`);
    if (probe.status !== 200) throw new Error(`probe answered ${probe.status}`);
    for (let round = 0; round < opts.rounds; round++) {
      const sampler = sampleHeap(s.served.url, token);
      const r = await run('wrk', ['-t2', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-s', lua, s.served.url], { timeoutMs: (seconds + 60) * 1000 });
      heaps.push(await sampler.stop());
      const m = /Requests\/sec:\s+([0-9.]+)/.exec(r.stdout);
      const q = /99%\s+([0-9.]+)(us|ms|s)/.exec(r.stdout);
      if (!m || !q) throw new Error(`wrk output not understood: ${r.stdout}${r.stderr}`);
      rps.push(Number(m[1]));
      p99.push(Number(q[1]) * (q[2] === 'us' ? 0.001 : q[2] === 's' ? 1000 : 1));
      non2xx += Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? 0);
      const h = heaps.at(-1)!;
      opts.log(`http round ${round + 1}: ${rps.at(-1)!.toFixed(0)} renders/s, p99 ${p99.at(-1)!.toFixed(2)} ms; largest V8 heap ${h.heapTotal.toFixed(1)} MB (young ${h.young.toFixed(1)}, old ${h.old.toFixed(1)}, large objects ${h.largeObjects.toFixed(1)}), external ${h.external.toFixed(1)} MB`);
    }
    rss = peakRssMb(s.pid);
  } finally {
    await s.stop();
    cfg.cleanup();
  }
  const cond = `${n} hosts installing, one host's kickstart from its own address, ${CONNECTIONS} connections`;
  return [
    { bench: 'http', name: `kickstart renders/s, ${cond}`, unit: 'req/s', better: 'higher', ours: rps },
    { bench: 'http', name: `p99 latency, ${cond}`, unit: 'ms', better: 'lower', ours: p99 },
    { bench: 'http', name: 'non-2xx answers, every round', unit: 'answers', better: 'lower', ours: [non2xx] },
    { bench: 'http', name: `3rc RSS (VmRSS) at idle after start-up, ${n}-host inventory`, unit: 'MB', better: 'lower', ours: [idle] },
    { bench: 'http', name: `3rc peak RSS (VmHWM), ${n}-host inventory, after the runs`, unit: 'MB', better: 'lower', ours: [rss], target: n >= 10_000 ? PEAK_RSS_TARGET : undefined },
    { bench: 'http', name: `3rc largest V8 heap during a run (young + old + code + large objects), ${n}-host inventory`, unit: 'MB', better: 'lower', ours: heaps.map((h) => h.heapTotal) },
    { bench: 'http', name: `3rc largest young generation during a run, ${n}-host inventory`, unit: 'MB', better: 'lower', ours: heaps.map((h) => h.young) },
    { bench: 'http', name: `3rc largest old generation during a run, ${n}-host inventory`, unit: 'MB', better: 'lower', ours: heaps.map((h) => h.old) },
  ];
}
