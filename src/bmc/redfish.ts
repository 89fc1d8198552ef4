/**
 * Redfish (DMTF DSP0266) over HTTPS and JSON: the service root's Systems collection, the
 * ComputerSystem's PowerState, its #ComputerSystem.Reset action (target and
 * @Redfish.AllowableValues read from the resource, never assumed) and its Boot override.
 * Authentication: a session (SessionService, X-Auth-Token) or HTTP basic. TLS is always verified:
 * against the pinned CA (caFile) when given, else the system's CAs.
 */
import { request } from 'node:https';
import { BmcErrorCodes } from '../lib/errors.js';
import { systemClock, type Clock } from '../lib/clock.js';
import { BmcError, cycle, expectedAfter, readBack, type BmcDriver, type BmcHealth, type BootTarget, type PowerAction, type PowerState } from './driver.js';

export interface RedfishOptions {
  host: string;
  /** host[:port] or https://host[:port]. */
  address: string;
  user: string;
  /** The password, or how to read it (at each login: a file that is missing now fails that call, not startup). */
  password: string | (() => string);
  /** PEM of the CA that signed the BMC's certificate (or how to read it). Default: the system's CAs. */
  ca?: string | Buffer | (() => Buffer);
  /** session (default) or basic. */
  auth?: 'session' | 'basic';
  /** Per request. Default 15 s. */
  timeoutMs?: number;
  clock?: Clock;
  settleMs?: number;
  intervalMs?: number;
}

type Json = Record<string, unknown>;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Json | null;
}

/** The message of a Redfish error body ({"error": {"code", "message", "@Message.ExtendedInfo": [...]}}). */
export function redfishErrorMessage(body: Json | null): string | null {
  const e = body?.error as Json | undefined;
  if (!e || typeof e !== 'object') return null;
  const info = Array.isArray(e['@Message.ExtendedInfo']) ? (e['@Message.ExtendedInfo'] as Json[]) : [];
  const details = info.map((i) => (typeof i.Message === 'string' ? i.Message : typeof i.MessageId === 'string' ? i.MessageId : '')).filter(Boolean);
  const head = [e.code, e.message].filter((v) => typeof v === 'string').join(': ');
  return [head, ...details].filter(Boolean).join('; ') || null;
}

/**
 * ResetType for an action, among the allowable ones. ForceOff before GracefulShutdown: a fence
 * must not depend on the OS (a hung one never shuts down; the read-back then stays on, never off).
 */
export function pickResetType(action: 'on' | 'off', allowed: readonly string[] | null): string | null {
  const prefs = {
    off: ['ForceOff', 'GracefulShutdown'],
    on: ['On', 'ForceOn'],
  };
  for (const p of prefs[action]) if (!allowed || allowed.includes(p)) return p;
  return null;
}

const TARGETS: Record<BootTarget, string> = { pxe: 'Pxe', 'uefi-http': 'UefiHttp' };

function odataId(v: unknown): string | null {
  const id = (v as Json | undefined)?.['@odata.id'];
  return typeof id === 'string' ? id : null;
}

export class RedfishDriver implements BmcDriver {
  readonly kind = 'redfish';
  private readonly hostname: string;
  private readonly port: number;
  private readonly clock: Clock;
  private token: string | null = null;
  private sessionUri: string | null = null;
  private systemUri: string | null = null;

