/**
 * The etcd store from the config (store.kind etcd): endpoints, prefix, TLS files (relative to the
 * config file). A store opened for the CLI (not serving) reads only: with several instances on one
 * store, a change behind the leader's back would never reach its memory, so it goes through the
 * leader's API or not at all.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Config } from '../config/load.js';
import { ErrorCodes, NotLeaderError, StoreError } from '../lib/errors.js';
import { EtcdStore, type EtcdTls } from '../store/etcd.js';

export function openEtcdStore(config: Pick<Config, 'store' | 'source'>, opts: { serving: boolean }): EtcdStore {
  const e = config.store.etcd;
  if (!e) throw new StoreError(ErrorCodes.STORE_OPEN, 'store.kind etcd needs store.etcd (endpoints)');
  let tls: EtcdTls | undefined;
  if (e.tls) {
    const file = (field: 'ca' | 'cert' | 'key'): Buffer | undefined => {
      const p = e.tls![field];
      if (p === undefined) return undefined;
      const path = isAbsolute(p) ? p : resolve(dirname(config.source), p);
      try {
        return readFileSync(path);
      } catch (err) {
        throw new StoreError(ErrorCodes.STORE_OPEN, `store.etcd.tls.${field}: cannot read ${path}: ${(err as Error).message}`, { cause: err });
      }
    };
    tls = { ca: file('ca')!, cert: file('cert'), key: file('key') };
  }
  const store = new EtcdStore({ endpoints: e.endpoints, prefix: e.prefix, tls });
  if (!opts.serving) {
    store.setFencing({
      current: () => null,
      refused: () => new NotLeaderError(`the store is etcd, shared by redundant 3rc instances: changes go through the leader's API, and no 3rc server answered (${e.endpoints.join(', ')} ${e.prefix})`, null),
    });
  }
  return store;
}

/** Identifies the shared store (same for every instance of one redundant 3rc). */
export function etcdStoreId(config: Pick<Config, 'store'>): string {
  const e = config.store.etcd;
  return `etcd:${[...(e?.endpoints ?? [])].sort().join(',')}${e?.prefix ?? ''}`;
}
