/**
 * The lab for the HA crash tests: the lab network and 3rc (lab.ts), two real hypervisor hosts
 * hv1 and hv2 (hypervisor.ts: libvirtd + sshd each, gmond reporting to a collector beside 3rc),
 * and VMs defined on both hosts with their disks in one shared directory (the NAS). The VMs are
 * installed over PXE by the lab's image profile, then 3rc is restarted with its HA controller on,
 * driving the hosts over SSH (host keys checked) with the libvirt driver.
 *
 * vm14 (on hv1) may be reinstalled; vm15 (on hv2) has `reinstall: false`.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../lib/paths.js';
import { fingerprint } from '../hypervisor/known-hosts-update.js';
import type { StoreEvent } from '../store/store.js';
import { gmondConf } from './ganglia.js';
import { domainXml, HypervisorHost, type SeenStart } from './hypervisor.js';
import { deepMerge, LAB_SERVER_IP, labConfig, RunningLab } from './lab.js';
import { labBudget } from './topology.js';
import { DoubleStartWatch, LifecycleLog, netnsInode, qemuProcesses, type QemuProc } from './qemu-procs.js';
import { chassisProgram, SIM_USER, startIpmiSim, type IpmiSim } from './ipmi-sim.js';

type Obj = Record<string, unknown>;

export const HA_VMS = ['vm14', 'vm15'] as const;
export const HYPERVISORS = [{ name: 'hv1', addr: '10.77.0.2/24' }, { name: 'hv2', addr: '10.77.0.3/24' }] as const;
/** Monitoring settings of the crash tests (lab.yaml's are the paper's minutes). */
export const HA_TIMINGS = { scanInterval: '5s', t1: '1m', t2: '3m' };

export interface HaLabOptions {
  prefix: string;
  workDir: string;
  log?: (line: string) => void;
  /** The VMs defined on both hosts and installed. Default: HA_VMS. */
  vms?: readonly string[];
  /** More hosts for the inventory (e.g. a physical host for `3rc p2v`), and config deep-merged over haConfig(). */
  extra?: HaLabExtra;
}

export interface HaLabExtra {
  hosts?: Obj[];
  config?: Obj;
}

/** One HA decision as the API lists it (ha.transition, ha.action, ha.done). */
export type Decision = StoreEvent;

export interface HaVmStatus {
  vm: string;
  state: string;
  host: string | null;
  since: number;
  reason: string;
}

export class HaLab {
  /** Which config 3rc runs now: fence commands for the hypervisors, or none. */
  fence = false;
  /** The VMs of this lab, and the extra hosts and config 3rc runs with. */
  vms: readonly string[] = HA_VMS;
  extra: HaLabExtra = {};
  /** libvirt's lifecycle events of both hosts since the lab started (the double-start watch). */
  readonly lifecycle = new LifecycleLog();
  /** Each hypervisor's BMC (ipmi_sim beside 3rc, hypervisorChassis): what 3rc fences through. */
  readonly bmcs = new Map<string, IpmiSim>();

  private constructor(
    readonly lab: RunningLab,
    readonly hv: Map<string, HypervisorHost>,
    readonly key: string,
    readonly shared: string,
    /** The test's own known_hosts for the VMs (from the keys their installer printed). */
    readonly guestKnownHosts: string,
    readonly log: (line: string) => void,
  ) {}

