import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseConfig } from '../config/load.js';
import { Inventory } from '../inventory/inventory.js';
import { memoryTrace } from '../inventory/trace.js';
import { systemClock } from '../lib/clock.js';
import { silentLogger } from '../lib/log.js';
import { packageRoot } from '../lib/paths.js';
import { RawClient } from '../../test/tftp/raw-client.js';
import { encodeAck, Op } from './packet.js';
import { TftpServer } from './server.js';

test('maxTransfers: requests over the bound get error 0 "server busy", recorded; the bound frees up', async () => {
  const dir = mkdtempSync(join(tmpdir(), '3rc-tftp-server-'));
  writeFileSync(join(dir, 'f'), Buffer.alloc(2000, 7));
  const file = join(packageRoot(), 'examples', 'lab.yaml');
  const config = parseConfig(readFileSync(file, 'utf8'), file);
  config.paths.boot = dir;
  config.servers.tftp = { ...config.servers.tftp, listen: '127.0.0.1', port: 0, maxTransfers: 2, timeout: 5000 };
  const trace = memoryTrace();
  const server = new TftpServer({ config, inventory: Inventory.fromConfig(config), bootTable: { get: () => undefined }, trace, clock: systemClock, log: silentLogger });
  await server.start();
  const port = Number(server.addresses()[0]!.split(':')[1]!.split('/')[0]);
  const clients = await Promise.all([RawClient.open(), RawClient.open(), RawClient.open()]);
  try {
    clients[0]!.rrq(port, 'f');
    clients[1]!.rrq(port, 'f');
    const first = await clients[0]!.next();
    await clients[1]!.next();
    assert.equal(server.active, 2);
    clients[2]!.rrq(port, 'f');
    const busy = await clients[2]!.next();
    assert.ok(busy.packet.op === Op.ERROR && busy.packet.code === 0 && /server busy/.test(busy.packet.message));
    assert.ok(trace.events.some((e) => e.kind === 'tftp.transfer' && e.reason === 'busy'));
    // Finish the first transfer: a slot frees and the third client gets served.
    let r = first;
    for (;;) {
      if (r.packet.op !== Op.DATA) throw new Error('expected DATA');
      clients[0]!.send(encodeAck(r.packet.block), r.port);
      if (r.packet.data.length < 512) break;
      r = await clients[0]!.next();
    }
    for (let i = 0; i < 50 && server.active > 1; i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(server.active, 1);
    clients[2]!.rrq(port, 'f');
    assert.equal((await clients[2]!.next()).packet.op, Op.DATA);
    const done = trace.events.find((e) => e.reason === 'complete');
    assert.ok(done);
    assert.equal(done.data?.size, 2000);
    assert.equal(done.data?.blksize, 512);
  } finally {
    await server.stop();
    assert.equal(server.active, 0, 'stop() ends every transfer');
    for (const c of clients) await c.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
