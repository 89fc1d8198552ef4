/**
 * Composition root: config -> store -> inventory, boot table, leases -> servers. The only module
 * that builds concrete adapters. `startServer` returns a handle whose stop() closes every socket
 * and then the store.
 */
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import type { Config } from './config/load.js';
import { loadConfigApart } from './config/load-apart.js';
import { applyReload, planReload, type ReloadPlan } from './config/reload.js';
import { ensureApiToken } from './config/api-token.js';
import { createDhcpServer, type DhcpServer } from './dhcp/server.js';
import { LeaseTable } from './dhcp/lease-table.js';
import { Dhcp6Server } from './dhcp6/server.js';
import { createDnsServer } from './dns/server.js';
import { createApp } from './http/app.js';
import { HttpServer } from './http/server.js';
import { BootTable } from './inventory/boot-table.js';
import { Inventory } from './inventory/inventory.js';
import { systemClock, type Clock } from './lib/clock.js';
import type { Logger } from './lib/log.js';
import { memoryMb } from './lib/memory.js';
import { listen6Of } from './lib/net.js';
import { packageVersion } from './lib/paths.js';
import type { Service } from './lib/service.js';
import { SqliteStore } from './store/sqlite.js';
import { SqliteThreadStore } from './store/sqlite-thread.js';
import type { Store } from './store/store.js';
import { createTftpServer } from './tftp/server.js';
import { createRaServer } from './ra/server.js';
import { bootSources } from './boot/booter.js';
import { LoaderWatch } from './boot/loader-watch.js';
import { ReloadableFiles } from './boot/virtual.js';
import { bootConfigFiles, tftpConfigFiles } from './render/boot-configs.js';
import { hostRenderer } from './render/served.js';
import { HostCatalog, syncBootEntries } from './inventory/catalog.js';
import { InstallLifecycle } from './inventory/install.js';
import { countingTrace, LimitedTrace } from './inventory/trace.js';
import { EventRetention, standingKinds } from './store/retention.js';
import { createMetrics, registerDnsStats, registerGuardStats, registerStuckBoots } from './lib/metrics.js';
import { processGuard } from './lib/guard.js';
import { secureStateDir } from './lib/state-dir.js';
import { TemplateEngine } from './render/engine.js';
import { HaController } from './ha/controller.js';
import { controllerSettings, hostSpecs } from './ha/from-config.js';
import { LiveMonitor } from './ha/live-monitor.js';
import { ByHostDriver } from './hypervisor/by-host.js';
import { SshGuestAccess } from './hypervisor/guest.js';
import { CommandDriver } from './hypervisor/command.js';
import { buildFencer } from './hypervisor/fence.js';
import { BmcRegistry } from './bmc/registry.js';
import { LibvirtDriver } from './hypervisor/libvirt.js';
import { SshPool } from './hypervisor/ssh.js';
import { scalarVars } from './lib/command-template.js';
import { learnedKeysOf, storeHostKeySink } from './hypervisor/learned-keys.js'; // learned host keys
import { fetchGanglia } from './monitor/ganglia-fetch.js';
import { probeAll } from './monitor/probe.js';
import { bootEvidence, PxeEvidence, type TraceSink } from './ha/evidence.js';
import { vmSpecs } from './ha/from-config.js';
import { registerAdmission } from './ha/admission-metrics.js';
import { activeHa, inactiveHa, type HaView } from './ha/view.js';
import { HypervisorOps } from './ha/hv-ops.js';
import type { BootTrace } from './inventory/trace.js';
import { LiveFeed } from './http/live-feed.js';
import { P2vService } from './p2v/service.js';
import { Cluster } from './cluster/cluster.js';
import { etcdStoreId, openEtcdStore } from './cluster/open.js';
import { EtcdStore } from './store/etcd.js';

/**
 * The HA controller, when it can run in this process; else the reason, shown by the API and
 * `3rc status`. It drives each hypervisor through its configured driver (libvirt: virsh over SSH;
 * command: command templates over SSH); the simulator's `sim` driver runs only in `3rc simulate`.
 */
