/**
 * The HA controller inside a real `3rc serve`, driving a hypervisor over real SSH: an OpenSSH
 * server on loopback stands for hv1, a fake virsh behind it keeps the VM's state in files. The VM
 * "runs" per virsh but its service port answers nothing, so the controller must notice, decide
 * and act through SSH, and show it all in /api/v1/ha and `3rc status`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sshdUnavailable } from './hypervisor/sshd.js';
import { startFakeHypervisor } from './lib/fake-hypervisor.js';
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
    const hv = await startFakeHypervisor();
    const deadPort = await freePort(); // the VM's "SSH port": nothing listens there
    const cfg = await writeLabConfig(hv.config({ driver: kind as 'libvirt' | 'command', probePort: deadPort, hypervisor: d.extra, vars: d.vars }));
    const s = await serve(cfg);
    try {
      type Ha = { active: boolean; vms: { vm: string; state: string; reason: string }[]; decisions: { kind: string; reason: string; vm: string }[] };
      let ha: Ha = { active: false, vms: [], decisions: [] };
      const calls = hv.calls;
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
      await hv.stop();
      cfg.cleanup();
    }
  });
});
