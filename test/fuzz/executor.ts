/**
 * The harness's end of scripts/fuzz-send.py: one helper process per network namespace, fed
 * frames on stdin (raw UDP datagrams with any source, TCP exchanges, real UDP exchanges) and
 * read back as JSON lines. See that script for the frame format.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Lab } from '../lib/netns.js';
import { ipBytes, type Source } from './sources.js';

export const PYTHON = '/usr/bin/python3';

export interface UdpReply {
  from_port: number | null;
  local_port: number | null;
  recv: number;
  head_hex: string;
  err?: string;
}

interface TcpReport {
  tcp: number;
  recv: number;
  head: string;
  err: string | null;
  ms: number | null;
  sent: string;
}

export class Executor {
  private readonly proc: ChildProcess;
  private buf = '';
  private nextId = 1;
  private readonly waiters = new Map<string, (v: unknown) => void>();
  private stderr = '';
  /** First response lines of TCP exchanges (`HTTP/1.1 404`, `no answer`, `error: ...`) -> count. */
  readonly tcpOutcomes = new Map<string, number>();
  rawErrors: Record<string, number> = {};
  /** The slowest TCP exchanges (time to the first answer byte), slowest first; clear between protocols. */
  slowest: { ms: number; sent: string; head: string }[] = [];
  private exited = false;

  constructor(lab: Lab, ns: string, root: string, readonly name: string) {
    this.proc = lab.spawn(ns, PYTHON, [join(root, 'scripts', 'fuzz-send.py')], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d: Buffer) => this.onData(d.toString()));
    this.proc.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    this.proc.stdin!.on('error', () => undefined);
    this.proc.once('exit', () => {
      this.exited = true;
      for (const w of this.waiters.values()) w(undefined);
      this.waiters.clear();
    });
  }

  private onData(s: string): void {
    this.buf += s;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if ('tcp' in msg) {
        const t = msg as unknown as TcpReport;
        const key = t.err ? `error: ${t.err}` : t.recv === 0 ? 'no answer' : /^HTTP\/\d\.\d \d{3}/.test(t.head) ? t.head.slice(0, 12) : 'answered';
        this.tcpOutcomes.set(key, (this.tcpOutcomes.get(key) ?? 0) + 1);
        if (t.ms !== null && (this.slowest.length < 5 || t.ms > this.slowest[4]!.ms)) {
          this.slowest.push({ ms: t.ms, sent: t.sent.slice(0, 100), head: t.head.slice(0, 40) });
          this.slowest.sort((a, b) => b.ms - a.ms).splice(5);
        }
        continue;
      }
      const key = 'sync' in msg ? `sync:${String(msg.sync)}` : 'udp' in msg ? `udp:${String(msg.udp)}` : '';
      if (key === `sync:${String(msg.sync)}` && msg.raw_errors) this.rawErrors = msg.raw_errors as Record<string, number>;
      const w = this.waiters.get(key);
      if (w) {
        this.waiters.delete(key);
        w(msg);
      }
    }
  }

  private async write(op: number, body: Buffer): Promise<void> {
    if (this.exited) throw new Error(`fuzz-send.py (${this.name}) exited: ${this.stderr}`);
    const head = Buffer.alloc(5);
    head.writeUInt32BE(body.length + 1, 0);
    head[4] = op;
    if (!this.proc.stdin!.write(Buffer.concat([head, body]))) await new Promise((r) => this.proc.stdin!.once('drain', r));
  }

  private wait<T>(key: string): Promise<T | undefined> {
    return new Promise((resolve) => this.waiters.set(key, resolve as (v: unknown) => void));
  }

  /** A datagram from any source (raw socket). */
  raw(src: Source, dst: string, dport: number, payload: Buffer): Promise<void> {
    const h = Buffer.alloc(12);
    ipBytes(src.address).copy(h, 0);
    h.writeUInt16BE(src.port, 4);
    ipBytes(dst).copy(h, 6);
    h.writeUInt16BE(dport, 10);
    return this.write(1, Buffer.concat([h, payload]));
  }

  /** A TCP exchange, run by the helper's thread pool; its outcome lands in tcpOutcomes. */
  tcp(bind: string, dst: string, dport: number, payload: Buffer, o: { halfClose: boolean; split: boolean; waitMs: number }): Promise<void> {
    const h = Buffer.alloc(20);
    h.writeUInt32BE(this.nextId++, 0);
    ipBytes(bind).copy(h, 4);
    ipBytes(dst).copy(h, 8);
    h.writeUInt16BE(dport, 12);
    h.writeUInt16BE((o.halfClose ? 1 : 0) | (o.split ? 2 : 0), 14);
    h.writeUInt32BE(o.waitMs, 16);
    return this.write(2, Buffer.concat([h, payload]));
  }

  /** A real UDP socket sends and waits for the first reply; `keep` leaves it open (close with closeUdp). */
  async udp(bind: string, dst: string, dport: number, payload: Buffer, o: { waitMs: number; keep?: boolean; bindPort?: number }): Promise<UdpReply & { id: number }> {
    const id = this.nextId++;
    const h = Buffer.alloc(21);
    h.writeUInt32BE(id, 0);
    ipBytes(bind).copy(h, 4);
    h.writeUInt16BE(o.bindPort ?? 0, 8);
    ipBytes(dst).copy(h, 10);
    h.writeUInt16BE(dport, 14);
    h.writeUInt32BE(o.waitMs, 16);
    h[20] = o.keep ? 1 : 0;
    const reply = this.wait<UdpReply>(`udp:${id}`);
    await this.write(3, Buffer.concat([h, payload]));
    const r = await reply;
    return { id, ...(r ?? { from_port: null, local_port: null, recv: 0, head_hex: '', err: 'helper exited' }) };
  }

  closeUdp(id: number): Promise<void> {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(id);
    return this.write(4, b);
  }

  /** TCP exchanges from now on run `n` at a time (after those queued before have finished). */
  pool(n: number): Promise<void> {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return this.write(6, b);
  }

  /** Resolves once everything sent before it was done (TCP exchanges finished). */
  async sync(): Promise<void> {
    const id = this.nextId++;
    const b = Buffer.alloc(4);
    b.writeUInt32BE(id);
    const done = this.wait(`sync:${id}`);
    await this.write(5, b);
    await done;
  }

  async close(): Promise<void> {
    if (this.exited) return;
    this.proc.stdin!.end();
    await new Promise((r) => this.proc.once('exit', r));
  }
}
