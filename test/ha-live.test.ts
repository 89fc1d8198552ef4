/**
 * The HA controller inside a real `3rc serve`, driving a hypervisor over real SSH: an OpenSSH
 * server on loopback stands for hv1, a fake virsh behind it keeps the VM's state in files. The VM
 * "runs" per virsh but its service port answers nothing, so the controller must notice, decide
 * and act through SSH, and show it all in /api/v1/ha and `3rc status`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { keygen, sshdUnavailable, startSshd } from './hypervisor/sshd.js';
import { makeHypervisorState, writeFakeTools } from './hypervisor/fake-tools.js';
import { cli, freePort, serve, writeLabConfig } from './lib/serve.js';

const skip = sshdUnavailable();
if (skip) console.log(`# skipping the live HA test: ${skip}`);

const QM_COMMAND = {
  commands: { list: 'qm list', state: 'qm status {{vmid}}', start: 'qm start {{vmid}}', stop: 'qm stop {{vmid}}', reset: 'qm reset {{vmid}}' },
  listPattern: String.raw`^\s*\d+\s+(?<name>\S+)\s+(?<state>\S+)`,
  statePattern: String.raw`^status:\s*(?<state>\S+)`,
};

const DRIVERS = {
  libvirt: { extra: {}, vars: {}, listed: /LC_ALL=C virsh -c qemu:\/\/\/system list --all/, acted: / (reset|destroy|start) vmt/, actedFull: /virsh -c qemu:\/\/\/system (reset|destroy|start) vmt/ },
  // Proxmox-style templates; the VM's vars give {{vmid}} (the fake qm addresses VMs by name).
  command: { extra: { command: QM_COMMAND }, vars: { vmid: 'vmt' }, listed: /^qm list$/m, acted: /^qm (reset|stop|start) vmt$/m, actedFull: /^qm (reset|stop|start) vmt$/m },
} as const;

describe('HA controller in a running 3rc, over real SSH', { skip: skip ?? false }, () => {
  for (const [kind, d] of Object.entries(DRIVERS)) it(`notices a VM whose service is gone and recovers it through a ${kind} hypervisor, recording every decision`, { timeout: 3 * 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), '3rc-ha-live-'));
    const hostKey = keygen(join(dir, 'host_ed25519'), 'ed25519');
    const client = keygen(join(dir, 'client_ed25519'), 'ed25519');
    writeFileSync(join(dir, 'authorized_keys'), `${client.pub}\n`);
    const bin = writeFakeTools(dir);
    const state = makeHypervisorState(join(dir, 'state'), ['vmt']);
    writeFileSync(join(state, 'domains', 'vmt'), 'running\n');
    const sshd = await startSshd({ dir: join(dir, 'sshd'), hostKeys: [hostKey.key], authorizedKeys: join(dir, 'authorized_keys'), env: { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, FAKE_HV_STATE: state, HOME: dir } });
    const [type, b64] = hostKey.pub.split(' ');
    writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${sshd.port} ${type} ${b64}\n`);
    const deadPort = await freePort(); // the VM's "SSH port": nothing listens there
    const cfg = await writeLabConfig({
      network: { domain: 'lab.test', serverIp: '10.77.0.1', subnets: [{ cidr: '10.77.0.0/24', router: '10.77.0.1' }, { cidr: '127.0.0.0/24' }] },
      hypervisors: [{ name: 'hv1', address: '127.0.0.1', driver: kind, ssh: { user: 'root', port: sshd.port, key: client.key, knownHosts: join(dir, 'known_hosts') }, loadThreshold: 4, capacity: { vms: 4 }, ...d.extra }],
      hosts: [{ name: 'vmt', mac: '52:54:00:77:00:20', ip: '127.0.0.20', profile: 'debian12', role: 'services', hypervisor: 'hv1', vars: d.vars }],
      ha: { enabled: true, scanInterval: '1s', t1: '2s', t2: '2s', probe: { port: deadPort, timeout: '500ms' } },
    });
    const s = await serve(cfg);
    try {
      type Ha = { active: boolean; vms: { vm: string; state: string; reason: string }[]; decisions: { kind: string; reason: string; vm: string }[] };
      let ha: Ha = { active: false, vms: [], decisions: [] };
      const calls = () => (existsSync(join(state, 'calls')) ? readFileSync(join(state, 'calls'), 'utf8') : '');
      for (let i = 0; i < 150 && !d.acted.test(calls()); i++) {
        await new Promise((r) => setTimeout(r, 200));
        ha = (await (await fetch(`${s.url}/api/v1/ha`)).json()) as Ha;
      }
      ha = (await (await fetch(`${s.url}/api/v1/ha`)).json()) as Ha;
      assert.equal(ha.active, true);
      // It asked the hypervisor over SSH (its list) and then acted on the VM there.
      assert.match(calls(), d.listed);
      assert.match(calls(), d.actedFull);
      const kinds = new Set(ha.decisions.map((d) => d.kind));
      assert.ok(kinds.has('ha.transition') && kinds.has('ha.action'), JSON.stringify(ha.decisions.slice(-5)));
      assert.ok(ha.decisions.every((d) => d.vm === 'vmt' && d.reason), 'every decision names the VM and a reason');
      const st = await cli(['status', '--config', cfg.file]);
      assert.equal(st.code, 0, st.stderr);
      assert.match(st.stdout, /^HA controller: running/);
      assert.match(st.stdout, /^vmt\s+\S+\s+hv1\s/m);
      // Operator actions through the API (the token comes from the token file).
      const off = await cli(['ha', 'disable', 'vmt', '--config', cfg.file]);
      assert.equal(off.code, 0, off.stderr);
      assert.match(off.stdout, /^vmt: disabled \(/);
      const on = await cli(['ha', 'enable', 'vmt', '--config', cfg.file]);
      assert.equal(on.code, 0, on.stderr);
      assert.doesNotMatch(on.stdout, /^vmt: disabled/);
    } finally {
      await s.stop();
      await sshd.stop();
      cfg.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
