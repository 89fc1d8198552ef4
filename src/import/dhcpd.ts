/**
 * ISC dhcpd's dhcpd.conf (dhcpd.conf(5)) read into the import model: host blocks (hardware
 * ethernet, fixed-address, filename, next-server, host-name, client identifier), subnets and
 * their ranges (in pools too), routers, domain-name-servers, domain-name, default-lease-time,
 * filename and next-server at every scope, shared-network and group blocks, and `include`.
 * Every other statement becomes a note. Pure: files come through {@link InputFiles}.
 *
 * Syntax: statements end with `;` and may span lines; blocks are `{ ... }`; `#` starts a comment
 * to the end of the line outside double-quoted strings (which may hold `\"`).
 */
import { dirname, resolve } from 'node:path';
import { isIpv4, parseIpv4, cidrContains, parseCidr } from '../lib/net.js';
import {
  emptyModel, ImportError, noter, prefixOfNetmask, readInput,
  type ImportModel, type ImportedHost, type ImportedSubnet, type InputFiles, type Source,
} from './model.js';

interface Token {
  text: string;
  /** A double-quoted string (quotes removed). */
  quoted: boolean;
  line: number;
}

interface Statement {
  words: Token[];
  /** The block's statements, for `subnet ... { }` and friends. */
  block?: Statement[];
  source: Source;
}

