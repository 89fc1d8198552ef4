/**
 * Learning a reinstalled host's SSH host keys, without I/O: the installer reports its new public
 * host keys in its install-done call (authenticated by the per-install token), one `TYPE BASE64`
 * per line; parseReportedHostKeys() keeps the well-formed ones, which learned-keys.ts records in
 * the store as the host's keys.
 *
 * The body comes from the network: every line is checked (type, base64, the type inside the key
 * blob, the blob's structure) and everything else is reported as rejected, never thrown.
 */
import { createHash } from 'node:crypto';
import { lazyRequire } from '../lib/lazy.js';
import { blobType } from './known-hosts.js';

/** ssh2, loaded at the first report (lib/lazy.ts). */
const ssh2 = lazyRequire<typeof import('ssh2')>('ssh2');

/** Keys kept from one report; an installer has three or four (ed25519, ecdsa, rsa). */
export const REPORTED_KEYS_MAX = 16;
/** Largest report read at all; a real one is under 2 KiB. */
export const REPORTED_BYTES_MAX = 64 * 1024;

/** Key types accepted from an installer (what ssh2 can verify). */
const LINE = /^(ssh-ed25519|ecdsa-sha2-nistp(?:256|384|521)|ssh-rsa) ([A-Za-z0-9+/]+=*)$/;

/** One public host key, as reported and as stored. */
export interface HostKey {
  keyType: string;
  /** The key blob in base64, exactly as it appears in known_hosts. */
  base64: string;
  /** `SHA256:...` as `ssh-keygen -lf` prints it. */
  fingerprint: string;
}

/** Why a line of a report was not taken (1-based line numbers). */
export interface RejectedLine {
  line: number;
  reason: 'syntax' | 'type-mismatch' | 'malformed-key' | 'duplicate' | 'too-many';
}

export interface ReportedHostKeys {
  keys: HostKey[];
  rejected: RejectedLine[];
  /** The body was over REPORTED_BYTES_MAX: nothing was read. */
  tooLarge: boolean;
}

/** `SHA256:base64` (unpadded) of a key blob, like ssh-keygen -l. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * The host keys in an install-done body. Empty lines are ignored (an older installer posts
 * nothing); any other line that is not a well-formed `TYPE BASE64` key is rejected.
 */
export function parseReportedHostKeys(body: string): ReportedHostKeys {
  if (Buffer.byteLength(body, 'utf8') > REPORTED_BYTES_MAX) return { keys: [], rejected: [], tooLarge: true };
  const keys: HostKey[] = [];
  const rejected: RejectedLine[] = [];
  const lines = body.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!.endsWith('\r') ? lines[i]!.slice(0, -1) : lines[i]!;
    if (text === '') continue;
    const reason = checkLine(text, keys);
    if (typeof reason === 'string') rejected.push({ line: i + 1, reason });
    else keys.push(reason);
  }
  return { keys, rejected, tooLarge: false };
}

function checkLine(text: string, taken: readonly HostKey[]): HostKey | RejectedLine['reason'] {
  const m = LINE.exec(text);
  if (!m) return 'syntax';
  const [, keyType, base64] = m as unknown as [string, string, string];
  const blob = Buffer.from(base64, 'base64');
  // Buffer.from skips what is not base64; a round trip shows that nothing was skipped.
  if (blob.toString('base64') !== base64) return 'syntax';
  if (blobType(blob) !== keyType) return 'type-mismatch';
  const parsed = ssh2().utils.parseKey(`${keyType} ${base64}`);
  if (parsed instanceof Error || parsed.type !== keyType) return 'malformed-key';
  if (taken.some((k) => k.base64 === base64)) return 'duplicate';
  if (taken.length >= REPORTED_KEYS_MAX) return 'too-many';
  return { keyType, base64, fingerprint: fingerprint(blob) };
}