  /** Builds everything, installs the VMs over PXE, and restarts 3rc with HA on. */
  static async start(o: HaLabOptions): Promise<HaLab> {
    const log = o.log ?? ((l: string) => process.stdout.write(`${l}\n`));
    mkdirSync(o.workDir, { recursive: true });
    const key = join(o.workDir, 'id_ed25519');
    if (!existsSync(key)) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '3rc-lab', '-f', key]);
    const pub = readFileSync(`${key}.pub`, 'utf8');
    const vms = o.vms ?? HA_VMS;
    const extra = o.extra ?? {};
    const lab = await RunningLab.start({ prefix: o.prefix, workDir: o.workDir, sshPublicKey: pub, log, configChanges: haConfig(o.workDir, o.prefix, { enabled: false, fence: false }, vms, extra) });
    const hv = new Map<string, HypervisorHost>();
    const shared = join(o.workDir, 'shared');
    mkdirSync(shared, { recursive: true });
    const h = new HaLab(lab, hv, key, shared, join(o.workDir, 'guest_known_hosts.test'), log);
    h.vms = vms;
    h.extra = extra;
    try {
      const t0 = Date.now();
      // The collecting gmond beside 3rc: ha.ganglia reads its XML on 127.0.0.1:8649.
      writeFileSync(join(o.workDir, 'collector.conf'), gmondConf({ hostName: '3rc', cluster: 'lab', collectOn: '10.77.0.1' }));
      lab.net.spawn(lab.net.serverNs, 'gmond', ['-c', join(o.workDir, 'collector.conf'), '-f'], { stdio: 'ignore' });
      for (const x of HYPERVISORS) {
        const host = await HypervisorHost.start(lab.net, { name: x.name, addr: x.addr, dir: join(o.workDir, x.name), authorizedKey: pub, onLifecycle: (e) => h.lifecycle.push(e) });
        host.startGmond('10.77.0.1');
        hv.set(x.name, host);
      }
      writeFileSync(join(o.workDir, 'known_hosts'), [...hv.values()].map((x) => x.knownHostsLine).join('\n') + '\n');
      // Live migration (3rc hv drain): each host's virsh reaches the other's libvirtd over SSH, as
      // root with the lab's key (every host accepts it), the other's host key known.
      for (const x of hv.values()) {
        const dotSsh = join(x.dir, 'root', '.ssh');
        mkdirSync(dotSsh, { recursive: true, mode: 0o700 });
        writeFileSync(join(dotSsh, 'id_ed25519'), readFileSync(key), { mode: 0o600 });
        writeFileSync(join(dotSsh, 'known_hosts'), [...hv.values()].map((y) => y.knownHostsLine).join('\n') + '\n');
      }
      // Their BMCs, on the loopback of 3rc's namespace (one UDP port each).
      for (const [i, x] of HYPERVISORS.entries()) {
        h.bmcs.set(x.name, await startIpmiSim({ netns: lab.net.serverNs, port: 623 + i, chassis: hypervisorChassis(hv.get(x.name)!.ns) }));
      }
      log(`ha-lab: hv1 and hv2 up (libvirtd, sshd, gmond, an ipmi_sim BMC each) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      for (const vm of vms) h.defineEverywhere(vm);
      if (vms.length) await h.installAll([...vms]);
      await h.setConfig({ enabled: true, fence: false }, 'SIGTERM');
      return h;
    } catch (err) {
      await h.stop();
      throw err;
    }
  }

  /** Defines the VM on every hypervisor (same disk in the shared directory), runs it nowhere. */
  defineEverywhere(vm: string): void {
    const host = this.lab.host(vm);
    const disk = join(this.shared, `${vm}.qcow2`);
    if (!existsSync(disk)) execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '4G']);
    const xml = join(this.shared, `${vm}.xml`);
    // One UUID on every host: libvirt migrates a domain only onto a definition with its UUID.
    const uuid = createHash('sha256').update(`3rc-lab ${vm}`).digest('hex').slice(0, 32).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
    writeFileSync(xml, domainXml({ name: vm, mac: host.mac, memoryMb: 1024, cpus: 1, disk, serialLog: this.consoleLog(vm) }).replace('</name>', `</name>\n  <uuid>${uuid}</uuid>`));
    for (const x of this.hv.values()) x.virsh(['define', xml]);
  }

  consoleLog(vm: string): string {
    return join(this.shared, `${vm}.console.log`);
  }

  /** The inventory's hypervisor of a VM (where the first install runs it). */
  homeOf(vm: string): string {
    const h = ((this.lab.config.hosts as Obj[]) ?? []).find((x) => x.name === vm);
    return String(h?.hypervisor ?? 'hv1');
  }

  /** Installs VMs over PXE at once (image profile), each on its home host (or `on`); waits for SSH. */
  async installAll(vms: string[], on: (vm: string) => string = (vm) => this.homeOf(vm)): Promise<void> {
    const t0 = Date.now();
    const from = this.lab.events.length;
    for (const vm of vms) {
      const r = await this.lab.api('PUT', `/hosts/${vm}/boot`, { mode: 'install', reason: 'ha-lab: install' });
      if (r.status !== 200) throw new Error(`flip ${vm} to install: ${r.status} ${JSON.stringify(r.body)}`);
      this.hv.get(on(vm))!.virsh(['start', vm]);
    }
    await Promise.all(vms.map(async (vm) => {
      await this.lab.waitEvent(vm, (e) => e.kind === 'install.done', labBudget(15 * 60_000), 'install-done', from);
      await this.waitSsh(vm, 10 * 60_000);
      if (!(await this.learnedKeysMatch(vm))) throw new Error(`3rc did not record in its store the SSH host keys ${vm}'s installer reported`);
      this.log(`ha-lab: ${vm} installed and answering on SSH after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      await this.verifyInstall(vm);
    }));
  }

  /**
   * Checks what the latest install of `vm` did, on every install of the lab (the first ones and
   * the crash tests' reinstalls alike; they replace the former install-cycle and image-install
   * tests' success paths). Throws at the first miss; logs and returns what was checked.
   * - 3rc's boot trace: DHCP ACK to iPXE, iPXE script in install mode, the installer's initrd
   *   over HTTP, the install script of the host's profile fetched from the host's own address,
   *   the whole image sent, the HINFO role lookup answered, install-done, the flip to local, and
   *   the next PXE boot told local; the API's boot entry local with last install done;
   * - the installer's console: each step of the install, no ERROR or FAILED;
   * - the installed system over SSH (host key checked): its name, the role's marker, the address
   *   from 3rc's DHCP, a machine-id, and on disk exactly the host keys the installer printed.
   */
  async verifyInstall(vm: string): Promise<string[]> {
    const host = ((this.lab.config.hosts as Obj[]) ?? []).find((x) => x.name === vm) ?? {};
    const { ip } = this.lab.host(vm);
    const role = String(host.role);
    const fail = (what: string): never => {
      throw new Error(`${vm}: ${what}\nconsole tail:\n${this.consoleTail(vm)}`);
    };
    const evs = this.lab.events.filter((e) => e.host === vm);
    const last = (pred: (e: StoreEvent) => boolean, before = Infinity) => evs.filter((e) => e.id < before && pred(e)).pop();
    const done = last((e) => e.kind === 'install.done') ?? fail('no install.done in the boot trace');
    const script = last((e) => e.kind === 'http.ipxe' && e.data?.mode === 'install', done.id) ?? fail('no iPXE script in install mode before install-done');
    const ack = last((e) => e.kind === 'dhcp.request' && String(e.reason).startsWith('ack') && e.data?.client === 'ipxe', script.id) ?? fail('no DHCP ACK to iPXE before its install script');
    const scriptUrl = `http://${LAB_SERVER_IP}/boot/ipxe/${this.lab.host(vm).mac.replace(/:/g, '-')}`;
    if (ack.data?.file !== scriptUrl || ack.data?.ip !== ip) fail(`DHCP ACK to iPXE: file ${String(ack.data?.file)}, address ${String(ack.data?.ip)}; expected ${scriptUrl}, ${ip}`);
    if (evs.some((e) => e.id > ack.id && e.id < done.id && e.kind === 'tftp.transfer')) fail('iPXE fetched something over TFTP: its path is HTTP only');
    const between = evs.filter((e) => e.id > script.id && e.id < done.id);
    const has = (pred: (e: StoreEvent) => boolean, what: string) => between.find(pred) ?? fail(`no ${what} between the iPXE install script and install-done`);
    has((e) => e.kind === 'http.file' && e.data?.file === '/boot/files/lab/installer/initrd.gz' && e.reason === 'complete', "installer's initrd over HTTP");
    const ks = has((e) => e.kind === 'http.kickstart' && e.data?.status === 200, 'install script fetch');
    if (ks.data?.profile !== host.profile || ks.data?.peer !== ip) fail(`install script: profile ${String(ks.data?.profile)} from ${String(ks.data?.peer)}, expected ${String(host.profile)} from ${ip}`);
    const image = has((e) => e.kind === 'http.file' && e.data?.file === '/boot/files/lab/images/debian12.img.gz' && e.reason === 'complete', 'image fetch');
    const size = statSync(join(packageRoot(), 'boot', 'lab', 'images', 'debian12.img.gz')).size;
    if (image.data?.bytes !== size) fail(`image: ${String(image.data?.bytes)} bytes sent, the file has ${size}`);
    const hinfo = has((e) => e.kind === 'dns.query' && e.data?.name === `${vm}.lab.test` && e.data?.type === 13, 'HINFO lookup');
    if (hinfo.reason !== 'NOERROR') fail(`HINFO lookup answered ${String(hinfo.reason)}`);
    // 3rc records the flip before the install.done event itself (both from the one callback).
    const flip = evs.find((e) => e.id > script.id && e.kind === 'boot.set' && e.data?.mode === 'local') ?? fail('no flip to local by the install-done call');
    evs.find((e) => e.id > flip.id && e.kind === 'http.ipxe' && e.data?.mode === 'local') ?? fail('the PXE boot after the install was not told local');
    const entry = (await this.lab.api('GET', `/hosts/${vm}`)).body as { boot?: { mode?: string; lastInstall?: string | null } };
    if (entry.boot?.mode !== 'local' || entry.boot.lastInstall !== 'done') fail(`boot entry after the install: ${JSON.stringify(entry.boot)}`);
    const checks = ['boot trace: DHCP ACK to iPXE with its script URL, iPXE install script, initrd over HTTP (nothing over TFTP), install script, whole image, HINFO, install-done, flip to local, PXE told local; boot entry local, last install done'];

    const text = existsSync(this.consoleLog(vm)) ? readFileSync(this.consoleLog(vm), 'utf8').replace(/\r/g, '') : '';
    const starts = [...text.matchAll(/3rc-installer: \[[^\]]*\] started/g)];
    const ours = text.slice(starts.pop()?.index ?? 0).split('\n').filter((l) => l.startsWith('3rc-install')).join('\n');
    for (const re of [
      /3rc-installer: .*loaded \d+ modules/,
      new RegExp(`3rc-installer: .*DHCP on \\S+: ${ip.replace(/\./g, '\\.')}/24`),
      /3rc-installer: .*running the install script/,
      /3rc-install: disk \/dev\/vda, 4096 MiB/,
      /3rc-install: fetched \d+ MB in [\d.]+ s \([\d.]+ MB\/s\), uncompressed to \/dev\/vda/,
      /3rc-install: wrote \d+ MiB \(the image's partitions\) to \/dev\/vda/,
      /3rc-install: sha256 ok/,
      /3rc-install: partition vda2 grown from \d+ MiB to \d+ MiB/,
      /3rc-install: root filesystem \/dev\/vda2 mounted/,
      new RegExp(`3rc-install: identity: ${vm}\\.lab\\.test, machine-id [0-9a-f]{32}, 1 root key\\(s\\)`),
      new RegExp(`3rc-install: role ${role} installed`),
      /3rc-install: done callback answered: .*"result":"done"/,
      /3rc-install: rebooting into the installed system/,
    ]) if (!re.test(ours)) fail(`${re} not on the console of its latest install:\n${ours}`);
    if (/ERROR|FAILED/.test(ours)) fail(`the installer reported an error:\n${ours}`);
    checks.push('installer console: modules, DHCP, install script, disk, image fetched, written, sha256, partition grown, root mounted, identity, role, done callback, reboot; no error');

    const [name, marker, addr, machineId] = (await this.ssh(vm, "hostname; cat /etc/3rc/role; ip -4 -o addr show scope global | awk '{print $4}'; cat /etc/machine-id")).trim().split('\n');
    if (name !== vm || marker !== role || addr !== `${ip}/24` || !/^[0-9a-f]{32}$/.test(machineId ?? '')) fail(`installed system: hostname ${name}, role ${marker}, address ${addr}, machine-id ${machineId}; expected ${vm}, ${role}, ${ip}/24`);
    const onDisk = await this.ssh(vm, 'cat /etc/ssh/ssh_host_*_key.pub');
    const printed = this.latestHostKeys(vm);
    if (!printed.length || printed.some((k) => !onDisk.includes(k))) fail('the host keys on disk are not the ones its installer printed');
    checks.push(`installed system: hostname ${vm}, role ${role} marker, address ${ip}/24 from 3rc, machine-id, the printed host keys on disk`);
    this.log(`ha-lab: ${vm} install verified:\n${checks.map((c) => `  ${c}`).join('\n')}`);
    return checks;
  }

  /** Restarts 3rc with HA on or off, with or without fence commands. */
  async setConfig(c: { enabled: boolean; fence: boolean }, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    await this.lab.restartServer({ signal, configChanges: haConfig(this.lab.workDir, this.lab.net.prefix, c, this.vms, this.extra, this.bmcTargets()) });
    this.fence = c.fence;
  }

  /** Where 3rc reaches each hypervisor's BMC. */
  bmcTargets(): Record<string, LabBmc> {
    return Object.fromEntries([...this.bmcs].map(([name, s]) => [name, { address: s.address, passwordFile: s.passwordFile }]));
  }

  /** How many power-offs the hypervisor's BMC was asked for so far (its chassis program's log). */
  bmcPowerOffs(host: string): number {
    return this.bmcs.get(host)?.calls().filter((c) => c.endsWith(' set power 0')).length ?? 0;
  }

  /** Restarts 3rc with its current config (SIGKILL: a crash); `whileDown` runs between the kill and the start. */
  async restart3rc(signal: 'SIGTERM' | 'SIGKILL', whileDown?: () => void): Promise<void> {
    await this.lab.restartServer({ signal, whileDown });
  }

  /** Every `virsh start` of `vm` both hosts' virsh saw after `since` (ms), with the host. */
  startsOf(vm: string, since: number): (SeenStart & { host: string })[] {
    return [...this.hv.values()].flatMap((x) => x.starts().filter((s) => s.vm === vm && s.asked >= since).map((s) => ({ ...s, host: x.name })));
  }

  async decisions(afterId = 0): Promise<Decision[]> {
    const r = await this.lab.api('GET', '/ha?limit=2000');
    if (r.status !== 200) throw new Error(`GET /ha: ${r.status}`);
    return ((r.body as { decisions: Decision[] }).decisions ?? []).filter((d) => d.id > afterId);
  }

  async status(vm: string): Promise<HaVmStatus> {
    const r = await this.lab.api('GET', '/ha');
    const s = (r.body as { vms?: HaVmStatus[] }).vms?.find((v) => v.vm === vm);
    if (!s) throw new Error(`${vm} is not watched by the HA controller: ${JSON.stringify(r.body).slice(0, 300)}`);
    return s;
  }

  /** The newest decision id (a marker: later waits look only after it). */
  async mark(): Promise<number> {
    const d = await this.decisions();
    return d.length ? d[d.length - 1]!.id : 0;
  }

  /** Waits for a decision of `vm` after `afterId` matching pred. */
  async waitDecision(vm: string, pred: (d: Decision) => boolean, timeoutMs: number, what: string, afterId: number, pollMs = 500): Promise<Decision> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = (await this.decisions(afterId)).find((d) => d.vm === vm && pred(d));
      if (hit) return hit;
      this.lab.alive(`${vm}: ${what}`);
      if (Date.now() > deadline) {
        const seen = (await this.decisions(afterId)).filter((d) => d.vm === vm).map(describeDecision).join('\n  ');
        throw new Error(`${vm}: no ${what} within ${Math.round(timeoutMs / 1000)} s; decisions since:\n  ${seen || '(none)'}\nconsole tail:\n${this.consoleTail(vm)}`);
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  consoleTail(vm: string, lines = 15): string {
    try {
      return readFileSync(this.consoleLog(vm), 'utf8').replace(/\r/g, '').split('\n').filter((l) => l.trim()).slice(-lines).join('\n');
    } catch {
      return '(no console log)';
    }
  }

  /** The host keys the VM's latest install printed on its console (one of each type). */
  latestHostKeys(vm: string): string[] {
    return printedHostKeys(existsSync(this.consoleLog(vm)) ? readFileSync(this.consoleLog(vm), 'utf8') : '');
  }

  /**
   * A known_hosts file (the test's own) for a host from the keys its latest install printed in
   * `consoleText`; null when it printed none yet.
   */
  knownHostsFromConsole(host: string, consoleText: string): string | null {
    const keys = printedHostKeys(consoleText);
    if (keys.length === 0) return null;
    const file = join(this.lab.workDir, `${host}.known_hosts`);
    writeFileSync(file, keys.map((k) => `${this.lab.host(host).ip} ${k}\n`).join(''), { mode: 0o600 });
    return file;
  }

  /**
   * Whether 3rc recorded in its store (the install.host-keys event of the VM's latest install-done
   * call says so, with their fingerprints) exactly the keys the VM's latest install printed. 3rc
   * has no file of them any more: its guest SSH checks the store's record.
   */
  async learnedKeysMatch(vm: string): Promise<boolean> {
    const r = await this.lab.api('GET', `/hosts/${vm}/events?limit=10000`);
    const ev = ((r.body as StoreEvent[] | undefined) ?? []).filter((e) => e.kind === 'install.host-keys' && e.reason === 'recorded').at(-1);
    const learned = ((ev?.data as { fingerprints?: string[] } | undefined)?.fingerprints ?? []);
    const printed = this.latestHostKeys(vm).map((k) => `${k.split(' ')[0]} ${fingerprint(Buffer.from(k.split(' ')[1]!, 'base64'))}`);
    return printed.length > 0 && learned.length === printed.length && printed.every((k) => learned.includes(k));
  }

  /** Refreshes the known_hosts lines of `vm` in a file from its console. */
  private trustConsoleKeys(vm: string, file: string): void {
    const ip = this.lab.host(vm).ip;
    const keep = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() && l.split(' ')[0] !== ip) : [];
    writeFileSync(file, [...keep, ...this.latestHostKeys(vm).map((k) => `${ip} ${k}`)].join('\n') + '\n', { mode: 0o600 });
  }

  /** Runs a command on the VM over SSH from 3rc's namespace, host key checked. */
  ssh(vm: string, command: string, timeoutMs = 20_000): Promise<string> {
    return this.lab.ssh(vm, this.key, this.guestKnownHosts, command, timeoutMs);
  }

  /** Waits until the VM answers `hostname` over SSH with the host keys its latest install printed. */
  async waitSsh(vm: string, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      this.lab.alive(`${vm} on SSH`);
      this.trustConsoleKeys(vm, this.guestKnownHosts);
      try {
        const name = (await this.ssh(vm, 'hostname', 15_000)).trim();
        if (name !== vm) throw new Error(`hostname says ${name}`);
        return Date.now();
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`${vm} never answered on SSH (${last})\nconsole tail:\n${this.consoleTail(vm)}`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }

  /**
   * The live qemu processes of a VM on this lab's hypervisors, with the one each runs on (another
   * lab on this machine may run VMs of the same names: their qemu is in its own namespaces).
   */
  copies(vm: string): (QemuProc & { host: string })[] {
    const hostOf = this.hostOfNetns();
    return qemuProcesses().flatMap((p) => {
      const host = hostOf(p.netns);
      return p.vm === vm && host !== undefined ? [{ ...p, host }] : [];
    });
  }

  /** The hypervisor of this lab that a network namespace inode is, or undefined. */
  hostOfNetns(): (ino: number) => string | undefined {
    const byIno = new Map([...this.hv.values()].map((h) => [netnsInode(h.ns), h.name]));
    return (ino) => byIno.get(ino);
  }

  /** Watches the VMs for double starts: libvirt's lifecycle events and /proc (qemu-procs.ts). */
  watchDoubleStarts(vms: readonly string[]): DoubleStartWatch {
    return new DoubleStartWatch(vms, { lifecycle: this.lifecycle, hostOf: this.hostOfNetns() });
  }

  /** The one hypervisor running the VM (per /proc), or null. Throws when it runs twice. */
  runningOn(vm: string): string | null {
    const c = this.copies(vm);
    if (c.length > 1) throw new Error(`${vm} runs ${c.length} times: ${c.map((p) => `${p.host} pid ${p.pid}`).join(', ')}`);
    return c[0]?.host ?? null;
  }

  async stop(): Promise<void> {
    for (const h of this.hv.values()) {
      try {
        h.kill();
      } catch {
        /* gone */
      }
    }
    for (const b of this.bmcs.values()) await b.close();
    await this.lab.stop();
  }
}

/** The host keys an install printed on a console (`3rc-install: ssh host key: TYPE BASE64`, or 3rc-first-boot: from cloud-init), the latest of each type. */
export function printedHostKeys(consoleText: string): string[] {
  const all = [...consoleText.matchAll(/3rc-(?:install|first-boot): ssh host key: ((?:ssh|ecdsa)-[a-z0-9-]+) ([A-Za-z0-9+/=]+)/g)].map((m) => `${m[1]} ${m[2]}`);
  const types = new Set(all.map((k) => k.split(' ')[0]));
  return all.slice(-types.size);
}

/** One decision as a line: `transition running -> suspect (probe-failed)`, `action reset on hv1`. */
export function describeDecision(d: Decision): string {
  const data = (d.data ?? {}) as Obj;
  if (d.kind === 'ha.transition') return `${d.vm}: ${String(data.from)} -> ${String(data.to)} (${String(d.reason)}${data.detail ? `: ${String(data.detail)}` : ''})`;
  if (d.kind === 'ha.action') return `${d.vm}: action ${String(d.reason)}${data.host ? ` on ${String(data.host)}` : ''}${data.how ? ` (${String(data.how)})` : ''}`;
  return `${d.vm}: ${String(data.action ?? 'action')} done: ${String(d.reason)}${data.detail ? ` (${String(data.detail)})` : ''}`;
}

/** Where 3rc reaches a lab hypervisor's BMC (ipmi_sim, IPMI over LAN). */
export interface LabBmc {
  address: string;
  passwordFile: string;
}

/**
 * A lab hypervisor's power supply as ipmi_sim's chassis control program: power off kills every
 * process of the host's network namespace (libvirtd, sshd, its VMs' qemu: a power cut), the
 * power reads back on while any process is left in it. Power on is the lab's own
 * (HypervisorHost.powerOn restarts the host's daemons), so the BMC's is a no-op.
 */
export function hypervisorChassis(ns: string): (dir: string) => string {
  return (d) =>
    chassisProgram(
      d,
      `power_get() { if ip netns pids '${ns}' | grep -q .; then echo 1; else echo 0; fi; }
power_on() { :; }
power_off() { for p in $(ip netns pids '${ns}'); do kill -9 "$p"; done; return 0; }
power_reset() { power_off; }`,
    );
}

/**
 * The config changes of the crash tests over examples/lab.yaml: only the two HA VMs, the
 * hypervisors reached with the lab's key and known_hosts, HA timings for a test, Ganglia from
 * the collector, and (fence) an out-of-band power-off for each hypervisor: through its BMC
 * (`bmcs`: ipmi_sim, hypervisorChassis) where it has one, else a fence command. Either way the
 * machine's kernel killing every process of the host's namespaces stands in for the power cut,
 * and the read-back is "no process left in it".
 */
export function haConfig(workDir: string, prefix: string, c: { enabled: boolean; fence: boolean }, vms: readonly string[] = HA_VMS, extra: HaLabExtra = {}, bmcs: Readonly<Record<string, LabBmc>> = {}): Obj {
  const key = join(workDir, 'id_ed25519');
  const hypervisors = HYPERVISORS.map((h) => ({
    name: h.name,
    address: h.addr.split('/')[0],
    driver: 'libvirt',
    ssh: { user: 'root', key, knownHosts: join(workDir, 'known_hosts') },
    // The lab's disks use cache=unsafe (speed under TCG), which libvirt migrates only when told.
    migrateFlags: ['--unsafe'],
    // Every lab host shares this machine's kernel, so Ganglia's load is the machine's: no limit.
    loadThreshold: 1000,
    capacity: { cpus: 4, memoryMb: 4096, vms: 4 },
    ...(c.fence && bmcs[h.name]
      ? { bmc: { driver: 'ipmi', address: bmcs[h.name]!.address, user: SIM_USER, passwordFile: bmcs[h.name]!.passwordFile, cipherSuite: 3 } }
      : c.fence
      ? {
          fence: {
            off: 'for p in $(ip netns pids {{ns}}); do kill -9 $p; done; sleep 1',
            status: 'if ip netns pids {{ns}} | grep -q .; then echo on; else echo off; fi',
            vars: { ns: `${prefix}-${h.name}` },
            timeout: '20s',
          },
        }
      : {}),
  }));
  return deepMerge({
    hypervisors,
    // The two VMs of examples/lab.yaml the crash tests use; vm15 must never be reinstalled.
    hosts: [...((labConfig(workDir).hosts as Obj[]) ?? []).filter((h) => (vms as readonly unknown[]).includes(h.name)).map((h) => (h.name === 'vm15' ? { ...h, reinstall: false } : h)), ...(extra.hosts ?? [])],
    ha: {
      enabled: c.enabled,
      ...HA_TIMINGS,
      probe: { port: 22, timeout: '2s' },
      // No known_hosts file: 3rc checks the VMs' host keys against those their installs reported (its store).
      guestSsh: { user: 'root', key },
      ganglia: { host: '127.0.0.1', port: 8649 },
      // Many crash scenarios hit the same VM within an hour: the budget must not end the test.
      budget: { recoveries: 100, window: '1h' },
    },
  }, extra.config ?? {});
}
