/**
 * A small Redfish service for tests, written from DMTF's published schema (DSP0266, DSP8010) and
 * the shape of its public mockups: no Redfish service emulator is packaged for Debian or npm.
 * It serves, over HTTPS with a certificate from a CA that `openssl` makes at test time:
 *   /redfish/v1/                         ServiceRoot (no authentication, as the spec requires)
 *   /redfish/v1/Systems                  ComputerSystemCollection with one member
 *   /redfish/v1/Systems/1                ComputerSystem: PowerState, Boot (override target,
 *                                        enabled, @Redfish.AllowableValues), Status, Actions with
 *                                        #ComputerSystem.Reset {target, ResetType@Redfish.AllowableValues};
 *                                        PATCH of Boot
 *   /redfish/v1/Systems/1/LogServices[/SEL[/Entries]]   a system event log
 *   /redfish/v1/SessionService[/Sessions[/ID]]          sessions: POST creates (X-Auth-Token,
 *                                        Location), DELETE ends
 * Errors use the spec's error body ({"error": {code, message, @Message.ExtendedInfo: [...]}}),
 * with Base message registry ids. Power changes take `transitionMs` (PoweringOn/PoweringOff in
 * between), so a client must read back; a one-time boot override is consumed by the next power-on.
 */
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  caFile: string;
  ca: string;
  key: string;
  cert: string;
}

/** A throwaway CA and a server certificate for 127.0.0.1 signed by it (openssl, at test time). */
export function makeTestPki(name = 'bmc'): TestPki {
  const dir = mkdtempSync(join(tmpdir(), `3rc-redfish-${name}-`));
  const f = (n: string) => join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', `/CN=3rc test CA ${name}`);
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('ext'));
  return { dir, caFile: f('ca.pem'), ca: readFileSync(f('ca.pem'), 'utf8'), key: readFileSync(f('server.key'), 'utf8'), cert: readFileSync(f('server.pem'), 'utf8') };
}

type Json = Record<string, unknown>;
type RedfishPower = 'On' | 'Off' | 'PoweringOn' | 'PoweringOff';

const RESET_TYPES = ['On', 'ForceOff', 'GracefulShutdown', 'ForceRestart', 'GracefulRestart', 'PowerCycle', 'Nmi'];
const BOOT_TARGETS = ['None', 'Pxe', 'UefiHttp', 'Hdd', 'Cd', 'BiosSetup'];
const SYSTEM = '/redfish/v1/Systems/1';

/** The spec's error body with one extended message from the Base registry. */
function errorBody(id: string, message: string): Json {
  return {
    error: {
      code: 'Base.1.8.GeneralError',
      message: 'A general error has occurred. See ExtendedInfo for more information.',
      '@Message.ExtendedInfo': [{ '@odata.type': '#Message.v1_1_1.Message', MessageId: `Base.1.8.${id}`, Message: message, Severity: 'Critical', Resolution: 'See the message.' }],
    },
  };
}

export interface EmulatorOptions {
  user: string;
  password: string;
  pki: TestPki;
  /** How long a power change takes. Default 300 ms. */
  transitionMs?: number;
  power?: 'On' | 'Off';
  /** SEL entries at start. */
  events?: { severity: 'OK' | 'Warning' | 'Critical'; message: string }[];
  health?: 'OK' | 'Warning' | 'Critical';
  /** Offer only these reset types (default: all of RESET_TYPES). */
  resetTypes?: string[];
}

export class RedfishEmulator {
  power: RedfishPower;
  boot = { target: 'None', enabled: 'Disabled' };
  /** The boot source of each power-on ("Pxe" when a one-time override was consumed, else "Hdd"). */
  readonly boots: string[] = [];
  /** Every request as "METHOD path" (and the reset types posted). */
  readonly requests: string[] = [];
  readonly sessions = new Map<string, string>();
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private timer: NodeJS.Timeout | null = null;
  port = 0;

