/**
 * A P2V world for tests: the lab example's config plus a physical host phys16, real inventory,
 * boot table, catalog, install lifecycle and chunked images in a temporary directory, with a
 * fake libvirt driver, HA view and power runner that record their calls. A 2.5 MiB disk and its
 * gzip chunks to upload.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { parse, stringify } from 'yaml';
import { configCluster } from '../cli/commands/plan.js';
import { parseConfig } from '../config/load.js';
import type { VmSpec } from '../ha/controller.js';
import { inactiveHa, type HaView } from '../ha/view.js';
import { BootTable } from '../inventory/boot-table.js';
import { HostCatalog } from '../inventory/catalog.js';
import { InstallLifecycle } from '../inventory/install.js';
import { Inventory } from '../inventory/inventory.js';
import { FakeClock } from '../lib/clock.js';
import { silentLogger, type Logger } from '../lib/log.js';
import { packageRoot } from '../lib/paths.js';
import { MemoryStore } from '../store/memory.js';
import { P2vService, type P2vDriver } from './service.js';

export const MAC = '52:54:00:77:00:16';
export const MIB = 1024 * 1024;
const dirs: string[] = [];
/** Removes every directory the worlds made. */
export function cleanWorlds(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/**
 * `ip`: phys16's address (default 10.77.0.16); one on 127.0.0.0/24 lets a test call the capture
 * routes from the host's own address. `log`: the service's logger (default silent). `edit`
 * changes the config before it is parsed; `cluster`: the HA view has the config's cluster.
 */
export async function world(opts: { power?: boolean; store?: MemoryStore; storage?: string; ip?: string; log?: Logger; edit?: (raw: Record<string, unknown>) => void; cluster?: boolean } = {}) {
  const storage = opts.storage ?? mkdtempSync(join(tmpdir(), '3rc-p2v-svc-'));
  dirs.push(storage);
  const raw = parse(readFileSync(join(packageRoot(), 'examples', 'lab.yaml'), 'utf8')) as Record<string, unknown>;
  const ip = opts.ip ?? '10.77.0.16';
  if (ip.startsWith('127.')) {
    const network = raw.network as { subnets: unknown[] };
    network.subnets = [...network.subnets, { cidr: '127.0.0.0/24' }];
  }
  raw.hosts = [...(raw.hosts as unknown[]), { name: 'phys16', mac: MAC, ip, profile: 'debian12-image', role: 'services', ...(opts.power ? { power: { cycle: 'cycle {{host}} {{ip}}', off: 'off {{host}}', timeout: '5s' } } : {}) }];
  raw.p2v = { storage, domainType: 'qemu', chunkMb: 1 };
  raw.store = { path: join(storage, 'x.db') };
  opts.edit?.(raw);
  const config = parseConfig(stringify(raw), join(packageRoot(), 'examples', 'lab.yaml'));
  const store = opts.store ?? new MemoryStore();
  const clock = new FakeClock();
  const inventory = Inventory.fromConfig(config);
  const catalog = new HostCatalog({ config, store, inventory, clock, log: silentLogger });
  await catalog.load();
  const bootTable = await BootTable.load({ store, inventory, clock });
  const install = new InstallLifecycle({ bootTable, inventory, store, clock, log: silentLogger, timeoutMs: 3600_000, expires: (e) => e.profile !== config.p2v.profile });
  const calls: string[] = [];
  const driver: P2vDriver = {
    reachable: async (h) => h === 'hv1' || h === 'hv2',
    define: async (h, xml) => void calls.push(`define ${h} ${/<mac address='([^']+)'/.exec(xml)?.[1]} ${/<vcpu>(\d+)/.exec(xml)?.[1]} ${/<memory unit='MiB'>(\d+)/.exec(xml)?.[1]}`),
    start: async (h, vm) => void calls.push(`start ${h} ${vm}`),
  };
  const adopted: VmSpec[] = [];
  // cluster: the HA view answers with the config's cluster (as `3rc plan` sees it), for P2V placement.
  const ha: HaView = { ...inactiveHa('x'), active: true, reason: null, adopt: (s) => (adopted.push(s), true), ...(opts.cluster ? { cluster: () => configCluster(config) } : {}) };
  const svc = await P2vService.load({
    config, inventory, catalog, bootTable, install, store, clock, log: opts.log ?? silentLogger, driver, ha: () => ha, poweroffGraceMs: 1000, probe: async () => true,
    runPower: async (cmd) => (calls.push(`power ${cmd}`), { code: 0, out: '' }),
  });
  const token = () => bootTable.get(MAC)?.token ?? undefined;
  return { svc, store, clock, bootTable, inventory, calls, adopted, storage, token, install };
}

/** A 2.5 MiB disk: random, zeros and random again, sent in 1 MiB gzip chunks. */
export const disk = Buffer.concat([randomBytes(MIB), Buffer.alloc(MIB), randomBytes(MIB / 2)]);
export const report = `cpus 2\nmemory_kb 1014236\nfirmware bios\nnic ens3 ${MAC}\ndisk vda ${disk.length}\n`;
export const chunk = (i: number) => {
  const gz = gzipSync(disk.subarray(i * MIB, (i + 1) * MIB), { level: 1 });
  return { body: Readable.from([gz]), sha: createHash('sha256').update(gz).digest('hex') };
};
