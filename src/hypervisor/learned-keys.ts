/**
 * SSH host keys 3rc learns from installers (their install-done call, token-authenticated) live in
 * the Store (issue 20): a redundant 3rc (etcd) has them on every instance, and SQLite keeps them
 * across a kill -9, which a local known_hosts file of one instance could not promise. A report
 * replaces the host's whole record. Guest SSH (ssh.ts) reads the record for every new connection
 * and, when there is one, accepts only those keys for the host; the operator's known_hosts file
 * (ha.guestSsh.knownHosts), when configured, is only read: a seed for hosts never reinstalled, and
 * its @revoked lines still refuse a key.
 */
import type { Clock } from '../lib/clock.js';
import type { LearnedKey, Store } from '../store/store.js';
import type { HostKey } from './known-hosts-update.js';

/** What an update did, for the log and the event. */
export interface HostKeysWritten {
  /** Where the keys went: the store's kind (`sqlite`, `etcd`, ...). */
  store: string;
  /** Keys the host had before (now forgotten). */
  replaced: number;
  written: number;
}

/** Where install-done reports of host keys go (one-line fakes in tests). */
export interface HostKeySink {
  /** Makes `keys` the only known keys of the host; rejects when the store cannot write. */
  learn(host: { name: string; ip: string }, keys: readonly HostKey[]): Promise<HostKeysWritten>;
}

/** The sink main.ts wires when ha.guestSsh.learnHostKeys is on. */
export function storeHostKeySink(store: Store, clock: Clock): HostKeySink {
  return {
    async learn(host, keys) {
      if (keys.length === 0) throw new RangeError('learn: no keys (that would only forget the host)');
      const before = await store.getHostKeys(host.name);
      const record = { host: host.name, address: host.ip, keys: keys.map((k) => ({ keyType: k.keyType, base64: k.base64, fingerprint: k.fingerprint })), learnedAt: clock.now() };
      await store.write([{ op: 'putHostKeys', record }]);
      return { store: store.kind, replaced: before?.keys.length ?? 0, written: keys.length };
    },
  };
}

/** The learned-keys source of an SSH target (SshTarget.learnedKeys): the host's record, read at each call. */
export function learnedKeysOf(store: Store, host: string): () => Promise<readonly LearnedKey[] | null> {
  return async () => (await store.getHostKeys(host))?.keys ?? null;
}
