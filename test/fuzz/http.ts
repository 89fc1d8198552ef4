/**
 * HTTP fuzz requests: captured curl requests mutated, and requests built from 3rc's routes (the
 * API, the install routes, boot files, P2V, the dashboard) with hostile paths, methods, headers
 * (lying Content-Length, broken chunked encoding, huge and many headers, bad Range) and bodies
 * (mutated JSON hosts, deep nesting, binary). Calls with the valid API token only ever name the
 * sacrificial host fz1 (or create new hosts), so that the fuzz run cannot delete the hosts the
 * liveness checks use. GET /metrics is never sent: reading it resets the stall gauge that the
 * campaign reads.
 */
import { mutate, type Rng, type Seed } from './random.js';
import { CLIENT_ADDRS, FUZZ_HOST, FUZZ_MACS, SERVER, type Job } from './sources.js';

/** What the HTTP generator needs to know of this run. */
export interface HttpContext {
  apiToken: string;
  /** fz1's current install token, when known (it changes as the fuzzer flips fz1). */
  installToken?: string;
  /**
   * Requests sent so far that carry the API token or the install token (built or mutated from a
   * captured one): what may append record events (harness.ts RECORDS_PER_CALL).
   */
  credentialed?: number;
}

function macPath(rng: Rng): string {
  const r = rng.int(6);
  if (r === 0) return FUZZ_HOST.mac.replace(/:/g, '-');
  if (r === 1) return rng.pick(FUZZ_MACS);
  if (r === 2) return rng.pick(['zz-zz', '52-54-00-77-00', '52-54-00-77-00-10-11', '%00', '..', '52%2d54%2d00%2d77%2d00%2d10']);
  return rng.pick(FUZZ_MACS).replace(/:/g, '-');
}

function hostName(rng: Rng): string {
  return rng.pick([FUZZ_HOST.name, 'vm10', 'vm14', 'nohost', '..', '%2e%2e', 'a'.repeat(rng.pick([1, 64, 300, 5000])), '%00', 'vm10%0d%0aX-Injected:%201', rng.text(rng.size(20), 'abc%/.')]);
}

function query(rng: Rng, ctx: HttpContext): string {
  const params: string[] = [];
  for (let n = rng.int(4); n > 0; n--) {
    const k = rng.pick(['token', 'limit', 'from', 'to', 'profile', 'afterId', 'q', 'token[]', '__proto__[x]']);
    const v = k === 'token' && ctx.installToken && rng.chance(0.3) ? ctx.installToken : rng.pick(['', '0', '-1', '1', '10000', '10001', 'now', 'now-6h', 'now-999999h', '1e309', 'NaN', '2024-13-45', 'a'.repeat(rng.pick([10, 200, 201, 5000])), '%ff%fe', 'debian12']);
    params.push(`${k}=${v}`);
  }
  return params.length ? `?${params.join('&')}` : '';
}

function path(rng: Rng, ctx: HttpContext): string {
  const mac = macPath(rng);
  const base = rng.pick([
    '/', '/index.html', '/assets/js/app.js', '/assets/../../etc/passwd', '/api/v1/health', '/api/v1/hosts', `/api/v1/hosts/${hostName(rng)}`,
    `/api/v1/hosts/${hostName(rng)}/boot`, `/api/v1/hosts/${hostName(rng)}/render`, `/api/v1/hosts/${hostName(rng)}/events`, `/api/v1/hosts/${hostName(rng)}/p2v`,
    '/api/v1/ha', `/api/v1/ha/vms/${hostName(rng)}/${rng.pick(['disable', 'enable', 'clear', 'x'])}`, '/api/v1/p2v', `/api/v1/p2v/${hostName(rng)}`, '/api/v1/overview',
    `/api/v1/timeline/${hostName(rng)}`, '/api/v1/stream', `/ks/${mac}`, `/boot/ipxe/${mac}`, `/install/${mac}/done`, `/install/${mac}/failed`,
    `/boot/files/${rng.pick(['pxelinux.0', 'big.bin', '../config.yaml', '..%2fconfig.yaml', '%2e%2e/%2e%2e/etc/passwd', 'link-out', 'a\\b', '', 'pxelinux.cfg/default'])}`,
    `/files/post-install/${rng.pick(['role.sh', '../../package.json', 'x'])}`, `/files/roles/${rng.pick(['middleware', '..', 'x'])}`,
    `/p2v/${mac}/hardware`, `/p2v/${mac}/disks/${rng.pick(['vda', '..', '%2e%2e', 'a/b'])}/chunks/${rng.pick(['0', '1', '-1', '99999999999', 'x'])}`, `/p2v/${mac}/complete`,
    '//api/v1/health', '/api/v1//hosts', '/API/V1/HOSTS', '*', 'http://10.77.0.1/api/v1/health', '/%', '/\u00e9', `/${'a/'.repeat(rng.pick([10, 2000]))}`,
  ]);
  const p = base + query(rng, ctx);
  // Never the metrics endpoint (see the module comment).
  return /^\/+metrics/i.test(p) ? `/x${p}` : p;
}

