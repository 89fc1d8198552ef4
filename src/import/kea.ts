/**
 * Kea's DHCPv4 config (kea-dhcp4.conf) read into the import model: subnet4 (in shared-networks
 * too) with pools, option-data (routers, domain-name-servers, domain-name), valid-lifetime,
 * next-server and boot-file-name; reservations (global and per subnet) with hw-address,
 * ip-address, hostname, boot-file-name and next-server; client classes that test the client
 * architecture (option[93]) and give a boot file. Every other key becomes a note on its line.
 * Pure: files come through {@link InputFiles}.
 *
 * Kea's JSON allows comments (`#`, `//`, C-style) and `<?include "FILE"?>`; the reader below
 * is a small JSON parser that accepts them and remembers the line of every value and key.
 */
import { dirname, resolve } from 'node:path';
import { isIpv4, parseCidr, cidrContains, parseIpv4, type Cidr } from '../lib/net.js';
import { emptyModel, ImportError, noter, readInput, type ImportModel, type ImportedHost, type ImportedSubnet, type InputFiles, type Source } from './model.js';

type Json = null | boolean | number | string | Json[] | JsonObject;
interface JsonObject {
  [key: string]: Json;
}

/** Where each object's keys and each array's items were written. */
interface Positions {
  keys: WeakMap<object, Map<string, Source>>;
  items: WeakMap<object, Source[]>;
}

class Reader {
  private i = 0;
  private line = 1;
  private readonly lines: string[];
  constructor(private readonly text: string, private readonly file: string, private readonly fs: InputFiles, private readonly pos: Positions, private readonly depth: number) {
    this.lines = text.split(/\r?\n/);
  }

  private fail(what: string): never {
    throw new ImportError(`${this.file}:${this.line}: not valid JSON: ${what}`);
  }

  private source(line: number): Source {
    return { file: this.file, line, text: (this.lines[line - 1] ?? '').trim() };
  }

  /** Skips whitespace and comments; returns an include's path when one is next. */
  private skip(): void {
    for (;;) {
      const c = this.text[this.i];
      if (c === '\n') { this.line++; this.i++; }
      else if (c !== undefined && /\s/.test(c)) this.i++;
      else if (c === '#' || (c === '/' && this.text[this.i + 1] === '/')) { while (this.i < this.text.length && this.text[this.i] !== '\n') this.i++; }
      else if (c === '/' && this.text[this.i + 1] === '*') {
        const end = this.text.indexOf('*/', this.i + 2);
        if (end === -1) this.fail('a /* comment is not closed');
        for (let j = this.i; j < end; j++) if (this.text[j] === '\n') this.line++;
        this.i = end + 2;
      } else return;
    }
  }

  value(): Json {
    this.skip();
    const c = this.text[this.i];
    if (c === '<' && this.text.startsWith('<?include', this.i)) return this.include();
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(this.text.slice(this.i, this.i + 64));
    if (!m) this.fail(c === undefined ? 'unexpected end of file' : `unexpected ${JSON.stringify(c)}`);
    this.i += m[0].length;
    return JSON.parse(m[0]) as Json;
  }

