/**
 * A hypervisor is served like a host (issue 24), against a real `3rc serve` and real clients:
 * dig for DNS (A, PTR, HINFO) of a hypervisor without a MAC and of one with a MAC and a profile,
 * `3rc boot hv --install` through the API, then the install config over TFTP (curl) and HTTP
 * (curl), from the hypervisor's own address (loopback 127.0.0.7).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { cli, LAB_YAML, labWithLoopbackHost, serve, type LabConfig, type Served } from './lib/serve.js';
import { dig1 } from './dns/dig.js';

const HV3_MAC = '52-54-00-77-00-57';

function curl(args: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-s', '-o', '-', '-w', '\n%{http_code}', ...args], { encoding: 'latin1' }, (err, stdout) => {
      if (err) return reject(err);
      const i = stdout.lastIndexOf('\n');
      resolve({ status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) });
    });
  });
}

describe('a hypervisor served like a host', () => {
  let cfg: LabConfig;
  let s: Served;

  before(async () => {
    const base = parse(readFileSync(LAB_YAML, 'utf8')) as { hypervisors: Record<string, unknown>[] };
    cfg = await labWithLoopbackHost({
      hypervisors: [
        ...base.hypervisors,
        { name: 'hv3', address: '127.0.0.7', mac: HV3_MAC.replace(/-/g, ':'), profile: 'debian12', role: 'hypervisor', driver: 'libvirt', capacity: { cpus: 2 } },
      ],
    });
    s = await serve(cfg);
  });
  after(async () => {
    await s?.stop();
    cfg?.cleanup();
  });

  it('DNS: a hypervisor without a MAC resolves (A, PTR, HINFO)', async () => {
    const a = await dig1(cfg.ports.dns, ['hv1.lab.test']);
    assert.equal(a.status, 'NOERROR');
    assert.deepEqual(a.answer.map((r) => r[4]), ['10.77.0.2']);
    assert.deepEqual((await dig1(cfg.ports.dns, ['-x', '10.77.0.2'])).answer.map((r) => r[4]), ['hv1.lab.test.']);
    assert.deepEqual((await dig1(cfg.ports.dns, ['hv2.lab.test', 'HINFO'])).answer.map((r) => r.slice(4).join(' ')), ['"none" "hypervisor"']);
  });

  it('DNS: a hypervisor with a MAC and a profile has its host records (role and profile in HINFO)', async () => {
    assert.deepEqual((await dig1(cfg.ports.dns, ['hv3.lab.test'])).answer.map((r) => r[4]), ['127.0.0.7']);
    assert.deepEqual((await dig1(cfg.ports.dns, ['hv3.lab.test', 'HINFO'])).answer.map((r) => r.slice(4).join(' ')), ['"hypervisor" "debian12"']);
  });

  it('`3rc boot hv3 --install`, then its loader config over TFTP and HTTP and its kickstart, from its own address', async () => {
    const flip = await cli(['boot', 'hv3', '--install', '-c', cfg.file]);
    assert.equal(flip.code, 0, flip.stderr);
    assert.match(flip.stdout, /^hv3 \(52:54:00:77:00:57\): install debian12, set through http/);
    const own = ['--interface', '127.0.0.7'];
    const tftp = await curl([...own, `tftp://127.0.0.1:${cfg.ports.tftp}/pxelinux.cfg/01-${HV3_MAC}`]);
    assert.match(tftp.body, /^DEFAULT install$/m, tftp.body);
    assert.match(tftp.body, /\/ks\/52-54-00-77-00-57\?token=[0-9a-f]{32}/);
    const http = await curl([...own, `${s.url}/boot/files/pxelinux.cfg/01-${HV3_MAC}`]);
    assert.equal(http.body, tftp.body);
    const token = /\?token=([0-9a-f]{32})/.exec(tftp.body)![1]!;
    const ks = await curl([...own, `${s.url}/ks/${HV3_MAC}?token=${token}`]);
    assert.equal(ks.status, 200, ks.body);
  });
});
