/**
 * A config reload is all or nothing: what can fail (the file, the store's host overrides) is read
 * before anything is switched, so a failed reload leaves the running config, inventory and boot
 * table as they were; the next reload applies the whole change, boot entries included.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { loadConfig } from '../src/config/load.js';
import { silentLogger } from '../src/lib/log.js';
import { startServer } from '../src/main.js';
import { writeLabConfig } from './lib/serve.js';

const vm30 = { name: 'vm30', mac: '52:54:00:77:00:30', ip: '10.77.0.30', profile: 'debian12', role: 'services' };

test('a reload whose store read fails changes nothing; the next one applies all of it, the boot entry too', async () => {
  const cfg = await writeLabConfig({ servers: { dns: { enabled: false }, dhcp: { enabled: false } } });
  const config = loadConfig(cfg.file);
  const running = await startServer(config, silentLogger);
  try {
    const hostsBefore = config.hosts.length;
    writeFileSync(cfg.file, stringify({ ...cfg.data, hosts: [...(cfg.data.hosts as unknown[]), vm30] }));
    const store = running.store as { listHostOverrides: () => Promise<unknown> };
    const real = store.listHostOverrides.bind(store);
    store.listHostOverrides = () => Promise.reject(new Error('store unavailable (test)'));
    await assert.rejects(running.reload(), /store unavailable/);
    assert.equal(config.hosts.length, hostsBefore, 'the running config is the old one');
    assert.equal(running.inventory.hosts().some((h) => h.name === 'vm30'), false);
    assert.equal(running.bootTable.get(vm30.mac), undefined);
    store.listHostOverrides = real;
    const plan = await running.reload();
    assert.ok(plan, 'reloaded');
    assert.equal(config.hosts.length, hostsBefore + 1);
    assert.equal(running.inventory.hosts().find((h) => h.name === 'vm30')?.ip, '10.77.0.30');
    assert.equal(running.bootTable.get(vm30.mac)?.mode, 'local', 'the new host got its boot entry');
  } finally {
    await running.stop();
    cfg.cleanup();
  }
});
