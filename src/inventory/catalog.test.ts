/** Power commands (run on the 3rc host) come from the config file only, whatever the API or the store holds. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../config/load.js';
import { FakeClock } from '../lib/clock.js';
import { InputError } from '../lib/errors.js';
import { silentLogger } from '../lib/log.js';
import { packageRoot } from '../lib/paths.js';
import { MemoryStore } from '../store/memory.js';
import { HostCatalog, hostAsInput } from './catalog.js';
import { Inventory } from './inventory.js';

const lab = join(packageRoot(), 'examples', 'lab.yaml');
const cycle = 'ipmitool -H {{bmc}} chassis power cycle';
const phys16 = { name: 'phys16', mac: '52:54:00:77:00:16', ip: '10.77.0.16', profile: 'debian12-image', role: 'services', vars: { bmc: '10.77.9.16' } };

async function setup(store = new MemoryStore()) {
  const raw = parse(readFileSync(lab, 'utf8')) as Record<string, unknown>;
  raw.hosts = [...(raw.hosts as unknown[]), { ...phys16, power: { cycle, timeout: '5s' } }];
  const config = parseConfig(stringify(raw), lab);
  const inventory = Inventory.fromConfig(config);
  const warnings: string[] = [];
  const log = { ...silentLogger, warn: (_o: unknown, msg: string) => void warnings.push(msg), error: () => undefined } as unknown as typeof silentLogger;
  const catalog = new HostCatalog({ config, store, inventory, clock: new FakeClock(), log });
  await catalog.load();
  return { catalog, inventory, store, warnings };
}

describe('host catalog: power commands', () => {
  it('refuses a host that sets power commands, new or replacing, and stores none', async () => {
    const { catalog, inventory, store } = await setup();
    const evil = { cycle: 'touch /tmp/pwned', timeout: '5s' };
    await assert.rejects(catalog.put({ ...phys16, name: 'phys17', mac: '52:54:00:77:00:17', ip: '10.77.0.17', power: evil }), (e: InputError) => e instanceof InputError && e.field === 'power' && /config file only/.test(e.message));
    await assert.rejects(catalog.put({ ...phys16, power: evil }, 'phys16'), (e: InputError) => e.field === 'power');
    await assert.rejects(catalog.put({ ...phys16, power: { cycle, timeout: '5s' } }, 'phys16'), (e: InputError) => e.field === 'power', 'even the same commands');
    assert.equal(inventory.hostByName('phys17'), undefined);
    assert.deepEqual(await store.listHostOverrides(), []);
  });

  it("a host changed through the API keeps the config file's power commands, and the override does not hold them", async () => {
    const { catalog, inventory, store } = await setup();
    const h = await catalog.put({ ...phys16, role: 'middleware' }, 'phys16');
    assert.equal(h.power?.cycle, cycle);
    assert.equal(inventory.hostByName('phys16')!.power?.timeout, 5000);
    // As the P2V flow does once the VM runs: the host as input again, with its hypervisor.
    const vm = await catalog.put({ ...hostAsInput(h), hypervisor: 'hv1' }, 'phys16');
    assert.equal(vm.power?.cycle, cycle);
    const stored = await store.listHostOverrides();
    assert.ok(stored.length > 0 && stored.every((o) => o.host === null || !('power' in o.host)), JSON.stringify(stored));
    // At the next start too.
    const again = await setup(store);
    assert.equal(again.inventory.hostByName('phys16')!.hypervisor, 'hv1');
    assert.equal(again.inventory.hostByName('phys16')!.power?.cycle, cycle);
  });

  it('drops the power commands of an override stored by an older 3rc', async () => {
    const store = new MemoryStore();
    await store.write([
      { op: 'putHostOverride', override: { name: 'phys16', host: { ...phys16, power: { cycle: 'touch /tmp/pwned', timeout: '5s' } }, updatedAt: 1 } },
      { op: 'putHostOverride', override: { name: 'phys18', host: { ...phys16, name: 'phys18', mac: '52:54:00:77:00:18', ip: '10.77.0.18', power: { cycle: 'touch /tmp/pwned', timeout: '5s' } }, updatedAt: 1 } },
    ]);
    const { inventory, warnings } = await setup(store);
    assert.equal(inventory.hostByName('phys16')!.power?.cycle, cycle, "the config file's");
    assert.equal(inventory.hostByName('phys18')!.power, undefined, 'none in the config file');
    assert.equal(warnings.length, 2);
  });
});
