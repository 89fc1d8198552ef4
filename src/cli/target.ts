/**
 * Where a CLI command reads and changes state: through the running server's API when one serves
 * this config's store (so its in-memory tables change too), else directly in the store. A server
 * that holds the store but cannot be reached is an error, never a silent second writer.
 */
import type { Config } from '../config/load.js';
import { readApiToken, TOKEN_ENV } from '../config/api-token.js';
import { ErrorCodes, StoreError, ThreeRcError } from '../lib/errors.js';
import { instanceId } from '../main.js';

export interface ApiTarget {
  kind: 'api';
  url: string;
  /** Calls the API; throws ThreeRcError with the server's reason on a non-2xx answer. */
  call<T>(method: string, path: string, body?: unknown, o?: { timeoutMs?: number }): Promise<T>;
}

/** Base URL of the config's HTTP server, reached from this machine. */
function apiBaseUrl(config: Config): string {
  const { listen, port } = config.servers.http;
  const host = listen === '0.0.0.0' ? '127.0.0.1' : listen;
  return `http://${host}:${port}`;
}

/** The running server's API, or undefined when none answers (connection refused). */
export async function findApi(config: Config, env: NodeJS.ProcessEnv): Promise<ApiTarget | undefined> {
  if (!config.servers.http.enabled) return undefined;
  const url = apiBaseUrl(config);
  let health: { service?: string; instance?: string };
  try {
    const res = await fetch(`${url}/api/v1/health`, { signal: AbortSignal.timeout(3000) });
    health = (await res.json()) as typeof health;
  } catch {
    return undefined;
  }
  if (health.service !== '3rc') throw new ThreeRcError(ErrorCodes.API, `${url} answers, but it is not 3rc`);
  if (health.instance !== instanceId(config)) {
    throw new ThreeRcError(ErrorCodes.API, `the 3rc at ${url} serves another store than ${config.store.path}: refusing to change it`);
  }
  const token = readApiToken(config, env);
  return {
    kind: 'api',
    url,
    async call<T>(method: string, path: string, body?: unknown, o: { timeoutMs?: number } = {}): Promise<T> {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (token) headers.authorization = `Bearer ${token.token}`;
      const res = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(o.timeoutMs ?? 10_000) });
      const data = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
      if (!res.ok) {
        const hint = res.status === 401 || res.status === 403 ? ` (set ${TOKEN_ENV} or api.tokenFile to this server's token)` : '';
        throw new ThreeRcError(ErrorCodes.API, `${method} ${path}: ${res.status} ${data.error?.message ?? res.statusText}${hint}`);
      }
      return data as T;
    },
  };
}

/** Explains a locked store in CLI terms. */
export function storeLockedMessage(config: Config, err: StoreError): string {
  if (err.code !== ErrorCodes.STORE_LOCKED) return err.message;
  const via = config.servers.http.enabled ? `its API at ${apiBaseUrl(config)} does not answer` : 'its HTTP server is disabled (servers.http.enabled: false)';
  return `a running 3rc holds the store ${config.store.path}, but ${via}; change it through that server, or stop it first`;
}
