/**
 * The state a CLI command works on when no server runs: the store opened directly, the
 * inventory with the hosts changed through the API applied, and the boot table.
 */
import type { Config } from '../config/load.js';
import { BootTable } from '../inventory/boot-table.js';
import { HostCatalog } from '../inventory/catalog.js';
import { Inventory } from '../inventory/inventory.js';
import { systemClock } from '../lib/clock.js';
import { silentLogger } from '../lib/log.js';
import { openStore } from '../main.js';
import type { Store } from '../store/store.js';

export interface LocalState {
  store: Store;
  inventory: Inventory;
  bootTable: BootTable;
}

export async function withLocalState<T>(config: Config, fn: (s: LocalState) => Promise<T>): Promise<T> {
  const store = openStore(config, { exclusive: false });
  try {
    const inventory = Inventory.fromConfig(config);
    await new HostCatalog({ config, store, inventory, clock: systemClock, log: silentLogger }).load();
    const bootTable = await BootTable.load({ store, inventory, clock: systemClock });
    return await fn({ store, inventory, bootTable });
  } finally {
    await store.close();
  }
}
