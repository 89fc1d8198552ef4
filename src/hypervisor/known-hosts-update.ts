/**
 * Learning a reinstalled host's SSH host keys, without I/O: the installer reports its new public
 * host keys in its install-done call (authenticated by the per-install token), one `TYPE BASE64`
 * per line; parseReportedHostKeys() keeps the well-formed ones and replaceHostKeys() turns a
 * known_hosts text into one where that host's lines hold exactly those keys.
 *
 * The body comes from the network: every line is checked (type, base64, the type inside the key
 * blob, the blob's structure) and everything else is reported as rejected, never thrown.
 */
import { createHash } from 'node:crypto';
import ssh2 from 'ssh2'; // CommonJS: `utils` is not a named export
import { blobType, hostFieldMatches, hostForm } from './known-hosts.js';

/** Keys kept from one report; an installer has three or four (ed25519, ecdsa, rsa). */
export const REPORTED_KEYS_MAX = 16;
/** Largest report read at all; a real one is under 2 KiB. */
export const REPORTED_BYTES_MAX = 64 * 1024;

/** Key types accepted from an installer (what ssh2 can verify). */
const LINE = /^(ssh-ed25519|ecdsa-sha2-nistp(?:256|384|521)|ssh-rsa) ([A-Za-z0-9+/]+=*)$/;

/** One public host key, as reported and as written to known_hosts. */
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
  const parsed = ssh2.utils.parseKey(`${keyType} ${base64}`);
  if (parsed instanceof Error || parsed.type !== keyType) return 'malformed-key';
  if (taken.some((k) => k.base64 === base64)) return 'duplicate';
  if (taken.length >= REPORTED_KEYS_MAX) return 'too-many';
  return { keyType, base64, fingerprint: fingerprint(blob) };
}

/** The host whose lines are replaced: its address and the names it may be listed under. */
export interface KnownHostsTarget {
  address: string;
  /** The SSH port 3rc uses; new lines are written `[address]:port` when it is not 22. */
  port: number;
  /** Other names of the host (inventory name, FQDN). */
  names: readonly string[];
}

export interface ReplacedHostKeys {
  text: string;
  /** Lines dropped because they were only about this host. */
  removed: number;
  /** Lines kept for the other hosts they list, with this host taken out of the list. */
  narrowed: number;
}

/**
 * Replaces every line about `target` in a known_hosts text with one `HOST TYPE BASE64` line per
 * key. A line is about the host when its host field is a hashed entry of one of the host's names,
 * or a pattern list naming one of them literally (port 22 form, and `[name]:port` for the
 * configured port): the host's patterns are taken out of the list, and the line goes when no
 * other host is left in it. Wildcard patterns, negations, `@revoked` and `@cert-authority` lines,
 * comments and every other line are kept byte for byte. The new lines take the place of the first
 * line touched, or go at the end. `keys` must not be empty (that would only delete).
 */
export function replaceHostKeys(text: string, target: KnownHostsTarget, keys: readonly HostKey[]): ReplacedHostKeys {
  if (keys.length === 0) throw new RangeError('replaceHostKeys: no keys (that would only delete the host)');
  const forms = new Set<string>();
  for (const h of [target.address, ...target.names]) {
    forms.add(hostForm(h, 22));
    forms.add(hostForm(h, target.port));
  }
  const lines = text === '' ? [] : text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop(); // the final newline
  const out: string[] = [];
  let at = -1;
  let removed = 0;
  let narrowed = 0;
  for (const line of lines) {
    const kept = withoutHost(line, forms);
    if (kept === line) {
      out.push(line);
      continue;
    }
    if (at < 0) at = out.length;
    if (kept === null) removed++;
    else {
      narrowed++;
      out.push(kept);
    }
  }
  const host = hostForm(target.address, target.port);
  const fresh = keys.map((k) => `${host} ${k.keyType} ${k.base64}`);
  out.splice(at < 0 ? out.length : at, 0, ...fresh);
  return { text: `${out.join('\n')}\n`, removed, narrowed };
}

/** The line without the host's patterns: itself when untouched, null when nothing is left. */
function withoutHost(line: string, forms: ReadonlySet<string>): string | null {
  const m = /^([ \t]*)(\S+)([ \t].*)?$/s.exec(line.endsWith('\r') ? line.slice(0, -1) : line);
  if (!m || !m[3]) return line; // blank, or not a key line
  const [, lead, field] = m as unknown as [string, string, string];
  if (field.startsWith('#') || field.startsWith('@')) return line;
  if (field.startsWith('|1|')) return [...forms].some((f) => hostFieldMatches(field, f)) ? null : line;
  const patterns = field.split(',');
  const rest = patterns.filter((p) => !forms.has(p.toLowerCase()));
  if (rest.length === patterns.length) return line;
  if (!rest.some((p) => p !== '' && !p.startsWith('!'))) return null;
  return `${lead}${rest.join(',')}${line.slice(lead.length + field.length)}`;
}
