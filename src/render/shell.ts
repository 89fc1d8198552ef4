/**
 * Quoting for the POSIX shell, as the `{{shq value}}` template helper, and the `3rc lint` check
 * that finds template variables written into a shell context without it.
 *
 * `{{shq value}}` renders one single-quoted word (`'it'\''s'`): the shell reads it back as exactly
 * the value, whatever it holds (`$(...)`, backticks, `;`, quotes). null and undefined render as
 * `''`; numbers and booleans as their text; anything else (a list, a mapping) is an error, since
 * its text would be handlebars' guess.
 *
 * `{{shq value nest=1}}` is for a value inside an already single-quoted script that a second
 * shell runs, as in a preseed's `late_command string in-target sh -c '... {{shq v nest=1}} ...'`:
 * the first shell (debian-installer runs the late_command with `sh -c`) strips one layer of
 * quoting, the `sh -c` inside the target reads the second. Each level of `nest` re-quotes the
 * quoted word for one more enclosing single-quoted string (every `'` becomes `'\''`).
 */
import { shQuote } from '../lib/command-template.js';

/** A value quoted for the shell, `nest` times more for enclosing single-quoted strings. */
export function shellQuote(value: unknown, nest = 0): string {
  let text: string;
  if (value === null || value === undefined) text = '';
  else if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean') text = String(value);
  else throw new Error(`shq: expected a string, number or boolean, got ${Array.isArray(value) ? 'a list' : typeof value}`);
  // A NUL byte cannot be part of a shell word (nor of an argv string): refuse, never truncate.
  if (text.includes('\0')) throw new Error('shq: the value holds a NUL byte, which no shell word can carry');
  if (!Number.isInteger(nest) || nest < 0 || nest > 4) throw new Error(`shq: nest must be an integer from 0 to 4, got ${String(nest)}`);
  let out = shQuote(text);
  for (let i = 0; i < nest; i++) out = out.replace(/'/g, `'\\''`);
  return out;
}

/** The handlebars helper: `{{shq value}}`, `{{shq value nest=1}}`. */
export function shqHelper(value: unknown, options: { hash?: Record<string, unknown> }): string {
  return shellQuote(value, options?.hash?.nest === undefined ? 0 : Number(options.hash.nest));
}

export interface UnquotedUse {
  /** 1-based line in the template source. */
  line: number;
  /** The expression as written, e.g. `{{vars.image}}`. */
  expression: string;
  /** The context it is in: `%post`, `late_command`, `sh -c`, `script`, or `cloud-config` (YAML). */
  context: string;
}

/** Kickstart sections whose body is a shell script. */
const SCRIPT_SECTIONS = /^%(pre|pre-install|post|onerror|traceback)\b/;
/** debconf questions whose value is a shell command line. */
const COMMAND_QUESTIONS = /\b(preseed\/late_command|preseed\/early_command|partman\/early_command|preseed\/run)\b/;

/**
 * Output expressions (`{{x}}`, `{{{x}}}`, `{{helper x}}`) in the line that are not `{{shq ...}}`.
 * Block and control tags (`{{#if}}`, `{{/each}}`, `{{else}}`, `{{> partial}}`, comments) print no
 * data and are not uses.
 */
function unquotedIn(line: string, quoting: RegExp = /^shq(\s|$)/): string[] {
  const found: string[] = [];
  for (const m of line.matchAll(/\{\{\{?~?\s*([^}]*?)\s*~?\}?\}\}/g)) {
    const body = m[1]!;
    if (/^[#/>!^&]/.test(body) || body === 'else' || body.startsWith('else ')) continue;
    if (quoting.test(body)) continue;
    found.push(m[0]);
  }
  return found;
}

/**
 * A heuristic over a template's source (not its output): every variable printed inside a shell
 * context without `{{shq ...}}`. Shell contexts: the whole file when it is a script (named
 * `*.sh.hbs`, or starting with `#!/` and a shell); kickstart `%pre`/`%post`/`%onerror`/
 * `%traceback` sections up to `%end`; preseed `late_command`/`early_command` lines (with their
 * `\` continuation lines); and any other line that runs `sh -c`/`bash -c`. Comment lines of a
 * script are skipped (names and addresses there are validated and hold no newline).
 */
export function findUnquoted(source: string, fileName: string): UnquotedUse[] {
  const lines = source.split('\n');
  const first = lines[0] ?? '';
  // A cloud-config (NoCloud user-data, autoinstall) is YAML: a value goes in as one YAML node
  // ({{yq ...}}), or as one shell word ({{shq ...}}) inside a literal block that a shell reads.
  if (/^#cloud-config\s*$/.test(first)) {
    return lines.flatMap((raw, i) => (/^\s*#/.test(raw) ? [] : unquotedIn(raw, /^(yq|shq)(\s|$)/).map((expression) => ({ line: i + 1, expression, context: 'cloud-config' }))));
  }
  const wholeScript = /\.(sh|bash)\.hbs$/.test(fileName) || /^#!\s*\/\S*\b(sh|bash|dash|ash|ksh|zsh)\b/.test(first) || /^#!\s*\/usr\/bin\/env\s+(sh|bash)\b/.test(first);
  const out: UnquotedUse[] = [];
  let section: string | null = null;
  let continued: string | null = null;
  let inComment = false;
  lines.forEach((raw, i) => {
    const line = raw.trim();
    // Handlebars block comments ({{!-- ... --}}) may span lines and print nothing.
    if (inComment) {
      if (line.includes('--}}')) inComment = false;
      return;
    }
    if (line.startsWith('{{!--') && !line.includes('--}}')) {
      inComment = true;
      return;
    }
    let context: string | null = null;
    if (wholeScript) context = 'script';
    if (SCRIPT_SECTIONS.test(line)) {
      section = line.split(/\s+/)[0]!;
      return;
    }
    if (line === '%end') {
      section = null;
      return;
    }
    if (section) context = section;
    const question = COMMAND_QUESTIONS.exec(line);
    if (question) context = question[1]!.split('/')[1]!;
    else if (continued) context = continued;
    else if (/\b(sh|bash)\s+-c\b/.test(line)) context = 'sh -c';
    continued = context !== null && context !== 'script' && !section && line.endsWith('\\') ? context : null;
    if (!context) return;
    if (context === 'script' || section) {
      if (line.startsWith('#') && !line.startsWith('#!')) return;
    }
    for (const expression of unquotedIn(raw)) out.push({ line: i + 1, expression, context });
  });
  return out;
}
