import { loadConfigApart } from '../../config/load-apart.js';
import { createLogger } from '../../lib/log.js';
import { neighbourTableWarning, readNeighbourLimit } from '../../lib/neighbour-limit.js';
import { missingServeEnv, missingServeFlags } from '../../lib/node-flags.js';
import { SdNotify } from '../../lib/sd-notify.js';
import { startServer } from '../../main.js';
import { EXIT_OK, type Io } from '../io.js';

export const help = `Usage: 3rc serve [--config FILE]

Runs 3rc: loads the config and the store, then serves the enabled protocols (DHCP, TFTP, DNS,
HTTP) until SIGTERM or SIGINT, which close every socket and the store. SIGHUP reads the config
again (see 3rc reload --help). Logs JSON lines (pino) to standard output. Started by systemd
with $NOTIFY_SOCKET (Type=notify), it reports READY=1 and feeds WatchdogSec (systemd-notify).`;

export async function run(configFile: string, _io: Io): Promise<number> {
  // A large inventory is parsed in a child process, so this one never holds the parse's peak.
  const config = await loadConfigApart(configFile);
  const log = createLogger(config.log.level, undefined, { maxLinesPerSecond: config.log.maxLinesPerSecond });
  for (const w of config.warnings) log.warn(w);
  const missing = [...missingServeFlags(process.execArgv, process.env.NODE_OPTIONS), ...missingServeEnv(process.env)];
  if (missing.length > 0) log.warn({ missing }, 'node started without the flags or environment 3rc serves with (bin/3rc.js passes them): its memory peak under load is higher');
  const neighbours = neighbourTableWarning(config.hosts.length, readNeighbourLimit());
  if (neighbours) log.warn(neighbours);
  const running = await startServer(config, log);
  log.info({ pid: process.pid, config: config.source, listening: Object.fromEntries(running.services.filter((s) => s.addresses().length > 0).map((s) => [s.name, s.addresses()])) }, '3rc ready');
  // Under systemd (Type=notify, WatchdogSec): READY=1 now, then watchdog pings from an unref'd timer.
  const systemd = new SdNotify(log);
  systemd.ready().catch((err: unknown) => log.warn({ err }, 'systemd notification failed'));
  await new Promise<void>((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) {
        log.warn({ signal }, 'second signal: exiting at once');
        process.exit(1);
      }
      signalled = true;
      log.info({ signal }, 'stopping');
      systemd.stopping().catch((err: unknown) => log.warn({ err }, 'systemd notification failed'));
      running.stop().then(resolve, (err) => {
        log.error({ err }, 'error while stopping');
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // SIGHUP: read the config again (main.ts Running.reload); an invalid file changes nothing.
    process.on('SIGHUP', () => {
      if (signalled) return;
      log.info({ config: config.source }, 'SIGHUP: reloading the config');
      running.reload().catch((err: unknown) => {
        const problems = (err as { problems?: unknown }).problems;
        log.error({ err, problems }, problems ? 'config reload refused: the file is not valid; nothing was changed' : 'config reload failed');
      });
    });
  });
  log.info('3rc stopped');
  return EXIT_OK;
}
