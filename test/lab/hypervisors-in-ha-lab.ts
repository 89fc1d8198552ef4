/**
 * The HA lab's hypervisor hosts checked on their own (called from ha-crash.test.ts, which builds
 * the run's one HA lab): what the former hypervisor lab test checked beyond the HA lab's setup,
 * and the HypervisorDriver contract (src/hypervisor/contract.ts) against the real libvirt driver
 * on their real libvirtd, over SSH with their host keys checked.
 *
 * The driver runs in this test process, outside the lab's namespaces: each hypervisor's sshd is
 * reached through a forwarder on 127.0.0.1 (a local listener whose connections go through socat
 * started in 3rc's namespace), so the known_hosts lines name `[127.0.0.1]:PORT`. Cutting a host
 * off closes its forwarder (connections refused): the HA controller keeps seeing the host, and
 * its VMs are left alone. The contract's VM is a small domain of its own, `contract1`, which
 * no inventory names: no disk, no NIC, never touched by 3rc.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runDriverContract, type DriverFixture } from '../../src/hypervisor/contract.js';
import { LibvirtDriver } from '../../src/hypervisor/libvirt.js';
import { SshPool } from '../../src/hypervisor/ssh.js';
import type { HaLab } from '../../src/lab/ha-lab.js';
import type { HypervisorHost } from '../../src/lab/hypervisor.js';
import { labBudget } from '../../src/lab/topology.js';

const VM = 'contract1';

/** SSH from 3rc's namespace to a hypervisor with a given known_hosts (OpenSSH, host key checked). */
function ssh(h: HaLab, hv: HypervisorHost, knownHosts: string, cmd: string): string {
  return h.lab.net.exec(h.lab.net.serverNs, 'ssh', ['-i', h.key, '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=5', `root@${hv.ip}`, cmd]);
}

/** The hosts' own identity and a refused wrong host key; then the contract on the real driver. */
export function hypervisorChecks(lab: () => HaLab): void {
  it('each hypervisor over SSH: a wrong host key refused, its own host name, its own /root, libvirt answering', { timeout: labBudget(30_000) }, () => {
    const h = lab();
    const other = join(h.lab.workDir, 'other_host_key');
    if (!existsSync(other)) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const otherKey = readFileSync(`${other}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    for (const hv of h.hv.values()) {
      const wrong = join(h.lab.workDir, `known_hosts.wrong.${hv.name}`);
      writeFileSync(wrong, `${hv.ip} ${otherKey}\n`);
      assert.throws(() => ssh(h, hv, wrong, 'true'), /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
      const right = join(h.lab.workDir, 'known_hosts');
      assert.equal(ssh(h, hv, right, 'hostname').trim(), hv.name, 'its own UTS namespace');
      // Its own root home: the test machine's ~/.bashrc does not run in its sessions. It holds only
      // what the lab put there, .ssh with the other hypervisor's key and known_hosts (live migration).
      const [home, ...entries] = ssh(h, hv, right, 'echo "$HOME"; ls -A /root').trim().split('\n');
      assert.deepEqual([home, entries], ['/root', ['.ssh']], "its own /root, holding only the lab's .ssh");
      const dotSsh = ssh(h, hv, right, 'ls -A /root/.ssh').trim().split('\n');
      assert.ok(['id_ed25519', 'known_hosts'].every((f) => dotSsh.includes(f)) && dotSsh.every((f) => ['authorized_keys', 'id_ed25519', 'known_hosts'].includes(f)), `the lab's migration key and known_hosts only: ${dotSsh.join(' ')}`);
      assert.match(ssh(h, hv, right, 'virsh -c qemu:///system list --all'), /Id\s+Name\s+State/);
    }
  });

  describe('the real libvirt driver on the HA lab hypervisors', { timeout: labBudget(1.5 * 60_000) }, () => {
    runDriverContract('libvirt, real libvirtd and sshd (HA lab hosts)', { make: () => fixture(lab()) });
  });
}

/** A listener on 127.0.0.1 whose connections reach hv's sshd through socat in 3rc's namespace. */
async function forwarder(h: HaLab, hv: HypervisorHost): Promise<{ port: number; close(): void }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    const p = h.lab.net.spawn(h.lab.net.serverNs, 'socat', ['STDIO', `TCP:${hv.ip}:22`], { stdio: ['pipe', 'pipe', 'ignore'] });
    sock.pipe(p.stdin!);
    p.stdout!.pipe(sock);
    const end = () => {
      sockets.delete(sock);
      sock.destroy();
      p.kill('SIGKILL');
    };
    sock.on('close', end).on('error', end);
    p.on('exit', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

/** hv1 and hv2 through their forwarders; contract1 defined on hv1, off. */
async function fixture(h: HaLab): Promise<DriverFixture> {
  const hosts = [h.hv.get('hv1')!, h.hv.get('hv2')!];
  const xml = join(h.shared, `${VM}.xml`);
  writeFileSync(xml, `<domain type='qemu'><name>${VM}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>\n`);
  const clear = () => {
    for (const hv of hosts) {
      for (const args of [['destroy', VM], ['undefine', VM]]) {
        try {
          hv.virsh(args);
        } catch {
          /* not running, not defined */
        }
      }
    }
  };
  clear();
  hosts[0]!.virsh(['define', xml]);
  const fwd = await Promise.all(hosts.map((hv) => forwarder(h, hv)));
  const knownHosts = join(h.lab.workDir, 'known_hosts.contract');
  writeFileSync(knownHosts, hosts.map((hv, i) => `[127.0.0.1]:${fwd[i]!.port} ${hv.knownHostsLine.split(' ').slice(1).join(' ')}`).join('\n') + '\n');
  const pool = new SshPool({ connectTimeoutMs: 5000 });
  const driver = new LibvirtDriver({
    ssh: pool,
    hypervisors: hosts.map((hv, i) => ({ name: hv.name, address: '127.0.0.1', ssh: { user: 'root', port: fwd[i]!.port, key: h.key, knownHosts } })),
    timeoutMs: 30_000,
  });
  return {
    driver,
    hosts: ['hv1', 'hv2'],
    vm: VM,
    // The driver reaches the hosts through forwarders on 127.0.0.1, which the hosts cannot use to
    // reach each other; the drain scenario (crash-scenarios.ts) migrates on these hosts for real.
    migration: { skip: 'hosts reached through local forwarders; the drain scenario migrates live on them' },
    cut: (name) => fwd[hosts.findIndex((hv) => hv.name === name)]!.close(),
    close: () => {
      pool.closeAll();
      for (const f of fwd) f.close();
      clear();
    },
  };
}

/** Last: a hypervisor killed (a power cut) leaves no process of it behind. */
export function hypervisorKillCheck(lab: () => HaLab): void {
  it('a killed hypervisor leaves nothing running in its namespaces', { timeout: labBudget(30_000) }, async () => {
    const hv = lab().hv.get('hv2')!;
    assert.ok(hv.pids().length > 0, 'hv2 runs before its kill');
    hv.kill();
    // SIGKILL is asynchronous: give the kernel (and the parents that reap) a moment.
    for (let i = 0; i < 50 && hv.pids().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(hv.pids(), [], 'nothing of hv2 survives its kill');
  });
}
