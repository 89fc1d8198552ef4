/**
 * The dashboard's server side on real sockets, in process: the timeline route's validation, the
 * SSE stream (initial hello, live events from the tapped store, heartbeat, Last-Event-ID replay)
 * and that disconnected clients leave nothing behind. Also the SSE hub and the live feed alone.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { loadConfig } from '../../src/config/load.js';
import type { AppDeps } from '../../src/http/deps.js';
import { errorHandler } from '../../src/http/errors.js';
import { inactiveHa } from '../../src/ha/view.js';
import { BootTable } from '../../src/inventory/boot-table.js';
import { Inventory } from '../../src/inventory/inventory.js';
import { systemClock } from '../../src/lib/clock.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { Snapshot } from '../../src/ha/monitor.js';
import { LiveFeed } from '../../src/http/live-feed.js';
import { webRouter } from '../../src/http/web-routes.js';
import { formatSse, SseHub, type SseSink } from '../../src/http/sse.js';
import { LAB_YAML } from '../lib/serve.js';

/** An SSE client on a raw HTTP request: collects the text it receives. */
function sseClient(url: string, headers: Record<string, string> = {}): Promise<{ text: () => string; waitFor: (re: RegExp, ms?: number) => Promise<string>; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (buf += d));
      res.on('error', () => undefined);
      resolve({
        text: () => buf,
        waitFor: async (re, ms = 3000) => {
          const until = Date.now() + ms;
          while (!re.test(buf)) {
            if (Date.now() > until) throw new Error(`no ${re} in ${JSON.stringify(buf)}`);
            await new Promise((r) => setTimeout(r, 10));
          }
          return buf;
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
  });
}