async function buildHa(
  config: Config,
  deps: { store: Store; inventory: Inventory; bootTable: BootTable; clock: Clock; log: Logger; evidence: PxeEvidence; bmcs: BmcRegistry; live?: LiveFeed },
): Promise<{ view: HaView; controller?: Service }> {
  if (!config.ha.enabled) return { view: inactiveHa('ha.enabled is false in the config') };
  const vms = vmSpecs(deps.inventory.hosts());
  // With hypervisors but no VM yet, the controller still runs: `3rc p2v` hands it its first VMs.
  if (vms.length === 0 && config.hypervisors.length === 0) return { view: inactiveHa('no hypervisor and no VM in the inventory') };
  const sim = config.hypervisors.find((h) => h.driver === 'sim');
  if (sim) return { view: inactiveHa(`hypervisor ${sim.name} uses driver "sim", which runs only in 3rc simulate`) };
  const log = deps.log.child({ server: 'ha' });
  const ssh = new SshPool({ log });
  // A hypervisor 3rc installs (a MAC) is reached with the host keys its latest install reported, as VMs are.
  const learn = config.ha.guestSsh?.learnHostKeys === true;
  const withKeys = <H extends { name: string; mac?: string | undefined }>(h: H) => (learn && h.mac ? { ...h, learnedKeys: learnedKeysOf(deps.store, h.name) } : h);
  const libvirt = new LibvirtDriver({ ssh, hypervisors: config.hypervisors.filter((h) => h.driver === 'libvirt').map(withKeys), log });
  const command = new CommandDriver({
    ssh,
    log,
    hypervisors: config.hypervisors.flatMap((h) => (h.driver === 'command' && h.command ? [withKeys({ ...h, command: h.command })] : [])),
    // A VM's scalar vars (e.g. vmid) are placeholders in its hypervisor's command templates.
    vars: (vm) => scalarVars(deps.inventory.hostByName(vm)?.vars),
  });
  const driver = new ByHostDriver(new Map(config.hypervisors.map((h) => [h.name, h.driver === 'command' ? command : libvirt])));
  const g = config.ha.guestSsh;
  const guest = new SshGuestAccess(
    ssh,
    (vm) => {
      const h = deps.inventory.hostByName(vm);
      // Host keys: those learned from the VM's installs (the store), else the operator's file.
      return g && h ? { name: h.name, address: h.ip, port: g.port, user: g.user, keyFile: g.key, knownHostsFile: g.knownHosts, learnedKeys: g.learnHostKeys ? learnedKeysOf(deps.store, h.name) : undefined } : undefined;
    },
    { command: g?.command },
  );
  const probePort = config.ha.probe.port;
  const ganglia = config.ha.ganglia;
  const monitor = new LiveMonitor({
    clock: deps.clock,
    driver,
    evidence: deps.evidence,
    probeAll: (targets) => probeAll(targets, { timeoutMs: config.ha.probe.timeout, concurrency: 256 }),
    // A gmond that trickles its XML byte by byte must not hold the pass: at most half an interval.
    ganglia: ganglia ? () => fetchGanglia(ganglia.host, ganglia.port, { timeoutMs: 5000, deadlineMs: Math.min(5000, config.ha.scanInterval / 2) }) : undefined,
    address: (name) => {
      const hv = deps.inventory.hypervisor(name);
      if (hv) return { host: hv.address, port: hv.ssh.port };
      const h = deps.inventory.hostByName(name);
      return h && { host: h.ip, port: probePort };
    },
  });
  const controller = await HaController.load({
    clock: deps.clock,
    store: deps.store,
    driver,
    guest,
    fencer: buildFencer(config.hypervisors, { log, clock: deps.clock, bmcOf: (name) => deps.bmcs.of(name) }),
    bootTable: deps.bootTable,
    monitor: deps.live ? deps.live.tapMonitor(monitor) : monitor, // the dashboard sees each pass's hypervisors
    vms,
    hosts: hostSpecs(config.hypervisors),
    ...controllerSettings(config.ha),
    log,
  });
  // An installer that reports failure reaches the machine at once, not after the install timeout.
  const unsubscribe = deps.evidence.onInstallFailed((vm) => {
    controller.installFailed(vm, 'the installer reported failure').catch((err: unknown) => log.error({ err, vm }, 'install-failed not applied'));
  });
  const timeouts = config.ha.reinstall.timeouts;
  const ops = new HypervisorOps({ controller, driver, bootTable: deps.bootTable, inventory: deps.inventory, bmc: (h) => deps.bmcs.of(h) ?? null, store: deps.store, clock: deps.clock, log, timeouts });
  const service: Service = {
    name: 'ha',
    start: async () => {
      await controller.start();
      await ops.restore(); // a roll cut by the last stop: shown where it stopped
    },
    stop: async () => {
      unsubscribe();
      await controller.stop();
      await ops.flushed();
      ssh.closeAll();
    },
    addresses: () => [],
  };
  return { view: activeHa(controller, ops), controller: service };
}

