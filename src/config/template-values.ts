/**
 * What values that reach rendered kickstarts, preseeds and installer scripts may hold, checked
 * when the config is loaded and when a host arrives through the API (both use the schema).
 *
 * The templates quote every value they write into a shell ({{shq}}, src/render/shell.ts); these
 * rules are the second line, for the places a shell quote cannot protect:
 * - kickstart and preseed files are line-oriented, and a line of them may be a script
 *   (`%post`, `late_command`): a newline in a value would add lines of the attacker's choosing.
 *   So no string in `vars` (at any depth) holds a control character (tab is allowed).
 * - `role` names a folder of the role scripts and goes into DNS HINFO: a plain name
 *   (`^[a-z0-9][a-z0-9_-]{0,62}$`, what kickstarts/post-install/role.sh accepts too).
 * - `vars.sshKeys` land in authorized_keys and in kickstart `sshkey --username=root "KEY"` lines
 *   (read by pykickstart with shell-like quoting): each must be one public key, `TYPE BASE64
 *   [COMMENT]`, whose base64 blob decodes and names TYPE, and whose comment holds no control
 *   character, quote (' " `) or backslash. authorized_keys options (`from="..." ssh-ed25519 ...`)
 *   are refused: they are policy, not a key.
 * Host, profile and hypervisor names are DNS labels (RFC 1123) already, in the schema.
 */
import type { z } from 'zod';

export const ROLE_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const ROLE_EXPECTED = 'expected a role name: lowercase letters, digits, - and _, starting with a letter or digit, at most 63 characters';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

/** Why a public key line is not acceptable, or null when it is. */
function sshKeyProblem(line: string): string | null {
  if (CONTROL.test(line)) return 'holds a control character (a newline would add lines to authorized_keys and kickstarts)';
  const m = /^([a-z0-9][a-z0-9@.-]*) ([A-Za-z0-9+/]+={0,2})(?: (.*))?$/.exec(line);
  if (!m) return 'expected one public key: TYPE BASE64 [COMMENT], e.g. ssh-ed25519 AAAAC3Nz... user@host (no options, single spaces)';
  const [, type, blob, comment] = m as unknown as [string, string, string, string | undefined];
  // The blob starts with the key type as an SSH string (uint32 length, then the name).
  const bytes = Buffer.from(blob, 'base64');
  const n = bytes.length >= 4 ? bytes.readUInt32BE(0) : -1;
  if (n < 1 || 4 + n > bytes.length || bytes.subarray(4, 4 + n).toString('latin1') !== type) return `the base64 part is not a ${type} public key`;
  if (comment !== undefined && /['"`\\]/.test(comment)) return 'the comment holds a quote or a backslash';
  return null;
}

/**
 * zod superRefine of a `vars` mapping: no control characters in any string, and `sshKeys` a list
 * of public keys. Issues carry their path inside vars (`sshKeys[1]`, `motd.lines[0]`).
 */
export function checkTemplateVars(vars: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const walk = (v: unknown, path: (string | number)[]): void => {
    if (typeof v === 'string') {
      if (CONTROL.test(v)) ctx.addIssue({ code: 'custom', path, message: `a template variable must not hold a control character (a newline would add lines to kickstarts, preseeds and scripts), got ${JSON.stringify(v)}` });
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(vars, []);
  const keys = vars.sshKeys;
  if (keys === undefined) return;
  if (!Array.isArray(keys)) {
    ctx.addIssue({ code: 'custom', path: ['sshKeys'], message: 'expected a list of SSH public keys' });
    return;
  }
  keys.forEach((k, i) => {
    const why = typeof k === 'string' ? sshKeyProblem(k) : 'expected a string';
    if (why && !(typeof k === 'string' && CONTROL.test(k))) ctx.addIssue({ code: 'custom', path: ['sshKeys', i], message: `not an SSH public key: ${why}, got ${JSON.stringify(k)}` });
  });
}
