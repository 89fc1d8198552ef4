/**
 * The reference PXE boot for bench/pxe-boot.ts: the same qemu BIOS + iPXE ROM (TCG) on the same
 * lab network (src/lab/topology.ts: a switch namespace with the VM's tap, a server namespace at
 * 10.77.0.1/24, no route out, no radvd), served by Debian's stock daemons instead of 3rc:
 *
 * - dnsmasq: DHCP (the host's reservation, router and DNS options), its DNS for lab.test, and its
 *   TFTP with undionly.kpxe, on the chain its documentation and iPXE's give (dnsmasq.conf.example,
 *   ipxe.org's dnsmasq note): `dhcp-match=set:ipxe,175` tags requests from iPXE, a legacy PXE ROM
 *   gets undionly.kpxe over TFTP, iPXE gets the HTTP URL of its script. qemu's NIC ROM is iPXE
 *   already, so this VM takes the iPXE branch at once, as it does with 3rc. Like 3rc, it sends
 *   iPXE's no-pxedhcp (option 175, sub-option 176 = 1): without it iPXE waits about 3 s for a
 *   ProxyDHCP offer (lab-notes), which would measure the configuration, not the server.
 * - busybox httpd (`-f -vv`, Debian's busybox): a static server in C that forks per connection;
 *   with -vv it logs every request's URL and response code on stderr as it handles it, which is
 *   this side's time source (python3 -m http.server logs too, but serves from Python, and its
 *   log's own time stamps are whole seconds).
 *
 * It serves what 3rc serves the host, byte for byte and at the same URLs: the iPXE script and the
 * preseed as 3rc renders them for this host (its GET /api/v1/hosts/NAME/render, taken by the 3rc
 * boot of the same run; a static server ignores the token in the query string), and the same
 * installer kernel and initrd (boot/, through a symlink). So the kernel command line is the same.
 *
 * Times: lines from dnsmasq (its DHCPACK) and httpd (each URL) are stamped when the bench reads
 * them (a pipe away: milliseconds), against qemu's start.
 */
import { mkdirSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { startVm } from '../src/lab/qemu.js';
import { LabNetwork, labBudget, labWorkDir } from '../src/lab/topology.js';
import { ROOT } from '../test/lib/serve.js';
import { onCleanup } from './lib/cleanup.js';
import { sleep } from './lib/proc.js';
import { DNSMASQ, waitListen } from './lib/servers.js';

export const BUSYBOX = '/usr/bin/busybox';
export const UNDIONLY = '/usr/lib/ipxe/undionly.kpxe';

/** What the reference serves the host: 3rc's own render of its iPXE script and preseed. */
export interface HostFiles {
  /** `52-54-00-77-00-10` (3rc's URL form). */
  macPath: string;
  mac: string;
  ip: string;
  name: string;
  ipxe: string;
  preseed: string;
}

/** Seconds since qemu started (power-on); NaN when it was not seen. */
export interface BootTimes {
  dhcpAck: number;
  firstHttp: number;
  preseed: number;
}

/** A line of a child's output and when the bench read it (ms since the epoch). */
export interface Stamped {
  at: number;
  line: string;
}

/** Each line the child writes on stderr, stamped when read. */
function stampLines(p: ChildProcess, into: Stamped[]): void {
  if (p.stderr) createInterface({ input: p.stderr }).on('line', (line) => into.push({ at: Date.now(), line }));
}

/** The static tree: /boot/ipxe/<mac>, /ks/<mac> and /boot/files/debian-installer -> boot/ (3rc's URLs). */
function staticRoot(dir: string, f: HostFiles): string {
  const www = join(dir, 'www');
  mkdirSync(join(www, 'boot', 'ipxe'), { recursive: true });
  mkdirSync(join(www, 'boot', 'files'), { recursive: true });
  mkdirSync(join(www, 'ks'), { recursive: true });
  writeFileSync(join(www, 'boot', 'ipxe', f.macPath), f.ipxe);
  writeFileSync(join(www, 'ks', f.macPath), f.preseed);
  symlinkSync(join(ROOT, 'boot', 'debian-installer'), join(www, 'boot', 'files', 'debian-installer'));
  copyFileSync(UNDIONLY, join(www, 'undionly.kpxe'));
  return www;
}

function dnsmasqArgs(f: HostFiles, tftpRoot: string): string[] {
  return [
    '-k', '-C', '/dev/null', '-u', 'root', '--pid-file', '--log-facility=-', '-i', 'eth0',
    '--no-resolv', '--no-hosts', '--domain=lab.test', '--local=/lab.test/',
    '--dhcp-range=10.77.0.0,static,255.255.255.0,1h', `--dhcp-host=${f.mac},${f.ip},${f.name}`,
    '--dhcp-option=option:router,10.77.0.1', '--dhcp-option=option:dns-server,10.77.0.1',
    '--dhcp-match=set:ipxe,175', '--dhcp-boot=tag:!ipxe,undionly.kpxe', `--dhcp-boot=tag:ipxe,http://10.77.0.1/boot/ipxe/${f.macPath}`,
    // iPXE's encapsulated options (175): sub-option 176 (0xb0), length 1, value 1: no-pxedhcp.
    '--dhcp-option=175,b0:01:01',
    '--enable-tftp', `--tftp-root=${tftpRoot}`,
  ];
}

/**
 * When busybox httpd was asked for a URL starting with `path` and answered 200 (it logs
 * `IP:PORT: url:/path` and then `IP:PORT: response:200` from the child serving that connection).
 */
export function httpdServedAt(lines: readonly Stamped[], path: string): number | undefined {
  for (const [i, l] of lines.entries()) {
    const m = /^(\S+): url:(\S+)/.exec(l.line);
    if (!m || !m[2]!.startsWith(path)) continue;
    const ok = lines.slice(i + 1).some((r) => r.line === `${m[1]}: response:200`);
    if (ok) return l.at;
  }
  return undefined;
}

/** Boots the host once from dnsmasq + busybox httpd and times it; `tag` makes the namespaces unique. */
export async function bootReference(tag: string, f: HostFiles, log: (l: string) => void): Promise<BootTimes> {
  const work = labWorkDir('bench-pxeref');
  const net = LabNetwork.create(`bp${process.pid % 10000}${tag}`);
  const stop = onCleanup(async () => {
    await net.destroy();
    work.remove();
  });
  try {
    const www = staticRoot(work.dir, f);
    const dnsLog: Stamped[] = [];
    const httpLog: Stamped[] = [];
    // Both log on stderr; nothing is read from stdout (a full pipe would block them).
    const quiet = { stdio: ['ignore', 'ignore', 'pipe'] as ['ignore', 'ignore', 'pipe'] };
    const dnsmasq = net.spawn(net.serverNs, DNSMASQ, dnsmasqArgs(f, www), quiet);
    stampLines(dnsmasq, dnsLog);
    const httpd = net.spawn(net.serverNs, BUSYBOX, ['httpd', '-f', '-vv', '-p', '10.77.0.1:80', '-h', www], quiet);
    stampLines(httpd, httpLog);
    const tail = (out: Stamped[]) => () => out.map((l) => l.line).slice(-5).join(' / ');
    await waitListen(net.serverNs, 'udp', 67, dnsmasq, 'dnsmasq', tail(dnsLog));
    await waitListen(net.serverNs, 'tcp', 80, httpd, 'busybox httpd', tail(httpLog));
    const tap = net.addTap();
    const vm = startVm(
      { name: f.name, mac: f.mac, tap, firmware: 'bios', memoryMb: 1024, boot: 'network', serialLog: join(work.dir, `${f.name}.serial.log`) },
      (cmd, args) => net.spawn(net.switchNs, cmd, args, quiet),
    );
    const t0 = vm.startedAt;
    const deadline = t0 + labBudget(5 * 60_000);
    let preseed: number | undefined;
    while ((preseed = httpdServedAt(httpLog, `/ks/${f.macPath}`)) === undefined) {
      if (Date.now() > deadline) {
        const serial = vm.serial().split('\n').filter((l) => l.trim()).slice(-15).join('\n');
        throw new Error(`reference: no preseed fetch within ${Math.round((deadline - t0) / 1000)} s; httpd: ${httpLog.map((l) => l.line).join(' / ')}; serial tail:\n${serial}`);
      }
      if (vm.proc.exitCode !== null) throw new Error(`reference: qemu exited (${vm.proc.exitCode})`);
      await sleep(200);
    }
    const ack = dnsLog.find((l) => l.line.includes('DHCPACK(') && l.line.includes(f.mac));
    const firstHttp = httpLog.find((l) => /^\S+: url:/.test(l.line));
    vm.kill('SIGKILL');
    await vm.exited;
    const s = (at: number | undefined) => (at === undefined ? NaN : (at - t0) / 1000);
    const times = { dhcpAck: s(ack?.at), firstHttp: s(firstHttp?.at), preseed: s(preseed) };
    if (!ack) log(`pxeboot reference: no DHCPACK line from dnsmasq: ${dnsLog.map((l) => l.line).slice(-5).join(' / ')}`);
    return times;
  } finally {
    await stop();
  }
}
