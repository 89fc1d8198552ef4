/**
 * Values printed into YAML templates (cloud-init's `#cloud-config`, Ubuntu's autoinstall), as the
 * `{{yq value}}` template helper: one flow node that a YAML parser reads back as exactly the value,
 * whatever it holds (`: `, `#`, quotes, a leading `-` or `*`, `yes`/`no`, a number-like string).
 *
 * The node is JSON (a subset of YAML 1.2's flow style) with every character outside printable
 * ASCII escaped: PyYAML (cloud-init's parser, YAML 1.1) treats U+0085, U+2028 and U+2029 as line
 * breaks, and refuses other C1 controls in its input even inside quotes; as escapes they are just
 * characters. Characters beyond the BMP are written `\UXXXXXXXX` (YAML's 8-digit escape), not as a
 * surrogate pair, which PyYAML would decode to two lone surrogates. Strings, numbers, booleans,
 * null, lists and plain mappings are printed; anything else (a function, a class instance, a lone
 * surrogate, a non-finite number) is an error, since its text would be a guess.
 */

/** Escapes every character outside printable ASCII (and the JSON escapes already there stay). */
function escapeOutsideAscii(json: string): string {
  let out = '';
  for (const ch of json) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x20 && cp < 0x7f) out += ch;
    else if (cp <= 0xffff) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return out;
}

/** A lone UTF-16 surrogate (u-mode: a proper pair is one code point, not matched). */
const LONE_SURROGATE = /\p{Cs}/u;

function check(value: unknown, path: string): void {
  if (typeof value === 'string') {
    // JSON.stringify writes it as \udXXX, which PyYAML would decode to a broken string.
    if (LONE_SURROGATE.test(value)) throw new Error(`yq: ${path} holds a lone UTF-16 surrogate, which is no character`);
    return;
  }
  if (value === null || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`yq: ${path} is ${value}, which YAML would not read back as a number`);
    return;
  }
  if (Array.isArray(value)) return value.forEach((v, i) => check(v, `${path}[${i}]`));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      check(k, `a key of ${path}`);
      check(v, `${path}.${k}`);
    }
    return;
  }
  throw new Error(`yq: ${path} is ${value === undefined ? 'undefined' : typeof value}, not plain data (a string, number, boolean, null, list or mapping)`);
}

/** A value as one YAML flow node; null and undefined print as `null`. */
export function yamlValue(value: unknown): string {
  if (value === undefined) return 'null';
  check(value, 'the value');
  return escapeOutsideAscii(JSON.stringify(value));
}

/**
 * The handlebars helper: `{{yq value}}`; `{{yq value string=true}}` prints a number or boolean as
 * a string (`"53"`), for the places a schema wants strings (an argv list, an environment value).
 */
export function yqHelper(...args: unknown[]): string {
  // Handlebars passes its options object last: `{{yq}}` alone would print that object.
  if (args.length !== 2) throw new Error(`yq: expected one value, got ${args.length - 1}`);
  const [value, options] = args as [unknown, { hash?: Record<string, unknown> } | undefined];
  if (options?.hash?.string) {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') throw new Error(`yq: string=true takes a string, number or boolean, got ${value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value}`);
    return yamlValue(String(value));
  }
  return yamlValue(value);
}