function hostBody(rng: Rng): string {
  const host: Record<string, unknown> = {
    name: rng.pick([FUZZ_HOST.name, `fz${rng.range(2, 99)}`, '', 'vm10', 'a'.repeat(300), 'bad name']),
    mac: rng.pick([FUZZ_HOST.mac, `52:54:00:77:01:${rng.int(256).toString(16).padStart(2, '0')}`, 'nope', '52:54:00:77:00:10']),
    ip: rng.pick([FUZZ_HOST.ip, `10.77.0.${rng.range(200, 240)}`, '10.78.0.1', '999.1.1.1', '10.77.0.10']),
    profile: rng.pick(['debian12', 'rocky9', 'nope', '']),
  };
  if (rng.chance(0.3)) host.role = rng.pick(['services', 'x'.repeat(5000), '{{> ../../etc/passwd}}', '$(reboot)', "'; rm -rf / #"]);
  if (rng.chance(0.2)) host.vars = { x: rng.pick(['{{constructor}}', '`id`', '\n%post\nreboot\n', 1, null, [], { a: 1 }]) };
  if (rng.chance(0.1)) host.__proto__ = { polluted: true };
  if (rng.chance(0.1)) host.hypervisor = rng.pick(['hv1', 'nope']);
  if (rng.chance(0.1)) host.power = { cycle: rng.pick(['ipmitool -H {{ip}} chassis power cycle', 'touch /tmp/3rc-fuzz-pwned; {{host}}']) };
  return JSON.stringify(host);
}

function body(rng: Rng): Buffer {
  switch (rng.int(8)) {
    case 0: return Buffer.from(hostBody(rng));
    case 1: return Buffer.from(JSON.stringify({ mode: rng.pick(['install', 'local', 'x', 1, null]), profile: rng.pick(['debian12', 'rocky9', 'nope', undefined]), reason: 'fuzz' }));
    case 2: return Buffer.from('['.repeat(rng.pick([100, 5000, 50000])));
    case 3: return Buffer.from(`{"a":"${'x'.repeat(rng.pick([10, 300_000]))}"}`);
    case 4: return Buffer.from(`ssh-ed25519 AAAA${rng.text(rng.size(100), 'ABCabc+/=')}\nssh-rsa x\n`.repeat(rng.pick([1, 20])));
    case 5: return Buffer.from(`cpus ${rng.pick(['2', '-1', '999999999999'])}\nmemory_kb ${rng.pick(['1', 'x'])}\nfirmware ${rng.pick(['bios', 'uefi', 'x'])}\ndisk vda ${rng.pick(['1073741824', '-5', '1e30'])}\n`);
    case 6: return Buffer.from(hostBody(rng).slice(0, rng.int(40)));
    default: return rng.bytes(rng.size(5000));
  }
}

/** Paths that get the valid API token: the host list (create) and fz1's own routes. */
const TOKEN_PATHS = new RegExp(`^/api/v1/(hosts($|\\?|/${FUZZ_HOST.name}($|[/?]))|ha/vms/${FUZZ_HOST.name}/)`);

