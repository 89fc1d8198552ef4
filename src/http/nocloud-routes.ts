/**
 * cloud-init's NoCloud datasource over HTTP: GET /ci/<mac>/{meta-data,user-data,vendor-data,
 * network-config} (render/nocloud.ts), the seed a host finds on its kernel command line
 * (`ds=nocloud;s=http://<3rc>/ci/<mac>/`).
 *
 * Served exactly like the kickstart (install-routes.ts installDataRefusal): only to the host's own
 * reserved address, only while it installs; a finished install (install-done, install-failed,
 * expiry) closes them as it closes /ks. cloud-init appends the file names to its seed URL, so no
 * token rides along: the source address is the check (and a token, when one is given anyway, must
 * be the current one). To anybody else the answer is the 404 of a file that does not exist, with
 * no detail (a NoCloud client probing seeds reads 404 as "no seed here"); 3rc's trace records why.
 */
import { Router, type Request, type Response } from 'express';
import type { Host } from '../inventory/inventory.js';
import { NotFoundError } from '../lib/errors.js';
import { normalizeMac } from '../lib/net.js';
import { isNoCloudFile } from '../render/nocloud.js';
import type { AppDeps } from './deps.js';
import { clientIp, familyOf, installDataRefusal } from './install-routes.js';

export function nocloudRouter(deps: Pick<AppDeps, 'inventory' | 'bootTable' | 'render' | 'metrics' | 'trace' | 'clock'>): Router {
  const r = Router();
  const notFound = (res: Response) => res.status(404).type('text/plain; charset=utf-8').send('file not found\n');

  r.get('/ci/:mac/:file', (req: Request, res: Response) => {
    const file = String(req.params.file);
    const mac = normalizeMac(String(req.params.mac));
    const host: Host | undefined = mac ? deps.inventory.hostByMac(mac) : undefined;
    const trace = (reason: string | null, data: Record<string, unknown>) =>
      deps.trace.record({ at: deps.clock.now(), kind: 'http.kickstart', mac, host: host?.name ?? null, reason, data: { peer: clientIp(req), nocloud: file, ...data } });
    if (!mac || !host || !isNoCloudFile(file)) {
      trace(!mac ? 'bad-mac' : !host ? 'unknown-mac' : 'unknown-file', { status: 404 });
      return notFound(res);
    }
    const entry = deps.bootTable.get(mac);
    const refused = installDataRefusal(req, host, entry);
    if (refused) {
      if (refused !== 'not-installing') req.log?.warn({ mac, host: host.name, peer: clientIp(req), reason: refused, file }, 'http: NoCloud data refused');
      trace(refused, { status: 404 });
      deps.metrics.renders.inc({ kind: 'nocloud', result: 'refused' });
      return notFound(res);
    }
    let out;
    try {
      out = deps.render.nocloud(host, entry, file, familyOf(req));
    } catch (err) {
      // A profile with no user-data: for cloud-init, no seed. A template error goes to the error handler.
      if (!(err instanceof NotFoundError)) throw err;
      trace('no-user-data', { status: 404 });
      return notFound(res);
    }
    deps.metrics.renders.inc({ kind: 'nocloud', result: 'ok' });
    trace(null, { status: 200, profile: out.profile, bytes: Buffer.byteLength(out.text) });
    res.type('text/plain; charset=utf-8').send(out.text);
  });
  return r;
}
