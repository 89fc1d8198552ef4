/**
 * OpenSSH known_hosts files, parsed and matched without I/O (sshd(8) "SSH_KNOWN_HOSTS FILE
 * FORMAT"). 3rc never accepts a host key it cannot find here: an unknown host or a changed key is
 * refused, exactly like `StrictHostKeyChecking yes`.
 *
 * Supported: plain names and addresses, comma-separated patterns with `*`, `?` and `!` negation,
 * the `[host]:port` form used for ports other than 22, hashed `|1|salt|hash` entries
 * (HMAC-SHA1 of the host string, keyed by the salt), and the `@revoked` marker. Lines marked
 * `@cert-authority` are skipped: 3rc does not verify host certificates.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** One usable known_hosts line. */
export interface KnownHostEntry {
  /** 1-based line number, for messages. */
  line: number;
  marker: 'revoked' | null;
  /** The host field as written (patterns or a hashed entry). */
  hosts: string;
  /** ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa, ... (the type inside the key blob). */
  keyType: string;
  /** The raw public key blob (what the server sends during key exchange). */
  key: Buffer;
}

/** Parses a known_hosts file; malformed lines are skipped (OpenSSH does the same). */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const fields = raw.split(/[ \t]+/);
    let marker: KnownHostEntry['marker'] = null;
    if (fields[0]!.startsWith('@')) {
      const m = fields.shift()!;
      if (m === '@revoked') marker = 'revoked';
      else continue; // @cert-authority, or an unknown marker
    }
    if (fields.length < 3) continue;
    const [hosts, keyType, b64] = fields as [string, string, string];
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) continue;
    const key = Buffer.from(b64, 'base64');
    // The blob starts with its own type name; a line whose two disagree is corrupt.
    if (blobType(key) !== keyType) continue;
    out.push({ line: i + 1, marker, hosts, keyType, key });
  }
  return out;
}

/** The key type string at the start of an SSH public key blob, or null. */
export function blobType(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const n = blob.readUInt32BE(0);
  if (n === 0 || n > 64 || blob.length < 4 + n) return null;
  return blob.subarray(4, 4 + n).toString('latin1');
}

/** How a host is written in known_hosts: `host` on port 22, `[host]:port` otherwise. */
export function hostForm(host: string, port: number): string {
  return port === 22 ? host.toLowerCase() : `[${host.toLowerCase()}]:${port}`;
}

/** Does a known_hosts host field (patterns or `|1|salt|hash`) name this host string? */
export function hostFieldMatches(field: string, host: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    const want = Buffer.from(hash, 'base64');
    const got = createHmac('sha1', Buffer.from(salt, 'base64')).update(host).digest();
    return want.length === got.length && timingSafeEqual(want, got);
  }
  let matched = false;
  for (const pat of field.split(',')) {
    if (pat === '') continue;
    const negated = pat.startsWith('!');
    if (wildcard(negated ? pat.slice(1) : pat, host)) {
      if (negated) return false; // a matching negation overrides every positive match
      matched = true;
    }
  }
  return matched;
}

/** OpenSSH pattern: `*` any run, `?` one character, case-insensitive, whole string. */
function wildcard(pattern: string, s: string): boolean {
  const re = new RegExp(`^${pattern.toLowerCase().replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
  return re.test(s.toLowerCase());
}

/** The result of checking a presented host key. */
export type HostKeyVerdict =
  /** A line for this host holds exactly this key. */
  | { result: 'match'; line: number }
  /** Lines for this host exist, none with this key: a changed key, or someone in the middle. */
  | { result: 'mismatch'; lines: number[] }
  /** No line names this host. */
  | { result: 'unknown' }
  /** The key is listed under @revoked. */
  | { result: 'revoked'; line: number };

/**
 * Checks a server's host key blob against the entries for any of `hosts` (host strings already in
 * hostForm, e.g. the address and the inventory name). A revoked key is refused even when another
 * line accepts it.
 */
export function checkHostKey(entries: readonly KnownHostEntry[], hosts: readonly string[], key: Buffer): HostKeyVerdict {
  for (const e of entries) {
    if (e.marker === 'revoked' && e.key.equals(key)) return { result: 'revoked', line: e.line };
  }
  const seen: number[] = [];
  for (const e of entries) {
    if (e.marker !== null || !hosts.some((h) => hostFieldMatches(e.hosts, h))) continue;
    if (e.key.equals(key)) return { result: 'match', line: e.line };
    seen.push(e.line);
  }
  return seen.length > 0 ? { result: 'mismatch', lines: seen } : { result: 'unknown' };
}

/** Key types listed for these hosts, in file order (to offer only host key algorithms we can check). */
export function knownKeyTypes(entries: readonly KnownHostEntry[], hosts: readonly string[]): string[] {
  const types: string[] = [];
  for (const e of entries) {
    if (e.marker === null && !types.includes(e.keyType) && hosts.some((h) => hostFieldMatches(e.hosts, h))) types.push(e.keyType);
  }
  return types;
}

/**
 * Host key algorithms to offer for the key types we hold. An RSA key can be proven with three
 * signature algorithms (RFC 8332); the others with their own name only.
 */
export function hostKeyAlgorithms(keyTypes: readonly string[]): string[] {
  const out: string[] = [];
  for (const t of keyTypes) {
    const algs = t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t];
    for (const a of algs) if (!out.includes(a)) out.push(a);
  }
  return out;
}
