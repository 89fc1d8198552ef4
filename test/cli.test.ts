/** The 3rc command line, run as a real process: exit codes, help, check-config. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli, LAB_YAML } from './lib/serve.js';

const dir = mkdtempSync(join(tmpdir(), '3rc-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('3rc command line', () => {
  it('check-config accepts the example', async () => {
    const r = await cli(['check-config', '--config', LAB_YAML]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /lab\.yaml: OK: 1 subnet\(s\), 9 profile\(s\), 6 host\(s\) \(6 VM\(s\)\), 2 hypervisor\(s\); domain lab\.test; store sqlite at .*var\/lab\.db\n$/);
  });

  it('check-config refuses a broken config with one line per problem and exit 1', async () => {
    const broken = readFileSync(LAB_YAML, 'utf8')
      .replace('mac: "52:54:00:77:00:11"', 'mac: "52:54:00:77:00:10"')
      .replace('ip: 10.77.0.13', 'ip: 10.78.0.13')
      .replace('profile: rocky9, role: middleware', 'profile: suse, role: middleware');
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, broken);
    const r = await cli(['check-config', file]);
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 4, r.stderr);
    assert.match(lines[0]!, new RegExp(`^${file}:\\d+: hosts\\[1\\]\\.mac: duplicate MAC 52:54:00:77:00:10: already used by hosts\\[0\\]$`));
    assert.ok(lines.some((l) => /hosts\[2\]\.profile: profile "suse" does not exist/.test(l)), r.stderr);
    assert.ok(lines.some((l) => /hosts\[3\]\.ip: 10\.78\.0\.13 is outside every subnet/.test(l)), r.stderr);
    assert.equal(lines[3], '3rc: the config has 3 problem(s); nothing was started or changed');
    assert.equal(r.stdout, '');
  });

  it('lab: help, and a wrong action or VM spec is a usage error (exit 2) before anything is created', async () => {
    const help = await cli(['lab', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: 3rc lab up/);
    const wrong = await cli(['lab', 'sideways']);
    assert.equal(wrong.code, 2, wrong.stderr);
    assert.match(wrong.stderr, /expected 'lab up' or 'lab down', got "sideways"/);
    const fw = await cli(['lab', 'up', '--vm', 'vm10:coreboot']);
    assert.equal(fw.code, 2, fw.stderr);
    assert.match(fw.stderr, /--vm vm10:coreboot: firmware must be one of bios, uefi, uefi-http/);
    const profile = await cli(['lab', 'up', '--vm', 'vm10:secureboot', '--profile', 'debian12-sb']);
    assert.equal(profile.code, 2, profile.stderr);
    assert.match(profile.stderr, /--profile names the profile to install: it needs --install/);
  });

  it('uses THREERC_CONFIG when --config is not given', async () => {
    const r = await cli(['check-config'], { env: { THREERC_CONFIG: LAB_YAML } });
    assert.equal(r.code, 0, r.stderr);
    const missing = await cli(['check-config'], { env: { THREERC_CONFIG: join(dir, 'none.yaml') } });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /none\.yaml: cannot read config: file not found/);
  });

  it('prints its version', async () => {
    const r = await cli(['version']);
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`^3rc ${pkg.version.replace(/\./g, '\\.')} \\(node v20`));
  });

  it('has --help for every command', async () => {
    for (const cmd of ['serve', 'check-config', 'hosts', 'boot', 'version']) {
      const r = await cli([cmd, '--help']);
      assert.equal(r.code, 0, cmd);
      assert.match(r.stdout, new RegExp(`^Usage: 3rc ${cmd}`), cmd);
    }
    const top = await cli(['--help']);
    assert.equal(top.code, 0);
    assert.match(top.stdout, /Commands:\n {2}serve/);
  });

  it('exits 2 on a wrong command line, naming the problem', async () => {
    const cases: [string[], RegExp][] = [
      [[], /Usage: 3rc <command>/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['boot', '--install', '-c', LAB_YAML], /name the host/],
      [['boot', 'vm10', '-c', LAB_YAML], /exactly one of --install \[PROFILE\] or --local/],
      [['boot', 'vm10', '--install', '--local', '-c', LAB_YAML], /exactly one of/],
      [['boot', 'vm10', '--local', 'rocky9', '-c', LAB_YAML], /--local takes no profile/],
      [['hosts', '--colour'], /Unknown option '--colour'/],
      [['serve', 'extra'], /unexpected argument extra/],
      [['p2v', '-c', LAB_YAML], /name the host: 3rc p2v HOST --to HYPERVISOR/],
      [['p2v', 'phys16', '-c', LAB_YAML], /--to HYPERVISOR/],
      [['p2v', 'phys16', '--status', '--cancel', '-c', LAB_YAML], /--status or --cancel, not both/],
      [['p2v', 'phys16', '--to', 'hv1', '--cpus', 'two', '-c', LAB_YAML], /--cpus takes a positive whole number/],
    ];
    for (const [args, re] of cases) {
      const r = await cli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stdout + r.stderr, re, args.join(' '));
    }
  });

  it('boot names an unknown host or profile and exits 1', async () => {
    const cfgFile = join(dir, 'lab.yaml');
    writeFileSync(cfgFile, readFileSync(LAB_YAML, 'utf8').replace('path: ../var/lab.db', `path: ${join(dir, 'cli.db')}`).replace('# servers:', `servers: { http: { listen: 127.0.0.1, port: 1 } }\n# servers:`));
    const host = await cli(['boot', 'vm99', '--install', '-c', cfgFile]);
    assert.equal(host.code, 1);
    assert.match(host.stderr, /^3rc: no host named "vm99"\n$/);
    const profile = await cli(['boot', 'vm10', '--install', 'suse', '-c', cfgFile]);
    assert.equal(profile.code, 1);
    assert.match(profile.stderr, /^3rc: profile "suse" does not exist \(profiles: debian12, debian12-image, debian12-cloud, capture, rocky9, debian12-arm64, debian12-sb, debian12-unsigned, ubuntu24\)/);
    // A P2V needs the running server: it serves the capture.
    const p2v = await cli(['p2v', 'vm10', '--to', 'hv1', '-c', cfgFile]);
    assert.equal(p2v.code, 1);
    assert.match(p2v.stderr, /^3rc: no 3rc answers for .*lab\.yaml: a P2V needs the running server/);
  });
});

describe('3rc plan: a what-if failure on the example inventory', () => {
  it('prints, VM by VM, where each would restart or why it cannot; no side effects', async () => {
    const r = await cli(['plan', '--fail', 'hv1', '--config', LAB_YAML]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, /^What-if: hv1 fails now /);
    // hv2 already commits 3 CPUs of its 2: none of hv1's VMs fits there.
    assert.deepEqual(lines.slice(2, 5).map((l) => l.split(/\s{2,}/)), [['vm10', 'hv1', '0', 'no host: waits', 'hv2 out of CPUs'], ['vm11', 'hv1', '0', 'no host: waits', 'hv2 out of CPUs'], ['vm14', 'hv1', '0', 'no host: waits', 'hv2 out of CPUs']]);
    assert.equal(lines.at(-1), 'capacity: N+1 does not hold: hv1 failure would leave vm10, vm11, vm14 without room: cpus (1 more failure cases fail too)');
  });

  it('with room and rules: restarts by priority, and names the anti-affinity that blocks', async () => {
    const text = readFileSync(LAB_YAML, 'utf8')
      .replaceAll('capacity: { cpus: 2, memoryMb: 4096, vms: 4 }', 'capacity: { cpus: 16, memoryMb: 16384, vms: 5 }')
      .replace('budget: { recoveries: 3, window: 1h }', 'budget: { recoveries: 3, window: 1h }\n  rules:\n    - { antiAffinity: [vm10, vm12] }\n  admission: { failures: 2 }')
      .replace('role: services, hypervisor: hv1 }', 'role: services, hypervisor: hv1, priority: 5 }');
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, text);
    const r = await cli(['plan', '--fail', 'hv1', '--config', file, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { assignments: { vm: string; host: string }[]; queued: { vm: string; reason: string }[]; admission: { line: string } };
    // vm11 (priority 5) first; vm10 may not join vm12; vm14 takes the last VM slot of hv2 (5).
    assert.deepEqual(out.assignments, [{ vm: 'vm11', host: 'hv2' }, { vm: 'vm14', host: 'hv2' }]);
    assert.deepEqual(out.queued.map((q) => [q.vm, q.reason]), [['vm10', 'anti-affinity with vm12 on hv2']]);
    assert.match(out.admission.line, /^capacity: N\+2 does not hold: hv1 \+ hv2 failure would leave /);
  });
});