/** A request built from the route list. */
function structured(rng: Rng, ctx: HttpContext): Buffer {
  const method = rng.chance(0.9) ? rng.pick(['GET', 'GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS']) : rng.pick(['PATCH', 'CONNECT', 'TRACE', 'get', 'FOO', rng.text(rng.size(20), 'GETPOST ')]);
  let p = path(rng, ctx);
  const withToken = rng.chance(0.25);
  // With the valid token, only fz1 is named (the host the campaign may change).
  if (withToken) p = p.replace(/^\/api\/v1\/hosts\/[^/?]*/, `/api/v1/hosts/${FUZZ_HOST.name}`).replace(/^\/api\/v1\/ha\/vms\/[^/?]*/, `/api/v1/ha/vms/${FUZZ_HOST.name}`);
  const version = rng.chance(0.9) ? 'HTTP/1.1' : rng.pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/9', '', 'HTTP/1.1 extra']);
  const hasBody = method !== 'GET' || rng.chance(0.05);
  const b = hasBody ? body(rng) : Buffer.alloc(0);
  const headers: string[] = [`Host: ${rng.chance(0.9) ? SERVER : rng.text(rng.size(300), 'a.:')}`];
  if (withToken && TOKEN_PATHS.test(p)) headers.push(`Authorization: Bearer ${ctx.apiToken}`);
  else if (rng.chance(0.2)) headers.push(`Authorization: ${rng.pick(['Bearer ', 'Bearer x', 'Basic YTpi', 'Bearer ' + 'x'.repeat(5000), `Bearer ${ctx.apiToken}x`])}`);
  if (hasBody) headers.push(`Content-Type: ${rng.pick(['application/json', 'text/plain', 'application/octet-stream', 'application/json; charset=utf-16', 'multipart/form-data; boundary=x', rng.text(rng.size(30), 'a/;=')])}`);
  const te = hasBody && rng.chance(0.15);
  if (te) headers.push('Transfer-Encoding: chunked');
  const cl = rng.next();
  if (hasBody && !te) {
    if (cl < 0.85) headers.push(`Content-Length: ${b.length}`);
    else headers.push(`Content-Length: ${rng.pick(['-1', '0', String(b.length + 10), '99999999999', 'abc', `${b.length}, ${b.length + 1}`])}`);
  }
  if (rng.chance(0.1)) headers.push(`Range: ${rng.pick(['bytes=0-99', 'bytes=-1', 'bytes=99999999-', 'bytes=5-1', `bytes=${Array.from({ length: 200 }, (_, i) => `${i}-${i}`).join(',')}`, 'lines=1-2'])}`);
  if (rng.chance(0.05)) headers.push(`Last-Event-ID: ${rng.pick(['1', '-1', '999999999999999999999', 'x'])}`);
  if (rng.chance(0.05)) headers.push(`X-3rc-Sha256: ${rng.text(64, '0123456789abcdef')}`);
  if (rng.chance(0.05)) headers.push(`Expect: 100-continue`);
  if (rng.chance(0.05)) for (let i = 0; i < rng.pick([50, 120, 2000]); i++) headers.push(`X-Fuzz-${i}: ${i}`);
  if (rng.chance(0.03)) headers.push(`X-Big: ${'b'.repeat(rng.pick([8000, 20000]))}`);
  if (rng.chance(0.03)) headers.push(rng.pick(['Bad Header: x', 'X-Fold: a\r\n b', 'X-Nul: a\0b', ': empty', 'Content-Length: 5\r\nContent-Length: 6']));
  if (rng.chance(0.9)) headers.push('Connection: close');
  let bodyBytes = b;
  if (te) {
    const chunks = rng.chance(0.8) ? `${b.length.toString(16)}\r\n${b.toString('latin1')}\r\n0\r\n\r\n` : rng.pick(['zz\r\nabc\r\n0\r\n\r\n', `${(b.length + 5).toString(16)}\r\nabc\r\n`, 'fffffffffffffffffff\r\n', '0\r\nX-Trailer: 1\r\n\r\n']);
    bodyBytes = Buffer.from(chunks, 'latin1');
  }
  return Buffer.concat([Buffer.from(`${method} ${p} ${version}\r\n${headers.join('\r\n')}\r\n\r\n`, 'latin1'), bodyBytes]);
}

/** Curl's captured requests with the token placeholder and addresses of this run. */
function fromSeed(rng: Rng, seeds: readonly Seed[]): Buffer {
  const b = mutate(rng, rng.pick(seeds).bytes, seeds.map((s) => s.bytes), 300_000, 3);
  const text = b.toString('latin1');
  // Keep the metrics endpoint out (see the module comment).
  return /^[^\r\n]*\s\/+metrics/i.test(text) ? Buffer.from(text.replace(/metrics/i, 'metricz'), 'latin1') : b;
}

export function httpJob(rng: Rng, seeds: readonly Seed[], ctx: HttpContext): Job {
  const payload = seeds.length && rng.chance(0.3) ? fromSeed(rng, seeds) : structured(rng, ctx);
  if (payload.includes(ctx.apiToken) || (ctx.installToken && payload.includes(ctx.installToken))) ctx.credentialed = (ctx.credentialed ?? 0) + 1;
  return { type: 'tcp', bind: rng.pick(CLIENT_ADDRS), dport: 80, payload, halfClose: rng.chance(0.5), split: rng.chance(0.1), waitMs: 200, messages: 1 };
}
