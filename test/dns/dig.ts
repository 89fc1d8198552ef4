/**
 * Runs the real `dig` and parses its default output, so DNS tests assert on what a real client
 * understood, not on our own decoder.
 */
import { execFile } from 'node:child_process';

export interface DigMessage {
  status: string;
  flags: string[];
  /** Record lines of each section, split on whitespace: [name, ttl, class, type, ...data]. */
  answer: string[][];
  authority: string[][];
  additional: string[][];
  /** The UDP size of the server's OPT, or null when the reply had no OPT. */
  ednsUdp: number | null;
  size: number | null;
  transport: string | null;
}

/** Parses dig output holding one or more replies. */
export function parseDig(text: string): DigMessage[] {
  const out: DigMessage[] = [];
  let cur: DigMessage | undefined;
  let section: 'answer' | 'authority' | 'additional' | null = null;
  for (const line of text.split('\n')) {
    const h = /^;; ->>HEADER<<- opcode: \w+, status: (\w+), id: \d+/.exec(line);
    if (h) {
      cur = { status: h[1]!, flags: [], answer: [], authority: [], additional: [], ednsUdp: null, size: null, transport: null };
      out.push(cur);
      section = null;
      continue;
    }
    if (!cur) continue;
    const f = /^;; flags:([^;]*);/.exec(line);
    if (f) cur.flags = f[1]!.trim().split(/\s+/).filter(Boolean);
    const e = /^; EDNS: version: \d+, flags:[^;]*; udp: (\d+)/.exec(line);
    if (e) cur.ednsUdp = Number(e[1]);
    const s = /^;; MSG SIZE\s+rcvd: (\d+)/.exec(line);
    if (s) cur.size = Number(s[1]);
    const t = /^;; SERVER: .*\((UDP|TCP)\)/.exec(line);
    if (t) cur.transport = t[1]!;
    if (/^;; ANSWER SECTION:/.test(line)) section = 'answer';
    else if (/^;; AUTHORITY SECTION:/.test(line)) section = 'authority';
    else if (/^;; ADDITIONAL SECTION:/.test(line)) section = 'additional';
    else if (line.trim() === '' || line.startsWith(';')) {
      if (line.trim() === '') section = null;
    } else if (section) cur[section].push(line.trim().split(/\s+/));
  }
  return out;
}

/** Runs dig against 127.0.0.1:port, or opts.server (plus args); rejects only if dig cannot run at all. */
export function dig(port: number, args: string[], opts: { timeoutMs?: number; server?: string } = {}): Promise<{ code: number; stdout: string; messages: DigMessage[] }> {
  return new Promise((resolve, reject) => {
    execFile('dig', [`@${opts.server ?? '127.0.0.1'}`, '-p', String(port), '+time=2', '+tries=2', ...args], { timeout: opts.timeoutMs ?? 15_000 }, (err, stdout) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, messages: parseDig(stdout) });
    });
  });
}

/** The single reply of a dig run. */
export async function dig1(port: number, args: string[], opts: { server?: string } = {}): Promise<DigMessage> {
  const r = await dig(port, args, opts);
  if (r.messages.length !== 1) throw new Error(`expected one reply from dig ${args.join(' ')}, got ${r.messages.length}:\n${r.stdout}`);
  return r.messages[0]!;
}