  constructor(private readonly o: RedfishOptions) {
    const u = new URL(/^https?:\/\//.test(o.address) ? o.address : `https://${o.address}`);
    if (u.protocol !== 'https:') throw new BmcError(BmcErrorCodes.FAILED, o.host, `Redfish address ${o.address}: only https is used`);
    this.hostname = u.hostname.replace(/^\[|\]$/g, '');
    this.port = u.port ? Number(u.port) : 443;
    this.clock = o.clock ?? systemClock;
  }

  private password(): string {
    return typeof this.o.password === 'function' ? this.o.password() : this.o.password;
  }

  private send(method: string, path: string, body?: Json, auth = true): Promise<Reply> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = { accept: 'application/json', 'odata-version': '4.0' };
    if (payload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': payload.length });
    if (auth && this.o.auth === 'basic') headers.authorization = `Basic ${Buffer.from(`${this.o.user}:${this.password()}`).toString('base64')}`;
    else if (auth && this.token) headers['x-auth-token'] = this.token;
    const ca = typeof this.o.ca === 'function' ? this.o.ca() : this.o.ca;
    return new Promise((resolve, reject) => {
      const req = request(
        { host: this.hostname, port: this.port, path, method, headers, ca, rejectUnauthorized: true, timeout: this.o.timeoutMs ?? 15_000, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > 4 << 20) req.destroy(new Error('answer larger than 4 MiB'));
            else chunks.push(c);
          });
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: Json | null = null;
            try {
              parsed = text ? (JSON.parse(text) as Json) : null;
            } catch {
              parsed = null;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed && typeof parsed === 'object' ? parsed : null });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer in time')));
      req.on('error', reject);
      req.end(payload);
    }).then(
      (r) => r as Reply,
      (err: unknown) => {
        throw new BmcError(BmcErrorCodes.UNREACHABLE, this.o.host, `Redfish ${method} ${path} at ${this.o.address}: ${(err as Error).message}`, { cause: err });
      },
    );
  }

  /** A request with login (and one login again when the session expired); throws unless 2xx. */
  private async call(method: string, path: string, body?: Json): Promise<Reply> {
    if (this.o.auth !== 'basic' && !this.token) await this.login();
    let r = await this.send(method, path, body);
    if (r.status === 401 && this.o.auth !== 'basic') {
      await this.login();
      r = await this.send(method, path, body);
    }
    if (r.status >= 200 && r.status < 300) return r;
    const msg = redfishErrorMessage(r.body) ?? `HTTP ${r.status}`;
    const code = r.status === 401 || r.status === 403 ? BmcErrorCodes.AUTH : BmcErrorCodes.FAILED;
    throw new BmcError(code, this.o.host, `Redfish ${method} ${path}: ${msg}`);
  }

  private async get(path: string): Promise<Json> {
    const r = await this.call('GET', path);
    if (!r.body) throw new BmcError(BmcErrorCodes.PROTOCOL, this.o.host, `Redfish GET ${path}: the answer is not a JSON object`);
    return r.body;
  }

  private async login(): Promise<void> {
    const root = await this.send('GET', '/redfish/v1/', undefined, false);
    const sessions = odataId((root.body?.Links as Json | undefined)?.Sessions) ?? '/redfish/v1/SessionService/Sessions';
    const r = await this.send('POST', sessions, { UserName: this.o.user, Password: this.password() }, false);
    const token = r.headers['x-auth-token'];
    if (r.status === 401 || r.status === 403) throw new BmcError(BmcErrorCodes.AUTH, this.o.host, `Redfish login as ${this.o.user}: ${redfishErrorMessage(r.body) ?? `HTTP ${r.status}`}`);
    if (r.status < 200 || r.status >= 300 || typeof token !== 'string') throw new BmcError(BmcErrorCodes.FAILED, this.o.host, `Redfish login: ${redfishErrorMessage(r.body) ?? `HTTP ${r.status} without X-Auth-Token`}`);
    this.token = token;
    const loc = r.headers.location;
    this.sessionUri = typeof loc === 'string' ? new URL(loc, `https://${this.hostname}`).pathname : odataId(r.body);
  }

  /** Ends the session, if any (best effort). */
  async close(): Promise<void> {
    if (!this.token || !this.sessionUri) return;
    await this.send('DELETE', this.sessionUri).catch(() => undefined);
    this.token = null;
  }

  /** The one ComputerSystem of this BMC (the first member when there are several). */
  private async system(): Promise<{ uri: string; body: Json }> {
    if (!this.systemUri) {
      const root = await this.get('/redfish/v1/');
      const systems = odataId(root.Systems);
      if (!systems) throw new BmcError(BmcErrorCodes.PROTOCOL, this.o.host, 'Redfish service root has no Systems link');
      const members = (await this.get(systems)).Members;
      const first = Array.isArray(members) ? odataId(members[0]) : null;
      if (!first) throw new BmcError(BmcErrorCodes.PROTOCOL, this.o.host, `Redfish ${systems} has no member`);
      this.systemUri = first;
    }
    return { uri: this.systemUri, body: await this.get(this.systemUri) };
  }

  async powerState(): Promise<PowerState> {
    const { uri, body } = await this.system();
    // PoweringOff is not off yet; only Off proves anything to a fence.
    if (body.PowerState === 'Off') return 'off';
    if (body.PowerState === 'On' || body.PowerState === 'PoweringOn' || body.PowerState === 'PoweringOff' || body.PowerState === 'Paused') return 'on';
    throw new BmcError(BmcErrorCodes.PROTOCOL, this.o.host, `Redfish ${uri}: PowerState ${JSON.stringify(body.PowerState)}`);
  }

  async power(action: PowerAction): Promise<PowerState> {
    if (action === 'cycle') return cycle(this.o.host, (a) => this.power(a));
    const { uri, body } = await this.system();
    const reset = (body.Actions as Json | undefined)?.['#ComputerSystem.Reset'] as Json | undefined;
    const target = typeof reset?.target === 'string' ? reset.target : null;
    if (!target) throw new BmcError(BmcErrorCodes.UNSUPPORTED, this.o.host, `Redfish ${uri} has no #ComputerSystem.Reset action`);
    const allowed = Array.isArray(reset!['ResetType@Redfish.AllowableValues']) ? (reset!['ResetType@Redfish.AllowableValues'] as string[]) : null;
    const type = pickResetType(action, allowed);
    if (!type) throw new BmcError(BmcErrorCodes.UNSUPPORTED, this.o.host, `Redfish ${uri}: no reset type for ${action} among ${allowed?.join(', ')}`);
    await this.call('POST', target, { ResetType: type });
    return readBack(() => this.powerState(), expectedAfter(action), { clock: this.clock, settleMs: this.o.settleMs, intervalMs: this.o.intervalMs });
  }

  async bootOnce(target: BootTarget): Promise<void> {
    const { uri, body } = await this.system();
    const want = TARGETS[target];
    const boot = (body.Boot ?? {}) as Json;
    const allowed = boot['BootSourceOverrideTarget@Redfish.AllowableValues'];
    if (Array.isArray(allowed) && !allowed.includes(want)) throw new BmcError(BmcErrorCodes.UNSUPPORTED, this.o.host, `Redfish ${uri}: boot target ${want} not among ${allowed.join(', ')}`);
    await this.call('PATCH', uri, { Boot: { BootSourceOverrideTarget: want, BootSourceOverrideEnabled: 'Once' } });
    const back = ((await this.get(uri)).Boot ?? {}) as Json;
    if (back.BootSourceOverrideTarget !== want || back.BootSourceOverrideEnabled !== 'Once') {
      throw new BmcError(BmcErrorCodes.FAILED, this.o.host, `Redfish ${uri}: boot override read back as ${String(back.BootSourceOverrideTarget)}/${String(back.BootSourceOverrideEnabled)}`);
    }
  }

  async health(): Promise<BmcHealth> {
    const { body } = await this.system();
    const power: PowerState = body.PowerState === 'Off' ? 'off' : 'on';
    const status = (body.Status ?? {}) as Json;
    const faults = ['Health', 'HealthRollup'].flatMap((k) => (typeof status[k] === 'string' && status[k] !== 'OK' ? [`${k} ${String(status[k])}`] : []));
    let events: number | null = null;
    let recent: string[] = [];
    const logs = odataId(body.LogServices);
    if (logs) {
      const first = (await this.get(logs)).Members;
      const service = Array.isArray(first) ? odataId(first[0]) : null;
      const entriesUri = service ? odataId((await this.get(service)).Entries) : null;
      if (entriesUri) {
        const entries = await this.get(entriesUri);
        const members = Array.isArray(entries.Members) ? (entries.Members as Json[]) : [];
        events = typeof entries['Members@odata.count'] === 'number' ? (entries['Members@odata.count'] as number) : members.length;
        recent = members.slice(-5).map((m) => [m.Created, m.Severity, m.Message].filter((v) => typeof v === 'string').join(' | '));
      }
    }
    return { power, faults, events, recent };
  }
}