/** The install-expiry sweeper as a Service, so it stops with everything else. */
function installExpiryService(install: InstallLifecycle): Service {
  return { name: 'install-expiry', start: async () => install.start(), stop: async () => install.stop(), addresses: () => [] };
}

export interface Running {
  store: Store;
  inventory: Inventory;
  bootTable: BootTable;
  leases: LeaseTable;
  services: Service[];
  /**
   * Reads the config file again, validates it completely, and applies hosts, profiles and vars
   * in one step (config/reload.ts); throws a ConfigError naming the file and field, with nothing
   * applied, when the new file is not valid.
   */
  reload(): Promise<ReloadPlan>;
  /** Closes every listener, then the store. Idempotent. */
  stop(): Promise<void>;
}

/** Stable id of the store a process serves; the CLI checks it before changing anything. */
export function instanceId(config: Pick<Config, 'store'>): string {
  const id = config.store.kind === 'etcd' ? etcdStoreId(config) : `${config.store.kind}:${config.store.path}`;
  return createHash('sha256').update(id).digest('hex').slice(0, 16);
}

/**
 * The store of a serving 3rc: SQLite on a worker thread (its fsyncs never stall the protocol
 * servers), or etcd. If the SQLite thread dies, 3rc exits: it must not answer without its store.
 */
async function openServingStore(config: Config, log: Logger): Promise<Store> {
  if (config.store.kind === 'etcd') return openStore(config, { exclusive: true });
  return SqliteThreadStore.open({
    path: config.store.path,
    sync: config.store.sync,
    exclusive: true,
    onDeath: (err) => {
      log.fatal({ err }, 'store: its worker thread died; 3rc stops');
      process.exit(1);
    },
  });
}

export function openStore(config: Config, opts: { exclusive: boolean }): Store {
  if (config.store.kind === 'etcd') return openEtcdStore(config, { serving: opts.exclusive });
  return SqliteStore.open({ path: config.store.path, sync: config.store.sync, exclusive: opts.exclusive });
}

/**
 * The DNS queries of a host being installed go into its boot trace (kind dns.query), so the lab and
 * operators can see that the installer resolved through 3rc. Only hosts in install mode: an
 * installed fleet's everyday lookups would flood the event log.
 */
function installQueryTrace(inventory: Inventory, bootTable: BootTable, trace: BootTrace, clock: Clock) {
  return (address: string, q: { name: string; type: number }, answer: string) => {
    const host = inventory.hostByIp(address);
    if (!host || bootTable.get(host.mac)?.mode !== 'install') return;
    trace.record({ at: clock.now(), kind: 'dns.query', mac: host.mac, host: host.name, reason: answer, data: { peer: address, name: q.name, type: q.type } });
  };
}

