/**
 * cloud-init's NoCloud datasource over real HTTP, with curl against a running `3rc serve`:
 * /ci/<mac>/{meta-data,user-data,vendor-data,network-config} go to the installing host's own
 * address only (404 to everybody else, and after install-done), a new instance-id per install,
 * the wire format cloud-init reads (YAML through PyYAML, user-data a #cloud-config), the seed on
 * the kernel command line, and a trace record for each refusal.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { LAB_YAML, labWithLoopbackHost, LO_MAC, serve, type LabConfig, type Served } from './lib/serve.js';

/** lo6 (127.0.0.6) installs a cloud image; lo5 (127.0.0.5) Ubuntu with autoinstall. */
const LO6_MAC = '52-54-00-77-00-56';
const FILES = ['meta-data', 'user-data', 'vendor-data', 'network-config'] as const;

function curl(args: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-s', '-o', '-', '-w', '\n%{http_code}', ...args], { encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout) => {
      if (err) return reject(err);
      const i = stdout.lastIndexOf('\n');
      resolve({ status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) });
    });
  });
}

/** As cloud-init's parser reads it (PyYAML). */
function pyyaml(text: string): Record<string, unknown> {
  return JSON.parse(execFileSync('python3', ['-c', 'import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))'], { input: text, encoding: 'utf8' })) as Record<string, unknown>;
}

