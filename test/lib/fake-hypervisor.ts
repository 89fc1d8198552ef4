/**
 * A hypervisor for tests of a running `3rc serve` (test/ha-live, the dashboard e2e test): a real
 * OpenSSH server on loopback stands for hv1, and a fake virsh and qm behind it keep the VMs'
 * state in files (test/hypervisor/fake-tools.ts). Its VM vmt "runs" (per virsh) at 127.0.0.20.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeHypervisorState, writeFakeTools } from '../hypervisor/fake-tools.js';
import { keygen, startSshd } from '../hypervisor/sshd.js';

export interface FakeHypervisor {
  /** Where the fake tools keep the VMs' state (`domains/NAME`, `calls`). */
  state: string;
  /** Every command the fake tools ran, one a line. */
  calls(): string;
  /** The config overrides (writeLabConfig) of a lab with hv1 and its VM vmt under HA. */
  config(o: { driver: 'libvirt' | 'command'; probePort: number; hypervisor?: Record<string, unknown>; vars?: Record<string, string> }): Record<string, unknown>;
  stop(): Promise<void>;
}

/** Starts the sshd with the fake tools behind it; vmt runs. */
export async function startFakeHypervisor(): Promise<FakeHypervisor> {
  const dir = mkdtempSync(join(tmpdir(), '3rc-fake-hv-'));
  const hostKey = keygen(join(dir, 'host_ed25519'), 'ed25519');
  const client = keygen(join(dir, 'client_ed25519'), 'ed25519');
  writeFileSync(join(dir, 'authorized_keys'), `${client.pub}\n`);
  const bin = writeFakeTools(dir);
  const state = makeHypervisorState(join(dir, 'state'), ['vmt']);
  writeFileSync(join(state, 'domains', 'vmt'), 'running\n');
  const sshd = await startSshd({ dir: join(dir, 'sshd'), hostKeys: [hostKey.key], authorizedKeys: join(dir, 'authorized_keys'), env: { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, FAKE_HV_STATE: state, HOME: dir } });
  const [type, b64] = hostKey.pub.split(' ');
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${sshd.port} ${type} ${b64}\n`);
  return {
    state,
    calls: () => (existsSync(join(state, 'calls')) ? readFileSync(join(state, 'calls'), 'utf8') : ''),
    config: (o) => ({
      network: { domain: 'lab.test', serverIp: '10.77.0.1', subnets: [{ cidr: '10.77.0.0/24', router: '10.77.0.1' }, { cidr: '127.0.0.0/24' }] },
      hypervisors: [{ name: 'hv1', address: '127.0.0.1', driver: o.driver, ssh: { user: 'root', port: sshd.port, key: client.key, knownHosts: join(dir, 'known_hosts') }, loadThreshold: 4, capacity: { vms: 4 }, ...o.hypervisor }],
      hosts: [{ name: 'vmt', mac: '52:54:00:77:00:20', ip: '127.0.0.20', profile: 'debian12', role: 'services', hypervisor: 'hv1', ...(o.vars ? { vars: o.vars } : {}) }],
      ha: { enabled: true, scanInterval: '1s', t1: '2s', t2: '2s', probe: { port: o.probePort, timeout: '500ms' } },
    }),
    async stop() {
      await sshd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