export async function startServer(config: Config, log: Logger, clock: Clock = systemClock): Promise<Running> {
  const startedAt = clock.now();
  // Where a large inventory's memory goes, phase by phase (log.level debug).
  const phase = (name: string) => log.isLevelEnabled('debug') && log.debug({ phase: name, ...memoryMb() }, 'start-up memory');
  phase('config loaded');
  // The store (install tokens), the API token and P2V images: nothing there for other users.
  secureStateDir(dirname(config.store.path), log, { public: [config.paths.boot] });
  // Web dashboard: the store, tapped so that every appended event reaches the live stream.
  const live = new LiveFeed(clock, log.child({ server: 'web' }));
  const store = live.tapStore(await openServingStore(config, log));
  phase('store opened');
  const services: Service[] = [];
  const stopAll = async () => {
    for (const s of [...services].reverse()) {
      try {
        await s.stop();
      } catch (err) {
        log.error({ err, server: s.name }, 'error while stopping');
      }
    }
    await store.close();
  };
  try {
    const token = ensureApiToken(config);
    if (token.created) log.info({ file: token.source }, 'created a new API token (every change over HTTP needs it)');
    else log.info({ source: token.source }, 'API token loaded');

    // ---- redundant 3rc (store.kind etcd, src/cluster): join the election before loading state;
    // leader-only services (install expiry, HA, DHCP, TFTP) start at each election win. ----
    const cluster = store instanceof EtcdStore ? await Cluster.join({ store, config, clock, log }) : null;
    if (cluster) services.push({ name: 'cluster', start: async () => undefined, stop: () => cluster.stop(), addresses: () => [] });
    const onLeader = async (name: string, build: () => Promise<Service | null>): Promise<void> => {
      if (cluster) return void services.push(cluster.leaderOnly(name, build));
      const svc = await build();
      if (svc) services.push(svc);
    };

    const inventory = Inventory.fromConfig(config);
    const catalog = new HostCatalog({ config, store, inventory, clock, log });
    await catalog.load();
    const bootTable = await BootTable.load({ store, inventory, clock });
    // A stall over 50 ms is logged with when it ended: the fuzz campaign lines them up with the
    // machine's own pauses (a VM whose host stops its CPUs), and an operator sees them too.
    const metrics = createMetrics({ onStall: (s) => log.warn(s, 'event loop stalled') });
    // Every server's dropped sources and handler failures (lib/guard.ts).
    registerGuardStats(metrics, processGuard);
    // Issue 19: the boot trace bounded (unknown MACs counted per minute, a write budget) and old events pruned.
    // Known: a host of the inventory, or a MAC holding a lease (pool clients; as many as the pools hold).
    let dhcpLeases: LeaseTable | undefined;
    let dhcp6Leases: LeaseTable | undefined;
    const limited = new LimitedTrace({ store, clock, log, isKnown: (mac) => inventory.hostByMac(mac) !== undefined || (dhcpLeases?.forMac(mac).length ?? 0) > 0 || (dhcp6Leases?.forMac(mac).length ?? 0) > 0, limits: config.events });
    services.push({ name: 'trace', start: async () => undefined, stop: () => limited.stop(), addresses: () => [] });
    await onLeader('event-retention', async () => new EventRetention({ store, clock, log, policy: config.events, standing: standingKinds(() => inventory.hypervisors().map((h) => h.name)) }));
    const counted = countingTrace(limited, {
      dhcp: (type, outcome) => metrics.dhcpPackets.inc({ type, outcome }),
      dhcp6: (type, outcome) => metrics.dhcp6Packets.inc({ type, outcome }),
      tftp: (outcome) => metrics.tftpTransfers.inc({ outcome }),
    });
    // The boot servers' evidence for the HA controller: a VM that PXE-boots again and again.
    const evidence = new PxeEvidence();
    const withEvidence = bootEvidence(counted as TraceSink, evidence, { ipOf: (vm) => inventory.hostByName(vm)?.ip, ip6Of: (vm) => inventory.hostByName(vm)?.ipv6 });
    // Hosts that fetched their loader and asked for nothing else (boot/loader-watch.ts).
    const loaders = new LoaderWatch(config.install.loaderQuiet, (host) => inventory.hostByName(host)?.ip);
    registerStuckBoots(metrics, () => loaders.stuck(clock.now()).length);
    // A follower (redundant 3rc) records nothing: only the leader writes the store.
    const trace: BootTrace = {
      record: (e) => {
        if (cluster && cluster.role !== 'leader') return;
        loaders.observe(e);
        withEvidence.record(e);
      },
    };
    // A P2V capture (a long upload) has its own limit, p2v.timeout, kept by the P2V job.
    const install = new InstallLifecycle({ bootTable, inventory, store, clock, log, timeoutMs: config.install.timeout, expires: (e) => e.profile !== config.p2v.profile });
    const engine = new TemplateEngine({ templates: config.paths.templates, kickstarts: config.paths.kickstarts });
    const leases = await LeaseTable.load(store);
    dhcpLeases = leases;
    phase('inventory, boot table and leases loaded');
    log.info({ hosts: inventory.hosts().length, profiles: inventory.profiles().length, hypervisors: inventory.hypervisors().length, bootEntries: bootTable.size, leases: leases.size, store: config.store.path }, 'state loaded');
    bootTable.on('change', ({ entry, reason }) => {
      metrics.bootTableChanges.inc({ mode: entry.mode, reason });
      log.info({ mac: entry.mac, host: inventory.hostByMac(entry.mac)?.name, mode: entry.mode, profile: entry.profile, reason }, 'boot table changed');
    });
    cluster?.attach({ bootTable, catalog });
    // Every BMC driver of the process (HA fencing, `3rc hv`, the API's power and boot calls).
    const bmcs = new BmcRegistry(config, { log: log.child({ server: 'bmc' }), clock });
    await onLeader('install-expiry', async () => installExpiryService(install));
    let haView: HaView = cluster ? cluster.haView(config.ha.budget.window) : inactiveHa('not loaded');
    registerAdmission(metrics, () => haView.admission?.() ?? null);
    await onLeader('ha', async () => {
      const ha = await buildHa(config, { store, inventory, bootTable, clock, log, evidence, bmcs, live });
      if (cluster) cluster.setLeaderHa(ha.view);
      else haView = ha.view;
      if (!ha.controller) log.warn({ reason: ha.view.reason }, 'HA controller not running');
      return ha.controller ?? null;
    });

    phase('HA loaded');
    const s = config.servers;
    // A new leader reads the leases afresh from the store (another instance handed them out).
    let dhcpServer: DhcpServer | undefined;
    if (s.dhcp.enabled) await onLeader('dhcp', async () => (dhcpServer = createDhcpServer({ config, inventory, bootTable, leases: cluster ? (dhcpLeases = await LeaseTable.load(store)) : leases, trace, clock, log })));
    // DHCPv6 (issue 23) when the config has network.ipv6; its leases are the store's IPv6 ones.
    let dhcp6Server: Dhcp6Server | undefined;
    if (s.dhcp6.enabled && config.network.ipv6) await onLeader('dhcp6', async () => (dhcp6Server = new Dhcp6Server({ config, inventory, bootTable, leases: (dhcp6Leases = await LeaseTable.load(store, 'ipv6')), trace, clock, log })));
    // IPv6 router advertisements (src/ra): by default "no IPv6 router here", so that iPXE stops waiting for one.
    if (s.ra.enabled) await onLeader('ra', async () => createRaServer({ config, clock, log }));
    // The loader configs TFTP and HTTP generate; a reload builds them again (profiles, templates).
    const tftpConfigs = new ReloadableFiles(() => tftpConfigFiles(bootSources(config, inventory, bootTable), config.paths.templates));
    const httpConfigs = new ReloadableFiles(() => bootConfigFiles(bootSources(config, inventory, bootTable), config.paths.templates, 'http'));
    if (s.tftp.enabled) await onLeader('tftp', async () => createTftpServer({ config, inventory, virtualFiles: tftpConfigs, trace, clock, log }));
    if (s.dns.enabled) {
      const dns = createDnsServer({ config, inventory, clock, log, onQuery: installQueryTrace(inventory, bootTable, trace, clock) });
      registerDnsStats(metrics, dns.stats);
      services.push(dns);
    }
    // ---- P2V (`3rc p2v`): single instance only (a redundant 3rc would need the capture on the leader) ----
    let p2v: P2vService | undefined;
    if (!cluster && s.http.enabled) {
      const p2vLog = log.child({ server: 'p2v' });
      const p2vSsh = new SshPool({ log: p2vLog });
      const driver = new LibvirtDriver({ ssh: p2vSsh, hypervisors: config.hypervisors.filter((h) => h.driver === 'libvirt'), log: p2vLog });
      const svc = await P2vService.load({ config, inventory, catalog, bootTable, install, store, clock, log: p2vLog, driver, ha: () => haView, probePort: config.ha.probe.port });
      p2v = svc;
      services.push({ name: 'p2v', start: async () => undefined, stop: async () => { await svc.idle(); svc.stop(); p2vSsh.closeAll(); }, addresses: () => [] });
    }
    if (s.http.enabled) {
      // ---- learned host keys: keys reported with install-done go into the store ----
      const gs = config.ha.guestSsh;
      const hostKeys = gs?.learnHostKeys ? storeHostKeySink(store, clock) : undefined;
      const app = createApp({
        hostKeys, // learned host keys
        p2v,
        // `3rc boot HOST --install` and POST /hosts/NAME/power: the config file's BMC, its shared driver.
        bmc: (name: string) => bmcs.of(name),
        loaders,
        bootConfigs: httpConfigs,
        reload: () => reload(),
        config, render: hostRenderer({ config, inventory, engine, bootTable }), trace, metrics, install, catalog, ha: haView,
        cluster: cluster ? () => cluster.status() : undefined,
        inventory, bootTable, store, clock, startedAt,
        log: log.child({ server: 'http' }),
        apiToken: token.token,
        web: { live, budget: config.ha.budget, maxSseClients: s.http.maxSseClients },
        version: packageVersion(),
        instance: instanceId(config),
        servers: () => Object.fromEntries(services.filter((x) => x.addresses().length > 0).map((x) => [x.name, x.addresses()])),
      });
      services.push(new HttpServer(s.http, app, listen6Of(s.http, config.network)));
    }
    phase('servers built');
    // ---- config reload (SIGHUP, 3rc reload, POST /api/v1/reload): one at a time ----
    let reloading: Promise<unknown> = Promise.resolve();
    const reloadOnce = async (): Promise<ReloadPlan> => {
      const next = await loadConfigApart(config.source);
      const plan = planReload(config, next);
      // The HA controller watches the VMs it was started with.
      if (JSON.stringify(vmSpecs(config.hosts)) !== JSON.stringify(vmSpecs(next.hosts))) plan.needsRestart.push("hosts (the HA controller's VMs: which hosts run on which hypervisor, their priority and size)");
      const before = new Map(inventory.hosts().map((h) => [h.name, h]));
      // Everything that can fail (the file, the stored overrides) is read before anything is
      // switched: a reload either applies the new config or leaves the running one as it was.
      const hosts = await catalog.hostsFor(next);
      applyReload(config, next);
      inventory.replaceProfiles(next.profiles);
      inventory.replaceHosts(hosts);
      const after = new Map(hosts.map((h) => [h.name, h]));
      // Boot entries: a new host gets one (its `boot`), a removed one loses it, a new MAC moves it;
      // a host still without one (a store write of an earlier reload failed) gets it now. In a
      // redundant 3rc they are the shared store's: only the leader writes them (its own reload).
      const writesBootEntries = !cluster || cluster.role === 'leader';
      if (!writesBootEntries) log.info({ config: config.source }, 'config reload on a follower: boot entries of added or removed hosts are left to the leader (its reload writes them)');
      for (const name of writesBootEntries ? new Set([...before.keys(), ...after.keys()]) : []) {
        const b = before.get(name);
        const a = after.get(name);
        if (!b || !a || b.mac !== a.mac || (a.mac && !bootTable.get(a.mac))) await syncBootEntries(bootTable, b, a);
      }
      dhcpServer?.refresh();
      dhcp6Server?.refresh();
      tftpConfigs.reload();
      httpConfigs.reload();
      for (const w of next.warnings) log.warn(w);
      log.info({ config: config.source, applied: plan.applied, needsRestart: plan.needsRestart, hosts: plan.hosts, profiles: plan.profiles }, plan.needsRestart.length ? 'config reloaded; some changes need a restart and were not applied' : 'config reloaded');
      return plan;
    };
    const reload = (): Promise<ReloadPlan> => {
      const next = reloading.then(reloadOnce, reloadOnce);
      reloading = next;
      return next;
    };

    for (const svc of services) await svc.start();
    await cluster?.ready();
    phase('servers started');
    let stopping: Promise<void> | undefined;
    return { store, inventory, bootTable, leases, services, reload, stop: () => (stopping ??= stopAll()) };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
