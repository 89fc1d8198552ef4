/**
 * The HTTP application, without a socket: createApp(deps) returns an express app that tests drive
 * directly and that server.ts listens with. Issue by issue it grows kickstarts, iPXE scripts,
 * boot files and callbacks; the REST API lives under /api/v1.
 */
import { join } from 'node:path';
import express, { type Express } from 'express';
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
import type { TemplateEngine } from '../render/engine.js';
import type { HostKeySink } from '../hypervisor/learned-keys.js';
import { apiRouter } from './api.js';
import type { ClusterRole } from '../cluster/cluster.js';
import { bootFiles } from './boot-files.js';
import { apiError, errorHandler } from './errors.js';
import { installRouter } from './install-routes.js';
import { p2vRouter } from './p2v-routes.js';
import type { P2vService } from '../p2v/service.js';
import { webRouter, type WebDeps } from '../web/routes.js'; // web dashboard (issue 12)

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
  engine: TemplateEngine;
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
  /** Physical-to-virtual migration (`3rc p2v`); absent: the API answers 409. */
  p2v?: P2vService | undefined;
  /** Web dashboard (issue 12): its live feed and HA budget; without it the page still loads, without live updates. */
  web?: WebDeps;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use((req, res, next) => {
    req.log = deps.log;
    const end = deps.metrics.httpDuration.startTimer();
    res.on('finish', () => {
      // Label by the matched route, not the raw path, to keep the label set small.
      const route = (req.route?.path as string | undefined) ? `${req.baseUrl}${req.route.path as string}` : 'unmatched';
      deps.metrics.httpRequests.inc({ route, status: String(res.statusCode) });
      end({ route });
    });
    next();
  });
  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  app.use('/api/v1', express.json({ limit: '256kb' }), apiRouter(deps));
  // Fetches by known hosts go into their boot trace (kind http.file: bytes, time).
  const fileTrace = { trace: deps.trace, clock: deps.clock, hostByIp: (ip: string) => deps.inventory.hostByIp(ip) };
  app.use('/boot/files', bootFiles(deps.config.paths.boot, fileTrace));
  // The post-install role step and the roles it runs (kickstarts/post-install, kickstarts/roles).
  app.use('/files/post-install', bootFiles(join(deps.config.paths.kickstarts, 'post-install'), fileTrace));
  app.use('/files/roles', bootFiles(join(deps.config.paths.kickstarts, 'roles'), fileTrace));
  app.use(installRouter(deps));
  if (deps.p2v) app.use(p2vRouter({ ...deps, p2v: deps.p2v }));
  // Web dashboard (issue 12): / and /assets, GET /api/v1/overview, /api/v1/timeline/NAME, /api/v1/stream.
  app.use(webRouter(deps));
  app.use((req, res) => apiError(res, 404, 'E_NOT_FOUND', `no route for ${req.method} ${req.path}`));
  app.use(errorHandler);
  return app;
}