describe('NoCloud datasource over HTTP', () => {
  let cfg: LabConfig;
  let s: Served;
  let api: string;
  const auth = () => ['-H', `Authorization: Bearer ${api}`];
  const boot = (host: string, body: object) => curl(['-X', 'PUT', ...auth(), '-H', 'content-type: application/json', '-d', JSON.stringify(body), `${s.url}/api/v1/hosts/${host}/boot`]);
  const ci = (mac: string, file: string, from?: string) => curl([...(from ? ['--interface', from] : []), `${s.url}/ci/${mac}/${file}`]);
  const fromLo5 = '127.0.0.5';
  /** The install token of a host, from its user-data (its done URL). */
  const tokenIn = (text: string) => /\/done\?token=([0-9a-f]{32})/.exec(text)?.[1];

  before(async () => {
    const base = parse(readFileSync(LAB_YAML, 'utf8')) as { profiles: unknown[]; hosts: unknown[] };
    cfg = await labWithLoopbackHost({
      profiles: [
        ...base.profiles,
        { name: 'cloud-t', installer: 'cloud-image', kernel: 'lab/installer/vmlinuz', initrd: 'lab/installer/initrd.gz', template: 'debian12-image.sh.hbs', userData: 'debian12-cloud.user-data.hbs', vars: { image: 'lab/images/debian12-cloud.img.gz', rolePackages: 'skip' } },
      ],
      hosts: [
        ...base.hosts,
        { name: 'lo5', mac: LO_MAC.replace(/-/g, ':'), ip: '127.0.0.5', profile: 'ubuntu24', role: 'services' },
        { name: 'lo6', mac: LO6_MAC.replace(/-/g, ':'), ip: '127.0.0.6', profile: 'cloud-t', role: 'middleware' },
      ],
    });
    s = await serve(cfg);
    api = readFileSync(`${cfg.dir}/api-token`, 'utf8').trim();
  });
  after(async () => {
    await s?.stop();
    cfg?.cleanup();
  });

  it('serves the four files to the installing host only; 404 with no detail to anybody else, traced', async () => {
    assert.equal((await boot('lo5', { mode: 'install' })).status, 200);
    const own = Object.fromEntries(await Promise.all(FILES.map(async (f) => [f, await ci(LO_MAC, f, fromLo5)] as const)));
    for (const f of FILES) assert.equal(own[f]!.status, 200, `${f}: ${own[f]!.body}`);
    const token = tokenIn(own['user-data']!.body);
    assert.ok(token, own['user-data']!.body);
    // Another address (3rc's own, another host's), the right token in the URL or not: the 404 of a missing file.
    for (const f of FILES) {
      for (const args of [[`${s.url}/ci/${LO_MAC}/${f}`], ['--interface', '127.0.0.6', `${s.url}/ci/${LO_MAC}/${f}`], [`${s.url}/ci/${LO_MAC}/${f}?token=${token}`]]) {
        const r = await curl(args);
        assert.equal(r.status, 404, `${f} ${args.join(' ')}`);
        assert.equal(r.body, 'file not found\n');
      }
    }
    // Its own address with a wrong token; a file NoCloud does not have; an unknown MAC; not a MAC.
    assert.equal((await curl(['--interface', fromLo5, `${s.url}/ci/${LO_MAC}/user-data?token=${'0'.repeat(32)}`])).status, 404);
    assert.equal((await ci(LO_MAC, 'passwd', fromLo5)).status, 404);
    assert.equal((await ci('52-54-00-99-99-99', 'meta-data')).status, 404);
    assert.equal((await ci('not-a-mac', 'meta-data')).status, 404);
    // The trace says who asked and why they were refused (the store batches its writes).
    let reasons: string[] = [];
    for (let i = 0; i < 50 && !reasons.includes('bad-token'); i++) {
      const events = JSON.parse((await curl([`${s.url}/api/v1/hosts/lo5/events?limit=1000`])).body) as Array<{ kind: string; reason: string | null; data: { peer?: string; nocloud?: string; status?: number } }>;
      reasons = events.filter((e) => e.kind === 'http.kickstart' && e.data.nocloud).map((e) => `${e.reason ?? 'ok'}`);
      if (!reasons.includes('bad-token')) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(reasons.filter((r) => r === 'ok').length, 4, reasons.join(' '));
    assert.equal(reasons.filter((r) => r === 'wrong-source').length, 12, reasons.join(' '));
    assert.ok(reasons.includes('bad-token') && reasons.includes('unknown-file'), reasons.join(' '));
  });

  it('wire format: meta-data and network-config as cloud-init parses them, user-data a #cloud-config autoinstall', async () => {
    const meta = pyyaml((await ci(LO_MAC, 'meta-data', fromLo5)).body);
    assert.deepEqual(Object.keys(meta).sort(), ['instance-id', 'local-hostname']);
    assert.equal(meta['local-hostname'], 'lo5');
    assert.match(String(meta['instance-id']), /^3rc-lo5-[0-9a-z]+-[0-9a-f]{8}$/);
    const net = pyyaml((await ci(LO_MAC, 'network-config', fromLo5)).body) as { version: number; ethernets: Record<string, { match: { macaddress: string }; addresses: string[]; nameservers: { search: string[] } }> };
    assert.equal(net.version, 2);
    assert.deepEqual(net.ethernets.eth0!.match, { macaddress: '52:54:00:77:00:55' });
    assert.deepEqual(net.ethernets.eth0!.addresses, ['127.0.0.5/24']);
    assert.deepEqual(net.ethernets.eth0!.nameservers.search, ['lab.test']);
    const ud = (await ci(LO_MAC, 'user-data', fromLo5)).body;
    assert.match(ud, /^#cloud-config\n/);
    const ai = pyyaml(ud).autoinstall as { version: number; identity: { hostname: string } };
    assert.equal(ai.version, 1);
    assert.equal(ai.identity.hostname, 'lo5');
    assert.deepEqual(pyyaml((await ci(LO_MAC, 'vendor-data', fromLo5)).body), {});
    // The host finds its seed on its kernel command line: `ds=nocloud;s=` and 3rc's /ci/<mac>/.
    const ipxe = await curl(['--interface', fromLo5, `${s.url}/boot/ipxe/${LO_MAC}`]);
    assert.match(ipxe.body, new RegExp(` autoinstall ds=nocloud;s=http://10\\.77\\.0\\.1:${cfg.ports.http}/ci/${LO_MAC}/ `));
  });

  it('install-done closes them; the next install has a new instance-id', async () => {
    const first = pyyaml((await ci(LO_MAC, 'meta-data', fromLo5)).body)['instance-id'];
    const token = tokenIn((await ci(LO_MAC, 'user-data', fromLo5)).body)!;
    const done = await curl(['--interface', fromLo5, '-X', 'POST', '-H', 'Content-Type: text/plain', '--data-binary', '', `${s.url}/install/${LO_MAC}/done?token=${token}`]);
    assert.equal(done.status, 200, done.body);
    for (const f of FILES) assert.equal((await ci(LO_MAC, f, fromLo5)).status, 404, f);
    assert.equal((await boot('lo5', { mode: 'install' })).status, 200);
    const again = await ci(LO_MAC, 'meta-data', fromLo5);
    assert.equal(again.status, 200);
    const second = pyyaml(again.body)['instance-id'];
    assert.notEqual(second, first);
    assert.notEqual(tokenIn((await ci(LO_MAC, 'user-data', fromLo5)).body), token);
    assert.ok(!again.body.includes(tokenIn((await ci(LO_MAC, 'user-data', fromLo5)).body)!), 'no token in meta-data');
  });

  it('a cloud-image host gets its cloud-config user-data (calls install-done itself on first boot); a local host nothing', async () => {
    assert.equal((await ci(LO6_MAC, 'user-data', '127.0.0.6')).status, 404); // local boot
    assert.equal((await boot('lo6', { mode: 'install' })).status, 200);
    const ud = await ci(LO6_MAC, 'user-data', '127.0.0.6');
    assert.equal(ud.status, 200);
    assert.match(ud.body, /^#cloud-config\n/);
    const doc = pyyaml(ud.body) as { hostname: string; runcmd: unknown[]; write_files: Array<{ path: string; content: string }> };
    assert.equal(doc.hostname, 'lo6');
    assert.deepEqual(doc.runcmd, [['sh', '/var/lib/3rc/first-boot.sh']]);
    assert.ok(doc.write_files.find((f) => f.path === '/var/lib/3rc/install.env')!.content.includes(`DONE_URL='http://10.77.0.1:${cfg.ports.http}/install/${LO6_MAC}/done?token=`));
    const ipxe = await curl(['--interface', '127.0.0.6', `${s.url}/boot/ipxe/${LO6_MAC}`]);
    assert.match(ipxe.body, new RegExp(` ds=nocloud;s=http://10\\.77\\.0\\.1:${cfg.ports.http}/ci/${LO6_MAC}/ `));
  });
});
