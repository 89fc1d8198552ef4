/**
 * A running lab: the namespaces (topology.ts), 3rc serving a copy of examples/lab.yaml at
 * 10.77.0.1 inside them, qemu VMs on the lab bridge (qemu.ts), and a follower that prints every
 * boot-trace event as it happens (trace-view.ts). Used by `3rc lab` and by the lab tests.
 *
 * Everything lives in `workDir` (config, store, API token, serial logs, disks) and everything it
 * started is stopped by stop(), also after a failure half-way through start().
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { packageRoot } from '../lib/paths.js';
import type { StoreEvent } from '../store/store.js';
import { createDisk, createVars, isUefi, startVm, type Firmware, type VmProcess } from './qemu.js';
import { destroyLiveNetworks, LabNetwork, labBudget } from './topology.js';
import { SERVE_ENV, SERVE_NODE_FLAGS } from '../lib/node-flags.js';
import { formatEvent } from './trace-view.js';

type Obj = Record<string, unknown>;

export const LAB_SERVER_IP = '10.77.0.1';

export interface LabOptions {
  /** Namespace prefix (1-10 letters/digits); `3rclab` for `3rc lab`, unique per test run. */
  prefix: string;
  workDir: string;
  /** Deep-merged over examples/lab.yaml (lists replace lists). */
  configChanges?: Obj;
  /** Public key put into vars.sshKeys (so installed systems accept it). */
  sshPublicKey?: string;
  /** Where trace lines and progress go. Default: stdout. */
  log?: (line: string) => void;
}

export interface BootOptions {
  /** A host of the config (its MAC is used). */
  host: string;
  firmware?: Firmware;
  /** Attach a disk of this many GB (created blank on first use, kept in workDir). */
  diskGb?: number;
  boot?: 'network' | 'disk';
  memoryMb?: number;
  noReboot?: boolean;
  kernel?: { kernel: string; initrd: string; append: string };
  /**
   * Give qemu a monitor socket (monitorSocket(host)), so that the VM can be power-cycled or
   * powered off like a physical host (`echo system_reset | socat - UNIX-CONNECT:<path>`).
   */
  monitorSocket?: boolean;
}

/** Merges config changes over a base: objects key by key, anything else (lists too) replaced. */
export function deepMerge(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b) ? deepMerge(b as Obj, v as Obj) : v;
  }
  return out;
}

/** examples/lab.yaml adapted to run from workDir: absolute paths, own store and token file. */
export function labConfig(workDir: string, changes: Obj = {}, sshPublicKey?: string): Obj {
  const root = packageRoot();
  const base = parse(readFileSync(join(root, 'examples', 'lab.yaml'), 'utf8')) as Obj;
  const vars = { ...((base.vars as Obj | undefined) ?? {}) };
  if (sshPublicKey) vars.sshKeys = [sshPublicKey.trim()];
  const fixed: Obj = {
    vars,
    store: { path: join(workDir, 'lab.db'), sync: 'normal' },
    api: { tokenFile: join(workDir, 'api-token') },
    paths: { boot: join(root, 'boot'), kickstarts: join(root, 'kickstarts'), templates: join(root, 'templates') },
  };
  return deepMerge(deepMerge(base, fixed), changes);
}

