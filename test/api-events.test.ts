/**
 * Issue 19: the API's event reads are paged (a limit is cut to 1000; `before` pages back), so
 * `GET /api/v1/ha?limit=10000` reads at most one page per kind through its index.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { loadConfig } from '../src/config/load.js';
import { inactiveHa } from '../src/ha/view.js';
import { apiRouter, MAX_EVENT_PAGE } from '../src/http/api.js';
import type { AppDeps } from '../src/http/deps.js';
import { errorHandler } from '../src/http/errors.js';
import { Inventory } from '../src/inventory/inventory.js';
import { systemClock } from '../src/lib/clock.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { StoreEvent, StoreOp } from '../src/store/store.js';
import { LAB_YAML } from './lib/serve.js';

describe('event reads of the API, paged', () => {
  const dir = mkdtempSync(join(tmpdir(), '3rc-api-events-'));
  const store = SqliteStore.open({ path: join(dir, 'e.db'), sync: 'normal' });
  const inventory = Inventory.fromConfig(loadConfig(LAB_YAML));
  const vm10 = inventory.hosts()[0]!;
  let server: http.Server;
  let url: string;
  const get = async (p: string) => {
    const r = await fetch(`${url}${p}`);
    return { status: r.status, link: r.headers.get('link'), body: (await r.json()) as any };
  };

  before(async () => {
    // 2,500 HA decisions among 25,000 boot-trace events, 250 of them of vm10.
    const ops: StoreOp[] = [];
    for (let i = 0; i < 27_500; i++) {
      if (i % 11 === 0) ops.push({ op: 'appendEvent', event: { at: i, kind: ['ha.transition', 'ha.action', 'ha.done'][i % 3]!, vm: 'vm10' } });
      else ops.push({ op: 'appendEvent', event: { at: i, kind: 'dhcp.discover', mac: i % 100 === 1 ? vm10.mac : `02:00:00:00:${(i >> 8) & 255}:${i & 255}` } });
    }
    await store.write(ops);
    const deps = { inventory, store, clock: systemClock, ha: inactiveHa('test'), apiToken: 't' } as unknown as AppDeps;
    const app = express();
    app.use('/api/v1', apiRouter(deps));
    app.use(errorHandler);
    server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('cuts /ha?limit=10000 to one page and pages back with next/before through every decision once', async () => {
    const first = await get('/api/v1/ha?limit=10000');
    assert.equal(first.status, 200);
    assert.equal(first.body.decisions.length, MAX_EVENT_PAGE);
    assert.equal(first.body.next, first.body.decisions[0].id);
    const seen: StoreEvent[] = [...first.body.decisions];
    for (let next = first.body.next; next !== null; ) {
      const page = await get(`/api/v1/ha?limit=10000&before=${next}`);
      seen.unshift(...page.body.decisions);
      next = page.body.next;
    }
    assert.equal(seen.length, 2500);
    assert.ok(seen.every((e, i) => e.kind.startsWith('ha.') && (i === 0 || e.id > seen[i - 1]!.id)));
    assert.equal((await get('/api/v1/ha?before=x')).status, 400);
    assert.equal((await get('/api/v1/ha?limit=0')).status, 400);
  });

  it("pages a host's events with a Link to the older page", async () => {
    const page1 = await get(`/api/v1/hosts/${vm10.name}/events?limit=200`);
    assert.equal(page1.body.length, 200);
    const m = /<([^>]+)>; rel="next"/.exec(page1.link ?? '');
    assert.ok(m, `Link: ${page1.link}`);
    const page2 = await get(m[1]!);
    assert.equal(page2.body.length, 50);
    assert.equal(page2.link, null);
    assert.ok(page2.body.at(-1).id < page1.body[0].id);
    assert.ok([...page2.body, ...page1.body].every((e: StoreEvent) => e.mac === vm10.mac));
  });
});
