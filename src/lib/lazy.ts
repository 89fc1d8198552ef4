/**
 * CommonJS packages loaded on first use rather than at start-up (issue 26: memory). A package a
 * serving 3rc may never need costs its code and heap all the same once imported: etcd3 (with
 * gRPC and protobufjs) about 20 MB of RSS for a 3rc on SQLite, ssh2 about 8 MB with HA off,
 * fast-xml-parser a few MB without Ganglia. Types are still imported with `import type`.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A loader of the package `name` (synchronous, loaded once, at the first call). */
export function lazyRequire<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(name) as T);
}