  constructor(private readonly o: EmulatorOptions) {
    this.power = o.power ?? 'On';
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer({ key: this.o.pki.key, cert: this.o.pki.cert }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => this.send(res, 500, errorBody('InternalError', String((err as Error)?.message ?? err))));
    });
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    server.on('tlsClientError', () => undefined); // a client that refuses our certificate: its side fails
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Stops answering: closes the listener and every connection. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    const s = this.server;
    this.server = null;
    if (!s) return;
    for (const c of this.sockets) c.destroy();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  close(): Promise<void> {
    return this.stop();
  }

  /** Observed power, as on/off: only Off is off (a machine powering on or off still has power). */
  observed(): 'on' | 'off' {
    return this.power === 'Off' ? 'off' : 'on';
  }

  private send(res: ServerResponse, status: number, body?: Json, headers: Record<string, string> = {}): void {
    const text = body ? JSON.stringify(body) : '';
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'odata-version': '4.0', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  private authorized(req: IncomingMessage): boolean {
    const token = req.headers['x-auth-token'];
    if (typeof token === 'string' && this.sessions.has(token)) return true;
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    return !!basic && Buffer.from(basic[1]!, 'base64').toString() === `${this.o.user}:${this.o.password}`;
  }

  private async body(req: IncomingMessage): Promise<Json | null> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    try {
      const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null;
    } catch {
      return null;
    }
  }

  /** Moves the power through its transition state to `to`; a power-on consumes a one-time boot override. */
  private transition(to: 'On' | 'Off'): void {
    if (this.timer) clearTimeout(this.timer);
    this.power = to === 'On' ? 'PoweringOn' : 'PoweringOff';
    this.timer = setTimeout(() => {
      this.power = to;
      if (to === 'On') {
        const pxe = this.boot.enabled !== 'Disabled' && this.boot.target !== 'None';
        this.boots.push(pxe ? this.boot.target : 'Hdd');
        if (this.boot.enabled === 'Once') this.boot = { target: 'None', enabled: 'Disabled' };
      }
    }, this.o.transitionMs ?? 300);
  }

  private system(): Json {
    return {
      '@odata.id': SYSTEM,
      '@odata.type': '#ComputerSystem.v1_13_0.ComputerSystem',
      Id: '1',
      Name: 'Hypervisor',
      SystemType: 'Physical',
      PowerState: this.power,
      Status: { State: 'Enabled', Health: this.o.health ?? 'OK', HealthRollup: this.o.health ?? 'OK' },
      Boot: {
        BootSourceOverrideEnabled: this.boot.enabled,
        BootSourceOverrideTarget: this.boot.target,
        'BootSourceOverrideTarget@Redfish.AllowableValues': BOOT_TARGETS,
        BootSourceOverrideMode: 'UEFI',
      },
      LogServices: { '@odata.id': `${SYSTEM}/LogServices` },
      Actions: {
        '#ComputerSystem.Reset': { target: `${SYSTEM}/Actions/ComputerSystem.Reset`, 'ResetType@Redfish.AllowableValues': this.o.resetTypes ?? RESET_TYPES },
      },
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    this.requests.push(`${method} ${path}`);
    if (path === '/redfish/v1' && method === 'GET') {
      return this.send(res, 200, {
        '@odata.id': '/redfish/v1/',
        '@odata.type': '#ServiceRoot.v1_11_0.ServiceRoot',
        Id: 'RootService',
        Name: 'Root Service',
        RedfishVersion: '1.15.0',
        Systems: { '@odata.id': '/redfish/v1/Systems' },
        SessionService: { '@odata.id': '/redfish/v1/SessionService' },
        Links: { Sessions: { '@odata.id': '/redfish/v1/SessionService/Sessions' } },
      });
    }
    if (path === '/redfish/v1/SessionService/Sessions' && method === 'POST') {
      const b = await this.body(req);
      if (!b || typeof b.UserName !== 'string' || typeof b.Password !== 'string') return this.send(res, 400, errorBody('PropertyMissing', 'UserName and Password are required.'));
      if (b.UserName !== this.o.user || b.Password !== this.o.password) return this.send(res, 401, errorBody('NoValidSession', 'There is no valid session established with the implementation.'));
      const id = String(this.sessions.size + 1 + this.requests.length);
      const token = randomBytes(16).toString('hex');
      this.sessions.set(token, id);
      const uri = `/redfish/v1/SessionService/Sessions/${id}`;
      return this.send(res, 201, { '@odata.id': uri, '@odata.type': '#Session.v1_3_0.Session', Id: id, UserName: b.UserName }, { 'x-auth-token': token, location: uri });
    }
    if (!this.authorized(req)) return this.send(res, 401, errorBody('NoValidSession', 'There is no valid session established with the implementation.'), { 'www-authenticate': 'Basic realm="Redfish"' });

    const sessionMatch = /^\/redfish\/v1\/SessionService\/Sessions\/(\w+)$/.exec(path);
    if (sessionMatch && method === 'DELETE') {
      for (const [t, id] of this.sessions) if (id === sessionMatch[1]) this.sessions.delete(t);
      return this.send(res, 204);
    }
    if (path === '/redfish/v1/SessionService' && method === 'GET') {
      return this.send(res, 200, { '@odata.id': path, '@odata.type': '#SessionService.v1_1_8.SessionService', Id: 'SessionService', ServiceEnabled: true, SessionTimeout: 1800, Sessions: { '@odata.id': `${path}/Sessions` } });
    }
    if (path === '/redfish/v1/Systems' && method === 'GET') {
      return this.send(res, 200, { '@odata.id': path, '@odata.type': '#ComputerSystemCollection.ComputerSystemCollection', Name: 'Computer System Collection', Members: [{ '@odata.id': SYSTEM }], 'Members@odata.count': 1 });
    }
    if (path === SYSTEM && method === 'GET') return this.send(res, 200, this.system());
    if (path === SYSTEM && method === 'PATCH') {
      const b = await this.body(req);
      const boot = b?.Boot as Json | undefined;
      if (!boot || typeof boot !== 'object') return this.send(res, 400, errorBody('MalformedJSON', 'The request body was malformed JSON or had no Boot.'));
      if (boot.BootSourceOverrideTarget !== undefined && !BOOT_TARGETS.includes(boot.BootSourceOverrideTarget as string)) {
        return this.send(res, 400, errorBody('PropertyValueNotInList', `The value ${JSON.stringify(boot.BootSourceOverrideTarget)} for the property BootSourceOverrideTarget is not in the list of acceptable values.`));
      }
      if (boot.BootSourceOverrideEnabled !== undefined && !['Disabled', 'Once', 'Continuous'].includes(boot.BootSourceOverrideEnabled as string)) {
        return this.send(res, 400, errorBody('PropertyValueNotInList', `The value ${JSON.stringify(boot.BootSourceOverrideEnabled)} for the property BootSourceOverrideEnabled is not in the list of acceptable values.`));
      }
      this.boot = { target: (boot.BootSourceOverrideTarget as string | undefined) ?? this.boot.target, enabled: (boot.BootSourceOverrideEnabled as string | undefined) ?? this.boot.enabled };
      return this.send(res, 200, this.system());
    }
    if (path === `${SYSTEM}/Actions/ComputerSystem.Reset`) {
      if (method !== 'POST') return this.send(res, 405, errorBody('OperationNotAllowed', 'Actions are invoked with POST.'));
      const b = await this.body(req);
      const type = b?.ResetType;
      this.requests.push(`ResetType ${String(type)}`);
      if (typeof type !== 'string' || !(this.o.resetTypes ?? RESET_TYPES).includes(type)) {
        return this.send(res, 400, errorBody('ActionParameterNotSupported', `The parameter ResetType for the action ComputerSystem.Reset is not supported on the target resource: ${JSON.stringify(type)}.`));
      }
      const on = this.power === 'On' || this.power === 'PoweringOn';
      if (type === 'On') {
        if (!on) this.transition('On');
      } else if (type === 'ForceOff' || type === 'GracefulShutdown') {
        if (on) this.transition('Off');
      } else if (type === 'Nmi') {
        // nothing visible
      } else if (on) {
        // A restart: off for an instant, then on again (a boot, consuming a one-time override).
        this.power = 'Off';
        this.transition('On');
      }
      return this.send(res, 204);
    }
    const logs = `${SYSTEM}/LogServices`;
    if (path === logs && method === 'GET') {
      return this.send(res, 200, { '@odata.id': path, '@odata.type': '#LogServiceCollection.LogServiceCollection', Members: [{ '@odata.id': `${logs}/SEL` }], 'Members@odata.count': 1 });
    }
    if (path === `${logs}/SEL` && method === 'GET') {
      return this.send(res, 200, { '@odata.id': path, '@odata.type': '#LogService.v1_3_0.LogService', Id: 'SEL', Entries: { '@odata.id': `${path}/Entries` } });
    }
    if (path === `${logs}/SEL/Entries` && method === 'GET') {
      const members = (this.o.events ?? []).map((e, i) => ({
        '@odata.id': `${path}/${i + 1}`,
        '@odata.type': '#LogEntry.v1_9_0.LogEntry',
        Id: String(i + 1),
        EntryType: 'SEL',
        Severity: e.severity,
        Created: new Date(Date.UTC(2026, 11, 7, 10, i)).toISOString(),
        Message: e.message,
      }));
      return this.send(res, 200, { '@odata.id': path, '@odata.type': '#LogEntryCollection.LogEntryCollection', Members: members, 'Members@odata.count': members.length });
    }
    const known = [SYSTEM, '/redfish/v1/Systems', '/redfish/v1/SessionService', logs, `${logs}/SEL`, `${logs}/SEL/Entries`].includes(path);
    if (known) return this.send(res, 405, errorBody('OperationNotAllowed', `${method} is not allowed on ${path}.`));
    return this.send(res, 404, errorBody('ResourceNotFound', `The requested resource ${path} was not found.`));
  }
}

export function removePki(p: TestPki): void {
  rmSync(p.dir, { recursive: true, force: true });
}