  /** `<?include "FILE"?>`: the value is the included file's. */
  private include(): Json {
    const end = this.text.indexOf('?>', this.i);
    const m = end === -1 ? null : /^<\?include\s+"([^"]+)"\s*$/.exec(this.text.slice(this.i, end));
    if (!m) this.fail('an <?include "FILE"?> is malformed');
    const from = this.source(this.line);
    this.i = end + 2;
    if (this.depth > 16) this.fail('includes nested more than 16 deep (an include loop?)');
    const path = resolve(dirname(this.file), m[1]!);
    return parseJsonFile(this.fs, path, from, this.pos, this.depth + 1);
  }

  private string(): string {
    const start = this.i;
    this.i++;
    while (this.i < this.text.length && this.text[this.i] !== '"') {
      if (this.text[this.i] === '\\') this.i++;
      if (this.text[this.i] === '\n') this.fail('a string runs past the end of its line');
      this.i++;
    }
    if (this.i >= this.text.length) this.fail('a string is not closed');
    this.i++;
    return JSON.parse(this.text.slice(start, this.i)) as string;
  }

  private object(): JsonObject {
    const obj: JsonObject = {};
    const keys = new Map<string, Source>();
    this.pos.keys.set(obj, keys);
    this.i++;
    this.skip();
    if (this.text[this.i] === '}') { this.i++; return obj; }
    for (;;) {
      this.skip();
      if (this.text[this.i] !== '"') this.fail('expected a "key"');
      const line = this.line;
      const key = this.string();
      this.skip();
      if (this.text[this.i] !== ':') this.fail(`expected : after "${key}"`);
      this.i++;
      obj[key] = this.value();
      keys.set(key, this.source(line));
      this.skip();
      const c = this.text[this.i++];
      if (c === '}') return obj;
      if (c !== ',') this.fail('expected , or }');
      this.skip();
      if (this.text[this.i] === '}') { this.i++; return obj; } // Kea accepts a trailing comma
    }
  }

  private array(): Json[] {
    const arr: Json[] = [];
    const items: Source[] = [];
    this.pos.items.set(arr, items);
    this.i++;
    this.skip();
    if (this.text[this.i] === ']') { this.i++; return arr; }
    for (;;) {
      this.skip();
      items.push(this.source(this.line));
      arr.push(this.value());
      this.skip();
      const c = this.text[this.i++];
      if (c === ']') return arr;
      if (c !== ',') this.fail('expected , or ]');
      this.skip();
      if (this.text[this.i] === ']') { this.i++; return arr; }
    }
  }

  end(): void {
    this.skip();
    if (this.i < this.text.length) this.fail('text after the end of the document');
  }
}

function parseJsonFile(fs: InputFiles, file: string, from: Source | undefined, pos: Positions, depth: number): Json {
  const r = new Reader(readInput(fs, file, from), file, fs, pos, depth);
  const v = r.value();
  r.end();
  return v;
}

