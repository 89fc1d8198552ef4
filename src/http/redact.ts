/**
 * Per-install tokens are credentials: whatever 3rc records or shows of what a host sent (an
 * installer's log, which quotes its kernel command line and the URLs it fetched) has them
 * replaced by `<redacted>` first. Only the owner's own answers (its iPXE script, its kickstart)
 * and the operator's authenticated preview (`3rc render`) carry a token.
 */

const REDACTED = '<redacted>';

/** `token=VALUE` in URLs and kernel arguments (the value ends at &, whitespace, a quote or <). */
const TOKEN_PARAM = /(\btoken=)[^&\s"'<>]+/gi;

/** The text with every `token=VALUE` and every occurrence of the given tokens redacted. */
export function redactTokens(text: string, ...tokens: (string | null | undefined)[]): string {
  let out = text.replace(TOKEN_PARAM, `$1${REDACTED}`);
  for (const t of tokens) if (t && t.length >= 8) out = out.split(t).join(REDACTED);
  return out;
}
