/**
 * The HTTP server's limits (servers.http) on loopback: at most maxConnections open connections
 * (one more is closed unanswered), and a client that never finishes its headers gets 408 after
 * headersTimeout instead of holding its connection.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import express from 'express';
import { HttpServer } from '../src/http/server.js';
import { freePort } from './lib/serve.js';

/** A raw connection: what it received once the server closed it (or `ms` passed: then `open`). */
function exchange(port: number, send: string, ms = 5000): Promise<{ text: string; closed: boolean; socket: net.Socket }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ text, closed, socket });
    };
    const timer = setTimeout(() => finish(false), ms);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
      // A whole keep-alive answer: the connection stays open for the test.
      if (/\r\n\r\nok$/.test(text)) finish(false);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => finish(true));
    socket.on('connect', () => socket.write(send));
  });
}

const app = express().get('/', (_req, res) => void res.send('ok'));
const GET = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';

async function server(cfg: { maxConnections?: number; headersTimeout?: number; requestTimeout?: number }) {
  const port = await freePort();
  const s = new HttpServer({ listen: '127.0.0.1', port, maxConnections: 1024, headersTimeout: 10_000, requestTimeout: 60_000, ...cfg }, app);
  await s.start();
  return { s, port };
}

describe('HTTP server limits', () => {
  it('closes a connection beyond maxConnections unanswered; a freed slot takes the next', { timeout: 20_000 }, async () => {
    const { s, port } = await server({ maxConnections: 2 });
    const open: net.Socket[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const r = await exchange(port, GET);
        open.push(r.socket);
        assert.match(r.text, /^HTTP\/1\.1 200/);
        assert.equal(r.closed, false);
      }
      const third = await exchange(port, GET);
      open.push(third.socket);
      assert.equal(third.closed, true);
      assert.equal(third.text, '', 'no answer beyond the limit');
      open[0]!.destroy();
      let next = await exchange(port, GET);
      // The server sees the freed connection a moment later.
      for (let i = 0; i < 50 && next.text === ''; i++) {
        await new Promise((r) => setTimeout(r, 20));
        next = await exchange(port, GET);
      }
      open.push(next.socket);
      assert.match(next.text, /^HTTP\/1\.1 200/);
    } finally {
      for (const o of open) o.destroy();
      await s.stop();
    }
  });

  it('answers 408 and closes when the headers do not come within headersTimeout', { timeout: 20_000 }, async () => {
    const { s, port } = await server({ headersTimeout: 300, requestTimeout: 1000 });
    try {
      const r = await exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n', 10_000);
      assert.equal(r.closed, true, `still open after 10 s; got ${JSON.stringify(r.text)}`);
      assert.match(r.text, /^HTTP\/1\.1 408/);
    } finally {
      await s.stop();
    }
  });
});