const isObject = (v: Json | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses a Kea DHCPv4 config (and its includes) into the import model. */
export function parseKea(fs: InputFiles, file: string): ImportModel {
  const pos: Positions = { keys: new WeakMap(), items: new WeakMap() };
  const root = parseJsonFile(fs, file, undefined, pos, 0);
  const model = emptyModel();
  const note = noter(model);
  const fileStart: Source = { file, line: 1, text: '' };
  const keyAt = (obj: JsonObject, key: string): Source => pos.keys.get(obj)?.get(key) ?? fileStart;
  const itemAt = (arr: Json[], i: number): Source => pos.items.get(arr)?.[i] ?? fileStart;
  const str = (obj: JsonObject, key: string): string | undefined => (typeof obj[key] === 'string' ? (obj[key] as string) : undefined);
  const wrongType = (obj: JsonObject, key: string, what: string): void => void note(keyAt(obj, key), `is not ${what}, left out`);

  if (!isObject(root) || !isObject(root.Dhcp4)) throw new ImportError(`${file}: not a Kea DHCPv4 config (no "Dhcp4" object at the top)`);
  for (const key of Object.keys(root)) if (key !== 'Dhcp4') note(keyAt(root, key));
  const d4 = root.Dhcp4;

  /** option-data: routers, domain-name-servers and domain-name. */
  const options = (owner: JsonObject, apply: (what: 'router' | 'dns' | 'domain', values: string[], source: Source) => boolean): void => {
    const list = owner['option-data'];
    if (!Array.isArray(list)) { if (list !== undefined) wrongType(owner, 'option-data', 'a list'); return; }
    list.forEach((o, i) => {
      const source = itemAt(list, i);
      if (!isObject(o) || typeof o.data !== 'string') return note(source);
      const name = o.name ?? o.code;
      const what = name === 'routers' || name === 3 ? 'router' : name === 'domain-name-servers' || name === 6 ? 'dns' : name === 'domain-name' || name === 15 ? 'domain' : null;
      const vals = o.data.split(',').map((v) => v.trim()).filter(Boolean);
      if (!what || (what !== 'domain' && !vals.every(isIpv4)) || !apply(what, vals, source)) note(source);
    });
  };

  /** Keys every scope may have, read by the caller; the rest is a note per key. */
  const subnetBoot: Array<{ cidr: Cidr; file?: string | undefined; nextServer?: string | undefined }> = [];
  const rest = (obj: JsonObject, known: string[]) => {
    for (const key of Object.keys(obj)) if (!known.includes(key)) note(keyAt(obj, key));
  };

  const lifetime = (obj: JsonObject): number | undefined => {
    const v = obj['valid-lifetime'];
    if (v === undefined) return undefined;
    if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
    wrongType(obj, 'valid-lifetime', 'a number of seconds');
    return undefined;
  };

  const reservations = (owner: JsonObject, inherited: { file?: string; nextServer?: string }) => {
    const list = owner.reservations;
    if (list === undefined) return;
    if (!Array.isArray(list)) return wrongType(owner, 'reservations', 'a list');
    list.forEach((r, i) => {
      const source = itemAt(list, i);
      if (!isObject(r)) return note(source);
      const h: ImportedHost = { source };
      const mac = str(r, 'hw-address');
      if (mac) h.mac = mac;
      for (const id of ['client-id', 'duid', 'circuit-id', 'flex-id']) {
        const v = str(r, id);
        if (v && !h.clientId) h.clientId = `${id} ${v}`;
      }
      const ip = str(r, 'ip-address');
      if (ip) h.ip = ip;
      const name = str(r, 'hostname');
      if (name) h.name = name;
      const bootFile = str(r, 'boot-file-name') ?? inherited.file;
      if (bootFile !== undefined) h.bootFile = bootFile;
      const ns = str(r, 'next-server') ?? inherited.nextServer;
      if (ns !== undefined) h.nextServer = ns;
      options(r, () => false);
      rest(r, ['hw-address', 'client-id', 'duid', 'circuit-id', 'flex-id', 'ip-address', 'hostname', 'boot-file-name', 'next-server', 'option-data']);
      model.hosts.push(h);
    });
  };

  const subnets = (owner: JsonObject, inherited: { file?: string; nextServer?: string }) => {
    const list = owner.subnet4;
    if (list === undefined) return;
    if (!Array.isArray(list)) return wrongType(owner, 'subnet4', 'a list');
    list.forEach((s, i) => {
      const source = itemAt(list, i);
      const cidr = isObject(s) ? str(s, 'subnet') : undefined;
      if (!isObject(s) || !cidr || !parseCidr(cidr)) return note(source, 'is not a subnet 3rc can read, left out');
      const subnet: ImportedSubnet = { cidr, pools: [], source: keyAt(s, 'subnet') };
      const pools = s.pools;
      if (Array.isArray(pools)) {
        pools.forEach((p, j) => {
          const ps = itemAt(pools, j);
          const text = isObject(p) ? str(p, 'pool') : undefined;
          const range = text ? /^\s*([\d.]+)\s*-\s*([\d.]+)\s*$/.exec(text) : null;
          const asCidr = text ? parseCidr(text.trim()) : null;
          if (range && isIpv4(range[1]!) && isIpv4(range[2]!)) subnet.pools.push({ start: range[1]!, end: range[2]!, source: ps });
          else if (asCidr) {
            const f = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
            subnet.pools.push({ start: f(asCidr.network), end: f((asCidr.network + 2 ** (32 - asCidr.prefix) - 1) >>> 0), source: ps });
          } else note(ps);
          if (isObject(p)) rest(p, ['pool']);
        });
      } else if (pools !== undefined) wrongType(s, 'pools', 'a list');
      const lt = lifetime(s);
      if (lt) subnet.leaseTime = lt;
      options(s, (what, vals, src) => {
        if (what === 'router') { subnet.router = vals[0]!; if (vals.length > 1) note(src, `names ${vals.length} routers; 3rc hands out one: ${vals[0]} is imported`); }
        else if (what === 'dns') subnet.nameServers = vals;
        else return false;
        return true;
      });
      model.subnets.push(subnet);
      const here = { file: str(s, 'boot-file-name') ?? inherited.file, nextServer: str(s, 'next-server') ?? inherited.nextServer };
      subnetBoot.push({ cidr: parseCidr(cidr)!, ...here });
      reservations(s, here);
      rest(s, ['subnet', 'id', 'pools', 'valid-lifetime', 'option-data', 'reservations', 'boot-file-name', 'next-server']);
    });
  };

  // Server-wide: options, lease time, next-server and boot file (for every client).
  options(d4, (what, vals, src) => {
    if (what === 'router') model.router = { value: vals[0]!, source: src };
    else if (what === 'dns') model.nameServers = { value: vals, source: src };
    else model.domain = { value: vals[0]!, source: src };
    return true;
  });
  const lt = lifetime(d4);
  if (lt) model.leaseTime = { value: lt, source: keyAt(d4, 'valid-lifetime') };
  const ns = str(d4, 'next-server');
  if (ns && isIpv4(ns)) model.nextServer = { value: ns, source: keyAt(d4, 'next-server') };
  else if (ns !== undefined) note(keyAt(d4, 'next-server'));
  const bf = str(d4, 'boot-file-name');
  if (bf) model.bootRules.push({ arch: null, file: bf, source: keyAt(d4, 'boot-file-name') });
  classes(d4);
  subnets(d4, {});
  const shared = d4['shared-networks'];
  if (Array.isArray(shared)) {
    shared.forEach((n, i) => {
      if (!isObject(n)) return note(itemAt(shared, i));
      subnets(n, { file: str(n, 'boot-file-name'), nextServer: str(n, 'next-server') });
      rest(n, ['name', 'subnet4', 'boot-file-name', 'next-server']);
    });
  } else if (shared !== undefined) wrongType(d4, 'shared-networks', 'a list');
  const before = model.hosts.length;
  reservations(d4, {});
  const globalHosts = model.hosts.slice(before);
  rest(d4, ['option-data', 'valid-lifetime', 'next-server', 'boot-file-name', 'client-classes', 'subnet4', 'shared-networks', 'reservations']);

  // Global reservations get the boot file of the subnet their address is in, as Kea does.
  for (const h of globalHosts) {
    const ip = h.ip ? parseIpv4(h.ip) : null;
    const s = ip === null ? undefined : subnetBoot.find((x) => cidrContains(x.cidr, ip));
    if (!s) continue;
    if (h.bootFile === undefined && s.file !== undefined) h.bootFile = s.file;
    if (h.nextServer === undefined && s.nextServer !== undefined) h.nextServer = s.nextServer;
  }
  return model;

  /** client-classes that test option 93 and give a boot file: boot rules by architecture. */
  function classes(obj: JsonObject): void {
    const list = obj['client-classes'];
    if (list === undefined) return;
    if (!Array.isArray(list)) return wrongType(obj, 'client-classes', 'a list');
    list.forEach((c, i) => {
      const source = itemAt(list, i);
      const test = isObject(c) ? str(c, 'test') : undefined;
      const m = test ? /^\s*option\[(?:93|client-system)\]\.hex\s*==\s*0x([0-9a-f]{1,4})\s*$/i.exec(test) : null;
      const file = isObject(c) ? str(c, 'boot-file-name') : undefined;
      if (!isObject(c) || !m || !file) return note(source, 'has no 3rc equivalent (3rc matches the client architecture, option[93].hex == 0x0007, with a boot-file-name), left out');
      const next = str(c, 'next-server');
      model.bootRules.push({ arch: parseInt(m[1]!, 16), file, ...(next && isIpv4(next) ? { nextServer: next } : {}), source });
      rest(c, ['name', 'test', 'boot-file-name', 'next-server']);
    });
  }
}