function spawnServer(net: LabNetwork, configFile: string, apiToken: string): ChildProcess {
  return net.spawn(net.serverNs, process.execPath, [...SERVE_NODE_FLAGS, join(packageRoot(), 'bin', '3rc.js'), 'serve', '--config', configFile], {
    env: { ...process.env, ...SERVE_ENV, THREERC_API_TOKEN: apiToken },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Labs started and not stopped yet (stopAllLabs). */
const liveLabs = new Set<RunningLab>();

/**
 * Stops every lab of this process that is still up, also one whose start() has not returned yet:
 * the after hook of a test whose before hook timed out has no handle on its lab. Whatever still
 * waits on a stopped lab (waitEvent, HaLab's waits) fails at once instead of running on.
 */
export async function stopAllLabs(): Promise<void> {
  await Promise.all([...liveLabs].map((l) => l.stop()));
  destroyLiveNetworks();
}

export class RunningLab {
  readonly vms = new Map<string, VmProcess>();
  /** Every boot-trace event seen so far, in order. */
  readonly events: StoreEvent[] = [];
  readonly t0 = Date.now();
  private readonly lastId = new Map<string, number>();
  private readonly followed = new Set<string>();
  private poller: NodeJS.Timeout | undefined;
  private polling = false;
  /** stop() was called: waits on this lab fail instead of polling on. */
  stopped = false;
  serverLines: string[] = [];

  private constructor(
    readonly net: LabNetwork,
    readonly workDir: string,
    public config: Obj,
    readonly configFile: string,
    readonly apiToken: string,
    public server: ChildProcess,
    readonly log: (line: string) => void,
    private readonly sshPublicKey: string | undefined,
  ) {}

  static async start(opts: LabOptions): Promise<RunningLab> {
    const log = opts.log ?? ((l: string) => process.stdout.write(`${l}\n`));
    mkdirSync(opts.workDir, { recursive: true });
    const config = labConfig(opts.workDir, opts.configChanges, opts.sshPublicKey);
    const configFile = join(opts.workDir, 'config.yaml');
    writeFileSync(configFile, stringify(config));
    // The token is in the token file too, so the CLI run against this config finds it.
    const apiToken = randomBytes(18).toString('base64url');
    writeFileSync(join(opts.workDir, 'api-token'), `${apiToken}\n`, { mode: 0o600 });
    const net = LabNetwork.create(opts.prefix);
    try {
      // An IPv6 lab (network.ipv6): 3rc's eth0 holds serverIp as well (its /64 is the segment's).
      const v6 = (config.network as { ipv6?: { serverIp?: string } } | undefined)?.ipv6?.serverIp;
      if (v6) net.addServerAddress6(`${v6}/64`);
      const server = spawnServer(net, configFile, apiToken);
      const lab = new RunningLab(net, opts.workDir, config, configFile, apiToken, server, log, opts.sshPublicKey);
      liveLabs.add(lab);
      await lab.awaitServer();
      log(`lab: 3rc serving ${configFile} at ${LAB_SERVER_IP} in namespace ${net.serverNs}`);
      return lab;
    } catch (err) {
      for (const l of liveLabs) if (l.net === net) liveLabs.delete(l);
      await net.destroy();
      throw err;
    }
  }

  /** Throws when the lab was stopped (a wait loop must not outlive its lab). */
  alive(what: string): void {
    if (this.stopped) throw new Error(`the lab was stopped while waiting for ${what}`);
  }

  /**
   * Stops 3rc (SIGTERM: orderly; SIGKILL: a crash) and starts it again on the same store, with
   * the config rebuilt from examples/lab.yaml and `configChanges` (the old changes are dropped).
   */
  /** `whileDown` runs once the old process is gone, before the new one starts. */
  async restartServer(opts: { signal: 'SIGTERM' | 'SIGKILL'; configChanges?: Obj; whileDown?: () => void }): Promise<void> {
    const old = this.server;
    this.restarting = true; // no "3rc exited" or failed trace polls while it is down on purpose
    try {
      if (old.exitCode === null && old.signalCode === null) {
        const gone = new Promise((r) => old.once('exit', r));
        old.kill(opts.signal);
        await gone;
      }
      opts.whileDown?.();
      if (opts.configChanges) {
        this.config = labConfig(this.workDir, opts.configChanges, this.sshPublicKey);
        writeFileSync(this.configFile, stringify(this.config));
      }
      this.server = spawnServer(this.net, this.configFile, this.apiToken);
      await this.awaitServer();
    } finally {
      this.restarting = false;
    }
    this.log(`lab: 3rc restarted after ${opts.signal}`);
  }
  private restarting = false;

  private awaitServer(): Promise<void> {
    const server = this.server;
    let stderr = '';
    return new Promise((resolve, reject) => {
      const ms = labBudget(30_000);
      const timer = setTimeout(() => reject(new Error(`3rc did not get ready in ${ms / 1000} s: ${stderr}`)), ms);
      createInterface({ input: server.stdout!, crlfDelay: Infinity }).on('line', (line) => {
        this.serverLines.push(line);
        if (this.serverLines.length > 5000) this.serverLines.shift();
        if (line.includes('"msg":"3rc ready"')) {
          clearTimeout(timer);
          resolve();
        }
      });
      server.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
      server.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (!this.stopped && !this.restarting) this.log(`lab: 3rc exited (${code ?? signal}): ${stderr.trim()}`);
        reject(new Error(`3rc exited (${code ?? signal}) before it was ready: ${stderr.trim()}`));
      });
    });
  }

  /** Runs curl inside the server namespace (the lab's addresses exist only there). */
  curl(args: string[], timeoutMs = 30_000): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      execFile('ip', ['netns', 'exec', this.net.serverNs, 'curl', '-sS', '-m', String(Math.ceil(timeoutMs / 1000)), '-w', '\n%{http_code}', ...args], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        if (err) return reject(new Error(`curl ${args.join(' ')}: ${stderr || err.message}`));
        const i = stdout.lastIndexOf('\n');
        resolve({ status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) });
      });
    });
  }

  /** Calls 3rc's API with the lab's token (curl gives up after timeoutMs). */
  async api(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<{ status: number; body: unknown }> {
    const args = ['-X', method, '-H', `Authorization: Bearer ${this.apiToken}`];
    if (body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', JSON.stringify(body));
    const r = await this.curl([...args, `http://${LAB_SERVER_IP}/api/v1${path}`], timeoutMs);
    let parsed: unknown = r.body;
    try {
      parsed = JSON.parse(r.body);
    } catch {
      /* not JSON */
    }
    return { status: r.status, body: parsed };
  }

  host(name: string): { name: string; mac: string; ip: string } {
    const h = ((this.config.hosts as Obj[]) ?? []).find((x) => x.name === name);
    if (!h) throw new Error(`no host ${name} in the lab config`);
    return { name, mac: String(h.mac).toLowerCase(), ip: String(h.ip) };
  }

  /** Starts following a host's boot trace (printed through log, kept in events). */
  follow(host: string): void {
    this.followed.add(host);
    this.poller ??= setInterval(() => void this.poll(), 1000);
  }

  private async poll(): Promise<void> {
    if (this.polling || this.stopped) return;
    this.polling = true;
    try {
      for (const host of this.followed) {
        const after = this.lastId.get(host) ?? 0;
        const r = await this.api('GET', `/hosts/${host}/events?after=${after}&limit=10000`);
        if (r.status !== 200 || !Array.isArray(r.body)) continue;
        for (const e of r.body as StoreEvent[]) {
          this.lastId.set(host, e.id);
          this.events.push(e);
          this.log(formatEvent(e, this.t0));
        }
      }
    } catch (err) {
      if (!this.stopped && !this.restarting) this.log(`lab: trace poll failed: ${(err as Error).message}`);
    } finally {
      this.polling = false;
    }
  }

  /** Waits for a boot-trace event of `host` (seen after index `from` of events) matching pred. */
  async waitEvent(host: string, pred: (e: StoreEvent) => boolean, timeoutMs: number, what: string, from = 0): Promise<StoreEvent> {
    this.follow(host);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.slice(from).find((e) => e.host === host && pred(e));
      if (hit) return hit;
      this.alive(`${host}: ${what}`);
      if (Date.now() > deadline) throw new Error(`${host}: no ${what} within ${Math.round(timeoutMs / 1000)} s; serial console tail:\n${this.serialTail(host)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Waits until the VM's serial console matches re. */
  async waitSerial(host: string, re: RegExp, timeoutMs: number, what: string): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const vm = this.vms.get(host);
      const m = vm?.serial().match(re);
      if (m) return m;
      this.alive(`${host}: ${what}`);
      if (Date.now() > deadline) throw new Error(`${host}: no ${what} on the serial console within ${Math.round(timeoutMs / 1000)} s; tail:\n${this.serialTail(host)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  serialTail(host: string, lines = 25): string {
    return (this.vms.get(host)?.serial() ?? '(no VM)').split('\n').filter((l) => l.trim()).slice(-lines).join('\n');
  }

  /** Powers a VM on: qemu in the switch namespace with a tap on the lab bridge. */
  bootVm(opts: BootOptions): VmProcess {
    const h = this.host(opts.host);
    const running = this.vms.get(h.name)?.proc;
    if (running && running.exitCode === null && running.signalCode === null) throw new Error(`${h.name} is already running`);
    const firmware = opts.firmware ?? 'bios';
    const tap = this.net.addTap();
    let disk: string | undefined;
    if (opts.diskGb) {
      disk = join(this.workDir, `${h.name}.qcow2`);
      if (!existsSync(disk)) createDisk(disk, opts.diskGb);
    }
    // One variable store per VM and kind: OVMF keeps the boot options it made (PXE ones for uefi)
    // in it, and a uefi-http boot must not find them there.
    const varsFile = isUefi(firmware) ? join(this.workDir, `${h.name}.${firmware}.OVMF_VARS.fd`) : undefined;
    if (varsFile) createVars(varsFile, firmware);
    let monitorSocket: string | undefined;
    if (opts.monitorSocket) {
      monitorSocket = this.monitorSocket(h.name);
      rmSync(monitorSocket, { force: true });   // a stale socket from an earlier boot
    }
    const boots = this.vms.has(h.name) ? (this.bootCount.get(h.name) ?? 1) + 1 : 1;
    this.bootCount.set(h.name, boots);
    const vm = startVm(
      {
        name: h.name, mac: h.mac, tap, firmware, memoryMb: opts.memoryMb ?? 1024, boot: opts.boot ?? 'network',
        serialLog: join(this.workDir, `${h.name}.serial${boots > 1 ? `.${boots}` : ''}.log`),
        ...(disk ? { disk } : {}), ...(varsFile ? { varsFile } : {}), ...(opts.noReboot ? { noReboot: true } : {}), ...(opts.kernel ? { kernel: opts.kernel } : {}),
        ...(monitorSocket ? { monitorSocket } : {}),
      },
      (cmd, args) => this.net.spawn(this.net.switchNs, cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] }),
    );
    void vm.exited.then(() => this.net.removeTap(tap));
    this.vms.set(h.name, vm);
    this.follow(h.name);
    this.log(`lab: ${h.name} powered on (${firmware}, ${opts.boot ?? 'network'} first${disk ? `, disk ${disk}` : ''}), serial console in ${vm.spec.serialLog}`);
    return vm;
  }
  private readonly bootCount = new Map<string, number>();

  /** The monitor socket of a VM booted with `monitorSocket: true` (in workDir). */
  monitorSocket(host: string): string {
    return join(this.workDir, `${host}.monitor.sock`);
  }

  /** Powers a VM off (like pulling the plug) and waits for qemu to exit. */
  async powerOff(host: string): Promise<void> {
    const vm = this.vms.get(host);
    if (!vm) return;
    vm.kill('SIGKILL');
    await vm.exited;
  }

  /** Runs a command on an installed VM over SSH from the server namespace, checking its host key. */
  ssh(host: string, key: string, knownHosts: string, command: string, timeoutMs = 30_000): Promise<string> {
    const h = this.host(host);
    const args = ['netns', 'exec', this.net.serverNs, 'ssh', '-i', key, '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=5', `root@${h.ip}`, command];
    return new Promise((resolve, reject) => {
      execFile('ip', args, { timeout: timeoutMs }, (err, stdout, stderr) => (err ? reject(new Error(`ssh ${host} ${command}: ${stderr || err.message}`)) : resolve(stdout)));
    });
  }

  /** Seconds since the lab started, for phase timings. */
  elapsed(since = this.t0): number {
    return Math.round((Date.now() - since) / 100) / 10;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    liveLabs.delete(this);
    if (this.poller) clearInterval(this.poller);
    for (const vm of this.vms.values()) vm.kill('SIGKILL');
    await this.net.destroy();
  }
}
