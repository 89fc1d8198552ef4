/**
 * What the HTTP application is built from: every route module takes (a part of) these, so they
 * import this module rather than the app that composes them.
 */
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import type { BootTable } from '../inventory/boot-table.js';
import type { Inventory } from '../inventory/inventory.js';
import type { Store } from '../store/store.js';
import type { Config } from '../config/load.js';
import type { HostCatalog } from '../inventory/catalog.js';
import type { HaView } from '../ha/view.js';
import type { InstallLifecycle } from '../inventory/install.js';
import type { BootTrace } from '../inventory/trace.js';
import type { Metrics } from '../lib/metrics.js';
import type { HostRenderer } from '../boot/served.js';
import type { HostKeySink } from '../hypervisor/learned-keys.js';
import type { ClusterRole } from '../cluster/cluster.js';
import type { P2vService } from '../p2v/service.js';
import type { LiveFeed } from './live-feed.js';
import type { VirtualFiles } from '../boot/virtual.js';
import type { LoaderWatch } from '../boot/loader-watch.js';
import type { ReloadPlan } from '../config/reload.js';
import type { BmcDriver } from '../bmc/driver.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      log?: Logger;
    }
  }
}

export interface AppDeps {
  config: Pick<Config, 'network' | 'servers' | 'vars' | 'paths'>;

  /** Kickstarts, iPXE scripts and previews (render/served.ts hostRenderer over the template engine). */
  render: HostRenderer;
  trace: BootTrace;
  metrics: Metrics;
  install: InstallLifecycle;
  catalog: HostCatalog;
  ha: HaView;
  inventory: Inventory;
  bootTable: BootTable;
  store: Store;
  clock: Clock;
  log: Logger;
  /** Bearer token for state-changing calls. */
  apiToken: string;
  version: string;
  /** Identifies the store this process serves, so the CLI never changes another instance. */
  instance: string;
  /** Enabled servers and where they listen, for /api/v1/health. */
  servers: () => Record<string, string[]>;
  startedAt: number;
  /** Redundant 3rc (store.kind etcd): this instance's role and the leader; absent for a single instance. */
  cluster?: (() => ClusterRole) | undefined;
  /** Where host keys reported with install-done go (ha.guestSsh.learnHostKeys); absent: reported, not recorded. */
  hostKeys?: HostKeySink | undefined;
  /** Reads the config file again and applies what a reload applies (main.ts Running.reload); absent: 409. */
  reload?: (() => Promise<ReloadPlan>) | undefined;
  /** Hosts stuck after their loader (boot/loader-watch.ts); absent: none is reported. */
  loaders?: LoaderWatch | undefined;
  /** Loader configs generated under /boot/files (render/boot-configs.ts, over HTTP); absent: files only. */
  bootConfigs?: VirtualFiles | undefined;
  /** The BMC driver of a host or hypervisor (bmc/machine.ts bmcTargetOf); absent or undefined: it has none (409). */
  bmc?: ((name: string) => BmcDriver | undefined) | undefined;
  /** Physical-to-virtual migration (`3rc p2v`); absent: the API answers 409. */
  p2v?: P2vService | undefined;
  /** Web dashboard: its live feed and HA budget; without it the page still loads, without live updates. */
  web?: WebDeps;
}

/** What the dashboard needs beyond the app's own dependencies. */
export interface WebDeps {
  live: LiveFeed;
  /** ha.budget of the config: recoveries allowed per window. */
  budget: { recoveries: number; window: number };
  /** SSE heartbeat interval; default 15 s. */
  heartbeatMs?: number;
  /** Live-stream (SSE) clients connected at once, at most (servers.http.maxSseClients); default 64. */
  maxSseClients?: number;
}
