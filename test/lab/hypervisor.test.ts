/**
 * A lab hypervisor host with real parts: its own namespaces, a real libvirtd (qemu, TCG) and a
 * real sshd. 3rc's side logs in with a key and checks the host key against known_hosts; the
 * VM it defines there has its NIC on the host's bridge and PXE-boots from 3rc (the installer
 * fetches its per-host install script); its gmond reports to a collector that 3rc's Ganglia
 * parser reads. Groundwork of the HA-on-real-parts tests.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { GMOND_PORT, gmondConf } from '../../src/lab/ganglia.js';
import { HypervisorHost, domainXml, hypervisorUnavailable } from '../../src/lab/hypervisor.js';
import { parseGanglia } from '../../src/monitor/ganglia.js';
import { RunningLab } from '../../src/lab/lab.js';
import { labUnavailable } from '../../src/lab/topology.js';
import { ROOT } from '../lib/serve.js';

const skip = labUnavailable() ?? hypervisorUnavailable() ?? (existsSync(join(ROOT, 'boot', 'lab', 'installer', 'vmlinuz')) ? undefined : 'the lab image is not built (run scripts/lab-image.sh)');
if (skip) console.log(`# SKIP lab hypervisor test: ${skip}`);

describe('lab: a libvirt hypervisor host in namespaces', { skip }, () => {
  it('answers over SSH (host key checked), runs a libvirt VM whose NIC is on the lab network, and the VM PXE-boots from 3rc', { timeout: 10 * 60_000 }, async () => {
    const work = mkdtempSync(join(tmpdir(), '3rc-lab-hv-'));
    const key = join(work, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const pub = readFileSync(`${key}.pub`, 'utf8');
    const lab = await RunningLab.start({ prefix: `L${process.pid % 10000}h`, workDir: work, sshPublicKey: pub, log: (l) => console.log(`# ${l}`) });
    try {
      const t0 = Date.now();
      const hv1 = await HypervisorHost.start(lab.net, { name: 'hv1', addr: '10.77.0.2/24', dir: join(work, 'hv1'), authorizedKey: pub });
      console.log(`# hv1: libvirtd and sshd up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const knownHosts = join(work, 'known_hosts');
      const ssh = (cmd: string, kh = knownHosts) =>
        lab.net.exec(lab.net.serverNs, 'ssh', ['-i', key, '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=5', 'root@10.77.0.2', cmd]);
      // A wrong host key is refused: the check is real.
      const wrong = join(work, 'known_hosts.wrong');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(work, 'other')]);
      writeFileSync(wrong, `10.77.0.2 ${readFileSync(join(work, 'other.pub'), 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
      assert.throws(() => ssh('true', wrong), /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
      writeFileSync(knownHosts, `${hv1.knownHostsLine}\n`);
      assert.equal(ssh('hostname').trim(), 'hv1', 'its own UTS namespace');
      // Its own root home, empty: the test machine's ~/.bashrc (pyenv here) does not run in sessions.
      assert.equal(ssh('echo "$HOME"; ls -A /root').trim(), '/root', 'its own empty /root');
      assert.match(ssh('virsh -c qemu:///system list --all'), /Id\s+Name\s+State/);

      const shared = join(work, 'shared');
      mkdirSync(shared);
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(shared, 'vm14.qcow2'), '4G']);
      writeFileSync(join(shared, 'vm14.xml'), domainXml({ name: 'vm14', mac: '52:54:00:77:00:14', memoryMb: 1024, cpus: 1, disk: join(shared, 'vm14.qcow2'), serialLog: join(shared, 'vm14.console.log') }));
      assert.equal((await lab.api('PUT', '/hosts/vm14/boot', { mode: 'install', reason: 'hypervisor test' })).status, 200);
      ssh(`virsh -c qemu:///system define ${join(shared, 'vm14.xml')} && virsh -c qemu:///system start vm14`);
      const started = Date.now();
      assert.match(ssh('virsh -c qemu:///system domstate vm14'), /running/);
      const script = await lab.waitEvent('vm14', (e) => e.kind === 'http.kickstart' && e.data?.status === 200, 5 * 60_000, 'install script fetch');
      assert.equal(script.data?.peer, '10.77.0.14');
      console.log(`# vm14 on hv1: virsh start -> installer fetched its install script in ${((script.at - started) / 1000).toFixed(1)} s`);
      ssh('virsh -c qemu:///system destroy vm14');
      assert.match(ssh('virsh -c qemu:///system domstate vm14'), /shut off/);
      // Ganglia: hv1's gmond reports to a collecting gmond beside 3rc, read with 3rc's own parser.
      writeFileSync(join(work, 'collector.conf'), gmondConf({ hostName: '3rc', cluster: 'lab', collectOn: '10.77.0.1' }));
      lab.net.spawn(lab.net.serverNs, 'gmond', ['-c', join(work, 'collector.conf'), '-f'], { stdio: 'ignore' });
      hv1.startGmond('10.77.0.1');
      let seen: ReturnType<typeof parseGanglia> = [];
      for (let i = 0; i < 90 && !seen.some((h) => h.name === 'hv1' && h.loadFive !== null && h.cpuNum !== null); i++) {
        await new Promise((r) => setTimeout(r, 1000));
        seen = parseGanglia(lab.net.exec(lab.net.serverNs, 'bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${GMOND_PORT}; cat <&3`]));
      }
      const g = seen.find((h) => h.name === 'hv1');
      assert.ok(g?.up && g.loadFive !== null && g.cpuNum !== null, `hv1 in Ganglia: ${JSON.stringify(seen)}`);
      console.log(`# Ganglia: hv1 up, load_five ${g.loadFive}, cpu_num ${g.cpuNum}`);
      hv1.kill();
      // SIGKILL is asynchronous: give the kernel (and the parents that reap) a moment.
      for (let i = 0; i < 50 && hv1.pids().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(hv1.pids(), [], 'nothing of hv1 survives its kill');
    } finally {
      await lab.stop();
      rmSync(work, { recursive: true, force: true });
    }
  });
});