function tokenize(text: string, file: string): Token[] {
  const out: Token[] = [];
  let line = 1;
  for (let i = 0; i < text.length; ) {
    const c = text[i]!;
    if (c === '\n') { line++; i++; continue; }
    if (/\s/.test(c)) { i++; continue; }
    if (c === '#') { while (i < text.length && text[i] !== '\n') i++; continue; }
    if (c === '"') {
      let s = '';
      const start = line;
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        if (text[i] === '\n') line++;
        s += text[i++];
      }
      if (i >= text.length) throw new ImportError(`${file}:${start}: a string is not closed (missing ")`);
      i++;
      out.push({ text: s, quoted: true, line: start });
      continue;
    }
    if ('{};,'.includes(c)) { out.push({ text: c, quoted: false, line }); i++; continue; }
    let w = '';
    while (i < text.length && !/[\s{};,"#]/.test(text[i]!)) w += text[i++];
    out.push({ text: w, quoted: false, line });
  }
  return out;
}

/** The statement as one line, for notes: `option ntp-servers 10.77.0.1;` or `class "x" { ... }`. */
function show(words: Token[], block: boolean): string {
  const text = words.map((w) => (w.quoted ? `"${w.text}"` : w.text)).join(' ').replace(/ ,/g, ',');
  return block ? `${text} { ... }` : `${text};`;
}

/** Parses a file into statements, expanding `include "FILE";` in place. */
function parseFile(fs: InputFiles, file: string, from: Source | undefined, depth: number): Statement[] {
  if (depth > 16) throw new ImportError(`${from!.file}:${from!.line}: includes nested more than 16 deep (an include loop?)`);
  const tokens = tokenize(readInput(fs, file, from), file);
  let i = 0;
  const block = (closing: boolean): Statement[] => {
    const out: Statement[] = [];
    let words: Token[] = [];
    while (i < tokens.length) {
      const t = tokens[i++]!;
      if (!t.quoted && t.text === '}') {
        if (!closing) throw new ImportError(`${file}:${t.line}: } without a matching {`);
        if (words.length) throw new ImportError(`${file}:${words[0]!.line}: ${show(words, false).slice(0, -1)} is missing its ;`);
        return out;
      }
      if (!t.quoted && (t.text === ';' || t.text === '{')) {
        const isBlock = t.text === '{';
        if (!words.length && !isBlock) continue; // a stray ;
        const source = { file, line: (words[0] ?? t).line, text: show(words, isBlock) };
        const st: Statement = { words, source };
        if (isBlock) st.block = block(true);
        words = [];
        if (!isBlock && st.words[0]?.text === 'include' && st.words[1]?.quoted) {
          out.push(...parseFile(fs, resolve(dirname(file), st.words[1].text), source, depth + 1));
        } else {
          out.push(st);
        }
        continue;
      }
      words.push(t);
    }
    if (closing) throw new ImportError(`${file}: a { is not closed (missing })`);
    if (words.length) throw new ImportError(`${file}:${words[0]!.line}: ${show(words, false).slice(0, -1)} is missing its ;`);
    return out;
  };
  return block(false);
}

/** What a scope hands down to the hosts declared in it. */
interface Scope {
  subnet?: ImportedSubnet;
  filename?: string;
  nextServer?: string;
  global: boolean;
}

/** `a, b, c` after `option NAME`: the values without commas. */
function values(words: Token[]): string[] {
  return words.filter((w) => w.quoted || w.text !== ',').map((w) => w.text);
}

/** Parses dhcpd.conf (and its includes) into the import model. */
export function parseDhcpd(fs: InputFiles, file: string): ImportModel {
  const model = emptyModel();
  const note = noter(model);
  const subnetFiles = new Map<ImportedSubnet, { filename?: string; nextServer?: string }>();

  const walk = (stmts: Statement[], scope: Scope): void => {
    for (const st of stmts) {
      const [w0, w1, w2, w3] = st.words.map((w) => w.text);
      const args = st.words.slice(1);
      if (st.block) {
        if (w0 === 'subnet' && w2 === 'netmask' && st.words.length === 4) {
          const prefix = prefixOfNetmask(w3!);
          if (!isIpv4(w1!) || prefix === null) { note(st.source, 'is not an IPv4 subnet 3rc can read, left out'); continue; }
          const subnet: ImportedSubnet = { cidr: `${w1}/${prefix}`, pools: [], source: st.source };
          model.subnets.push(subnet);
          const inner: Scope = { ...scope, subnet, global: false };
          walk(st.block, inner);
          subnetFiles.set(subnet, { filename: inner.filename, nextServer: inner.nextServer });
        } else if ((w0 === 'shared-network' && st.words.length === 2) || (w0 === 'group' && st.words.length === 1) || (w0 === 'pool' && st.words.length === 1)) {
          walk(st.block, { ...scope, global: false });
        } else if (w0 === 'host' && st.words.length === 2) {
          host(st, scope, model, note);
        } else {
          note(st.source); // class, if/else, subclass, failover peer, key, zone, ...
        }
        continue;
      }
      switch (w0) {
        case 'range': {
          const ips = args.map((a) => a.text).filter((a) => a !== 'dynamic-bootp');
          if (!scope.subnet || !ips.length || ips.length > 2 || !ips.every(isIpv4)) { note(st.source); break; }
          scope.subnet.pools.push({ start: ips[0]!, end: ips[1] ?? ips[0]!, source: st.source });
          break;
        }
        case 'filename':
          if (args.length !== 1) { note(st.source); break; }
          if (scope.global) model.bootRules.push({ arch: null, file: args[0]!.text, source: st.source });
          else scope.filename = args[0]!.text;
          break;
        case 'next-server':
          if (args.length !== 1 || !isIpv4(args[0]!.text)) { note(st.source, 'names its TFTP server by name, not by address: 3rc hands out network.serverIp'); break; }
          if (scope.global) model.nextServer = { value: args[0]!.text, source: st.source };
          else scope.nextServer = args[0]!.text;
          break;
        case 'default-lease-time': {
          const n = Number(w1);
          if (args.length !== 1 || !Number.isInteger(n) || n <= 0) { note(st.source); break; }
          if (scope.subnet) scope.subnet.leaseTime = n;
          else if (scope.global) model.leaseTime = { value: n, source: st.source };
          else note(st.source, 'has no 3rc equivalent (lease times are per subnet), left out');
          break;
        }
        case 'option':
          option(st, scope, model, note);
          break;
        default:
          note(st.source);
      }
    }
  };
  walk(parseFile(fs, file, undefined, 0), { global: true });

  // dhcpd gives a host the parameters of the subnet its address is in, wherever it is declared.
  for (const h of model.hosts) {
    const ip = h.ip && parseIpv4(h.ip);
    if (!ip) continue;
    for (const [subnet, p] of subnetFiles) {
      if (!cidrContains(parseCidr(subnet.cidr)!, ip)) continue;
      if (h.bootFile === undefined && p.filename !== undefined) h.bootFile = p.filename;
      if (h.nextServer === undefined && p.nextServer !== undefined) h.nextServer = p.nextServer;
    }
  }
  return model;
}

function option(st: Statement, scope: Scope, model: ImportModel, note: (s: Source, m?: string) => void): void {
  const name = st.words[1]?.text;
  const vals = values(st.words.slice(2));
  if (name === 'routers' && vals.length >= 1 && vals.every(isIpv4)) {
    if (vals.length > 1) note(st.source, `names ${vals.length} routers; 3rc hands out one: ${vals[0]} is imported`);
    if (scope.subnet) scope.subnet.router = vals[0]!;
    else if (scope.global) model.router = { value: vals[0]!, source: st.source };
    else note(st.source);
  } else if (name === 'domain-name-servers' && vals.length >= 1 && vals.every(isIpv4)) {
    if (scope.subnet) scope.subnet.nameServers = vals;
    else if (scope.global) model.nameServers = { value: vals, source: st.source };
    else note(st.source);
  } else if (name === 'domain-name' && vals.length === 1 && scope.global) {
    model.domain = { value: vals[0]!, source: st.source };
  } else {
    note(st.source);
  }
}

function host(st: Statement, scope: Scope, model: ImportModel, note: (s: Source, m?: string) => void): void {
  const h: ImportedHost = { name: st.words[1]!.text, source: st.source };
  let filename = scope.filename;
  let nextServer = scope.nextServer;
  for (const s of st.block!) {
    const [w0, w1, w2] = s.words.map((w) => w.text);
    if (s.block) { note(s.source); continue; }
    if (w0 === 'hardware' && w1 === 'ethernet' && s.words.length === 3) h.mac = w2!;
    else if (w0 === 'fixed-address') {
      const addrs = values(s.words.slice(1));
      if (addrs.length >= 1 && isIpv4(addrs[0]!)) h.ip = addrs[0]!;
      else note(s.source, 'names the address by DNS name; 3rc needs the address itself, left out');
      if (addrs.length > 1) note(s.source, `names ${addrs.length} addresses; 3rc reserves one: ${addrs[0]} is imported`);
    } else if (w0 === 'filename' && s.words.length === 2) filename = w1!;
    else if (w0 === 'next-server' && s.words.length === 2 && isIpv4(w1!)) nextServer = w1!;
    else if (w0 === 'option' && w1 === 'host-name' && s.words.length === 3) h.name = w2!;
    else if (w0 === 'option' && w1 === 'dhcp-client-identifier') h.clientId = values(s.words.slice(2)).join('');
    else note(s.source);
  }
  if (filename !== undefined) h.bootFile = filename;
  if (nextServer !== undefined) h.nextServer = nextServer;
  model.hosts.push(h);
}
