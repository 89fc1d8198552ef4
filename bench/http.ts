/**
 * Kickstart renders per second over HTTP, measured with wrk against a running `3rc serve` whose
 * inventory holds HOSTS hosts (default 10,000), every one installing. wrk's Lua script cycles
 * through 1,000 of them with their own install tokens, so each request is a full, authorised
 * render (handlebars, per-host variables, token check, boot trace event).
 *
 *   node dist/bench/http.js [--hosts N] [--seconds S] [--connections C]
 *
 * Writes bench/results-http.json. Needs wrk (apt-get install wrk).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { LAB_YAML, ROOT, serve, writeLabConfig } from '../test/lib/serve.js';

const { values } = parseArgs({ options: { hosts: { type: 'string', default: '10000' }, seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '32' } } });
const N = Number(values.hosts);
const base = parse(readFileSync(LAB_YAML, 'utf8')) as { profiles: unknown; vars: unknown };
const hosts = Array.from({ length: N }, (_, i) => ({
  name: `h${i}`,
  mac: `52:54:01:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
  ip: `10.77.${(i >> 8) & 255}.${(i & 255) || 1}`.replace(/\.(\d+)$/, (_, n: string) => `.${n}`),
  profile: i % 2 ? 'rocky9' : 'debian12',
  role: i % 3 ? 'services' : 'middleware',
  boot: 'install',
}));
// Unique IPs in a /16: host i gets 10.77.(i / 254).(i % 254 + 1).
hosts.forEach((h, i) => (h.ip = `10.77.${Math.floor(i / 254)}.${(i % 254) + 1}`));

const cfg = await writeLabConfig({
  network: { domain: 'lab.test', serverIp: '10.77.0.1', subnets: [{ cidr: '10.77.0.0/16', router: '10.77.0.1' }] },
  servers: { dhcp: { enabled: false }, tftp: { enabled: false }, dns: { enabled: false } },
  hypervisors: [],
  hosts,
  profiles: base.profiles,
});
const s = await serve(cfg, { timeoutMs: 120_000 });
try {
  const token = readFileSync(join(cfg.dir, 'api-token'), 'utf8').trim();
  const sample = hosts.filter((_, i) => i % Math.max(1, Math.floor(N / 1000)) === 0).slice(0, 1000);
  const paths: string[] = [];
  for (const h of sample) {
    const r = await fetch(`${s.url}/api/v1/hosts/${h.name}/render`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await r.json()) as { kickstart: { text: string } };
    const t = /\?token=([0-9a-f]+)/.exec(body.kickstart.text)![1];
    paths.push(`/ks/${h.mac.replace(/:/g, '-')}?token=${t}`);
  }
  const lua = join(cfg.dir, 'paths.lua');
  writeFileSync(lua, `local paths = {${paths.map((p) => `"${p}"`).join(',')}}\nlocal i = 0\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format("GET", paths[i])\nend\n`);
  // Check once that every request is a 200.
  const probe = await fetch(`${s.url}${paths[0]}`);
  if (probe.status !== 200) throw new Error(`probe answered ${probe.status}`);
  const out = execFileSync('wrk', ['-t2', `-c${values.connections}`, `-d${values.seconds}s`, '--latency', '-s', lua, s.url], { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([0-9.]+)/.exec(out)![1]);
  const p99 = /99%\s+([0-9.]+)(us|ms|s)/.exec(out)!;
  const p99ms = Number(p99[1]) * (p99[2] === 'us' ? 0.001 : p99[2] === 's' ? 1000 : 1);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: (.*)/.exec(out)?.[1] ?? 'none';
  const result = { when: new Date().toISOString(), machine: `${cpus().length} x ${cpus()[0]?.model}`, node: process.version, hosts: N, connections: Number(values.connections), seconds: Number(values.seconds), rendersPerSecond: rps, p99ms, non2xx, socketErrors: errors };
  mkdirSync(join(ROOT, 'bench'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results-http.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`| figure | 3rc |\n| --- | --- |\n| kickstart renders/s (${N} hosts, ${values.connections} connections, wrk) | ${rps.toFixed(0)} |\n| p99 latency | ${p99ms.toFixed(2)} ms |\n| non-2xx | ${non2xx} |\n| socket errors | ${errors} |`);
} finally {
  await s.stop();
  cfg.cleanup();
}
