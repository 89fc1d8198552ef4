/**
 * HTTP: kickstart/preseed renders per second and p99 latency, measured with wrk against `3rc
 * serve` on loopback whose inventory holds 10,000 hosts, every one installing. wrk's Lua script
 * cycles through 1,000 of them with their own install tokens, so each request is a full,
 * authorised render (handlebars, per-host variables, token check, boot trace event). There is no
 * reference server: dnsmasq and tftpd-hpa do not render templates.
 */
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeLabConfig } from '../test/lib/serve.js';
import { PEAK_RSS_TARGET, type Figure } from './lib/figures.js';
import { benchHosts, dashed, labProfiles } from './lib/hosts.js';
import type { BenchOptions } from './lib/options.js';
import { findTool, idleRssMb, peakRssMb, run } from './lib/proc.js';
import { start3rc } from './lib/servers.js';

export function httpUnavailable(): string | undefined {
  return findTool('wrk') ? undefined : 'needs wrk (apt-get install wrk)';
}

const CONNECTIONS = 32;

export const HTTP_NOTE = `**HTTP**: wrk (2 threads, ${CONNECTIONS} connections) against 3rc on loopback, 10,000 hosts all installing, requests cycling through 1,000 hosts with their install tokens: every request is a full render. No reference server (dnsmasq and tftpd-hpa render nothing), so no ratio. RSS: VmRSS a second after 3rc is ready (before any request), VmHWM after the runs.`;

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
      const r = await run('wrk', ['-t2', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-s', lua, s.served.url], { timeoutMs: (seconds + 60) * 1000 });
      const m = /Requests\/sec:\s+([0-9.]+)/.exec(r.stdout);
      const q = /99%\s+([0-9.]+)(us|ms|s)/.exec(r.stdout);
      if (!m || !q) throw new Error(`wrk output not understood: ${r.stdout}${r.stderr}`);
      rps.push(Number(m[1]));
      p99.push(Number(q[1]) * (q[2] === 'us' ? 0.001 : q[2] === 's' ? 1000 : 1));
      non2xx += Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? 0);
      opts.log(`http round ${round + 1}: ${rps.at(-1)!.toFixed(0)} renders/s, p99 ${p99.at(-1)!.toFixed(2)} ms`);
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
  ];
}
