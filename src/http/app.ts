/**
 * The HTTP application, without a socket: createApp(deps) returns an express app that tests drive
 * directly and that server.ts listens with. It only composes the routers: kickstarts, iPXE
 * scripts, boot files and callbacks; the REST API under /api/v1; the web dashboard.
 */
import { join } from 'node:path';
import express, { type Express } from 'express';
import { apiRouter } from './api.js';
import { bootFiles } from './boot-files.js';
import type { AppDeps } from './deps.js';
import { apiError, errorHandler } from './errors.js';
import { installRouter } from './install-routes.js';
import { nocloudRouter } from './nocloud-routes.js';
import { p2vRouter } from './p2v-routes.js';
import { webRouter } from './web-routes.js';

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
  app.use('/boot/files', bootFiles(deps.config.paths.boot, fileTrace, deps.bootConfigs));
  // The post-install role step and the roles it runs (kickstarts/post-install, kickstarts/roles).
  app.use('/files/post-install', bootFiles(join(deps.config.paths.kickstarts, 'post-install'), fileTrace));
  app.use('/files/roles', bootFiles(join(deps.config.paths.kickstarts, 'roles'), fileTrace));
  app.use(installRouter(deps));
  app.use(nocloudRouter(deps));
  if (deps.p2v) app.use(p2vRouter({ ...deps, p2v: deps.p2v }));
  // Web dashboard: / and /assets, GET /api/v1/overview, /api/v1/timeline/NAME, /api/v1/stream.
  app.use(webRouter(deps));
  app.use((req, res) => apiError(res, 404, 'E_NOT_FOUND', `no route for ${req.method} ${req.path}`));
  app.use(errorHandler);
  return app;
}