const until = async (ok: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('dashboard routes', () => {
  let server: http.Server;
  let url: string;
  let router: ReturnType<typeof webRouter>;
  let bootTable: BootTable;
  let live: LiveFeed;
  // The example inventory, whatever it holds today.
  const config = loadConfig(LAB_YAML);
  const vmsOn = (hv: string) => config.hosts.filter((h) => h.hypervisor === hv).map((h) => h.name).sort();
  before(async () => {
    live = new LiveFeed(systemClock);
    const store = live.tapStore(new MemoryStore());
    const inventory = Inventory.fromConfig(config);
    bootTable = await BootTable.load({ store, inventory, clock: systemClock });
    const deps = { inventory, bootTable, store, clock: systemClock, ha: inactiveHa('test'), startedAt: Date.now(), instance: 'test', web: { live, budget: { recoveries: 3, window: 3_600_000 }, heartbeatMs: 100 } } as unknown as AppDeps;
    router = webRouter(deps);
    const app = express();
    app.use(router);
    app.use(errorHandler);
    server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    router.hub.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('validates the timeline range and names the field', async () => {
    const get = async (p: string) => {
      const r = await fetch(`${url}${p}`);
      return { status: r.status, body: (await r.json()) as { error?: { code: string; field?: string; message: string }; lanes?: { id: string }[] } };
    };
    const bad = await get('/api/v1/timeline/vm10?from=yesterday');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error?.field, 'from');
    const inverted = await get(`/api/v1/timeline/vm10?from=${Date.now()}&to=${Date.now() - 1000}`);
    assert.equal(inverted.status, 400);
    assert.match(inverted.body.error!.message, /must be before/);
    assert.equal((await get('/api/v1/timeline/vm10?to=x')).body.error?.field, 'to');
    const unknown = await get('/api/v1/timeline/nosuch');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error?.code, 'E_UNKNOWN_HOST');
    const ok = await get('/api/v1/timeline/vm10?from=now-1h');
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body.lanes!.map((l) => l.id), ['vm:vm10', 'boot:vm10', 'hv:hv1']);
    const hv = await get('/api/v1/timeline/hv2');
    assert.deepEqual(hv.body.lanes!.map((l) => l.id), [...vmsOn('hv2').map((v) => `vm:${v}`), 'hv:hv2']);
  });

  it('overview lists the inventory, unmonitored VMs with the budget', async () => {
    const o = (await (await fetch(`${url}/api/v1/overview`)).json()) as { vms: { vm: string; state: string; budget: number }[]; hypervisors: { name: string; up: null; vms: string[] }[]; hosts: { name: string }[] };
    const vms = config.hosts.filter((h) => h.hypervisor).map((h) => h.name);
    assert.ok(vms.length >= 4);
    assert.deepEqual(o.vms.map((v) => [v.vm, v.state, v.budget]), vms.map((v) => [v, 'unmonitored', 3]));
    assert.deepEqual(o.hypervisors.map((h) => [h.name, h.up, h.vms]), config.hypervisors.map((h) => [h.name, null, vmsOn(h.name)]));
    assert.deepEqual(o.hosts.map((h) => h.name), config.hosts.map((h) => h.name));
  });

  it('serves the page with a strict CSP, and its compiled scripts', async () => {
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy')!, /script-src 'self'/);
    assert.match(await page.text(), /<script type="module" src="\/assets\/js\/app\.js">/);
    const js = await fetch(`${url}/assets/js/app.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type')!, /javascript/);
    assert.equal((await fetch(`${url}/assets/style.css`)).status, 200);
    // The scripts' TypeScript sources sit beside the page in web/; they are not served.
    for (const src of ['/assets/app.ts', '/assets/js/app.ts', '/assets/filter.ts']) assert.equal((await fetch(`${url}${src}`)).status, 404, src);
  });

  it('streams boot-table changes and heartbeats; forgets clients that disconnect', async () => {
    assert.equal(router.hub.size, 0);
    const clients = await Promise.all(Array.from({ length: 5 }, () => sseClient(`${url}/api/v1/stream`)));
    await Promise.all(clients.map((c) => c.waitFor(/event: hello\n/)));
    assert.equal(router.hub.size, 5);
    assert.ok(router.hub.beating);
    await bootTable.setInstall('52:54:00:77:00:12', { reason: 'sse-test' });
    for (const c of clients) {
      const text = await c.waitFor(/event: host\n/);
      assert.match(text, /id: \d+\nevent: event\ndata: \{[^\n]*"kind":"boot\.set"[^\n]*"reason":"sse-test"/);
      // The host row is sent once the boot table holds the new entry.
      assert.match(text, /event: host\ndata: \{"name":"vm12"[^\n]*"boot":\{"mode":"install"/);
    }
    await clients[0]!.waitFor(/: heartbeat \d+\n\n/);
    for (const c of clients) c.close();
    await until(() => router.hub.size === 0);
    assert.equal(router.hub.beating, false, 'no timer left behind');
    assert.equal(live.listenerCount('event'), 1, 'one feed listener for the hub, none per client');
  });

  it('shows each monitoring pass: hypervisor up/down and load, live and in the overview', async () => {
    const c = await sseClient(`${url}/api/v1/stream`);
    await c.waitFor(/event: hello/);
    live.observe([{ name: 'hv1', up: true, loadFive: 2.5, cpuNum: 4 }, { name: 'hv2', up: false, loadFive: null, cpuNum: null }]);
    const text = await c.waitFor(/event: hypervisors\n/);
    assert.match(text, /event: hypervisors\ndata: \[\{"name":"hv1"[^\n]*"up":true,"loadFive":2\.5,"cpuNum":4/);
    c.close();
    const o = (await (await fetch(`${url}/api/v1/overview`)).json()) as { hypervisors: { name: string; up: boolean | null; loadFive: number | null; loadThreshold: number }[] };
    assert.deepEqual(o.hypervisors.map((h) => [h.name, h.up, h.loadFive]), [['hv1', true, 2.5], ['hv2', false, null]]);
    // Reachability is recorded for the timeline.
    const t = (await (await fetch(`${url}/api/v1/timeline/hv2?from=now-5m`)).json()) as { lanes: { id: string; bands: { state: string }[] }[] };
    assert.deepEqual(t.lanes.find((l) => l.id === 'hv:hv2')!.bands.map((b) => b.state), ['down']);
    await until(() => router.hub.size === 0);
  });

  it('replays what a reconnecting client missed (Last-Event-ID)', async () => {
    const first = await sseClient(`${url}/api/v1/stream`);
    await first.waitFor(/event: hello/);
    await bootTable.setLocal('52:54:00:77:00:12', { reason: 'one' });
    const lastId = /id: (\d+)\nevent: event/.exec(await first.waitFor(/id: \d+\nevent: event/))![1]!;
    first.close();
    await bootTable.setInstall('52:54:00:77:00:13', { reason: 'missed' });
    const again = await sseClient(`${url}/api/v1/stream`, { 'last-event-id': lastId });
    const text = await again.waitFor(/"reason":"missed"/);
    assert.match(text, /^retry: \d+\n\nevent: hello\n[^\n]*\n\nid: \d+\nevent: event\ndata: [^\n]*"reason":"missed"/);
    assert.doesNotMatch(text, /event: event\ndata: [^\n]*"reason":"one"/, 'what it had seen is not sent again');
    again.close();
    await until(() => router.hub.size === 0);
  });
});

describe('dashboard live stream limit', () => {
  it('takes at most maxSseClients; one more gets 503 until a client leaves', async () => {
    const live = new LiveFeed(systemClock);
    const store = live.tapStore(new MemoryStore());
    const config = loadConfig(LAB_YAML);
    const inventory = Inventory.fromConfig(config);
    const bootTable = await BootTable.load({ store, inventory, clock: systemClock });
    const deps = { inventory, bootTable, store, clock: systemClock, ha: inactiveHa('test'), startedAt: Date.now(), instance: 'test', web: { live, budget: { recoveries: 3, window: 3_600_000 }, maxSseClients: 2 } } as unknown as AppDeps;
    const router = webRouter(deps);
    const server = http.createServer(express().use(router).use(errorHandler));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/stream`;
    const status = () => new Promise<{ status: number; retryAfter: string | undefined }>((resolve, reject) => {
      http.get(url, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined });
      }).on('error', reject);
    });
    try {
      const clients = [await sseClient(url), await sseClient(url)];
      await Promise.all(clients.map((c) => c.waitFor(/event: hello/)));
      assert.equal(router.hub.size, 2);
      assert.deepEqual(await status(), { status: 503, retryAfter: '30' });
      assert.equal(router.hub.size, 2);
      clients[0]!.close();
      await until(() => router.hub.size === 1);
      const third = await sseClient(url);
      await third.waitFor(/event: hello/);
      clients.push(third);
      for (const c of clients) c.close();
      await until(() => router.hub.size === 0);
    } finally {
      router.hub.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('SseHub', () => {
  const sink = (buffered = 0) => {
    const s = { chunks: [] as string[], ended: false, writableLength: buffered, closeFn: undefined as undefined | (() => void), write(c: string) { this.chunks.push(c); return true; }, end() { this.ended = true; }, on(_e: 'close', fn: () => void) { this.closeFn = fn; } };
    return s as typeof s & SseSink;
  };

  it('formats one message per event, JSON on one data line', () => {
    assert.equal(formatSse('vm', { a: 'x\ny' }, 7), 'id: 7\nevent: vm\ndata: {"a":"x\\ny"}\n\n');
    assert.equal(formatSse('hello', {}), 'event: hello\ndata: {}\n\n');
  });

  it('drops a client that does not read instead of buffering for it', () => {
    const hub = new SseHub({ maxBuffered: 100, heartbeatMs: 60_000 });
    const fast = sink();
    const slow = sink();
    hub.add(fast);
    hub.add(slow);
    slow.writableLength = 101;
    hub.publish('vm', { x: 1 });
    assert.equal(hub.size, 1);
    assert.equal(hub.dropped, 1);
    assert.ok(slow.ended);
    assert.match(fast.chunks.join(''), /event: vm/);
    fast.closeFn!();
    assert.equal(hub.size, 0);
    assert.equal(hub.beating, false);
  });
});

describe('LiveFeed', () => {
  it('publishes appended events with their store ids, after they are durable', async () => {
    const live = new LiveFeed(systemClock);
    const store = live.tapStore(new MemoryStore());
    const seen: number[] = [];
    live.on('event', (e) => seen.push(e.id));
    const r = await store.write([{ op: 'appendEvent', event: { at: 1, kind: 'a' } }, { op: 'deleteLease', ip: '10.0.0.1' }, { op: 'appendEvent', event: { at: 2, kind: 'b' } }]);
    assert.deepEqual(seen, r.eventIds);
    assert.equal(store.kind, 'memory');
    assert.equal((await store.queryEvents()).length, 2);
  });

  it('records hypervisor reachability changes only, and keeps the latest load', async () => {
    const live = new LiveFeed(systemClock);
    const store = live.tapStore(new MemoryStore());
    let up = true;
    const snap = (): Snapshot => ({ hosts: new Map([['hv1', { up, loadFive: up ? 0.5 : null, cpuNum: 2 }]]), vms: new Map() });
    const monitor = live.tapMonitor({ pass: async () => snap(), probe: async () => ({ vm: { up: true, power: 'on' as const, pxeLoop: false }, hostUp: true }), powered: () => undefined });
    const pushes: unknown[] = [];
    live.on('hypervisors', (h) => pushes.push(h));
    await monitor.pass({ hosts: ['hv1'], vms: [] });
    await monitor.pass({ hosts: ['hv1'], vms: [] });
    up = false;
    await monitor.pass({ hosts: ['hv1'], vms: [] });
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual((await store.queryEvents()).map((e) => [e.kind, e.host, e.reason]), [['hypervisor.up', 'hv1', 'first-pass'], ['hypervisor.down', 'hv1', 'monitor']]);
    assert.equal(pushes.length, 2, 'an unchanged pass pushes nothing');
    assert.equal(live.hypervisor('hv1')?.up, false);
  });
});
