/**
 * The handlebars environment every 3rc template is rendered in: compiled with `noEscape` (these
 * are kickstarts and boot scripts, not HTML: default escaping turns `=` into `&#x3D;`) and
 * `strict` (a missing variable is an error naming the file and line, not a silent empty string);
 * prototype access stays closed (handlebars' default). `{{shq value}}` quotes a value for the
 * POSIX shell: every value a template writes into a script goes through it; `{{yq value}}` prints
 * a value as one YAML node (render/yaml-value.ts) for `#cloud-config` templates. Partials are the files under
 * templates/partials/, named by their path without `.hbs` (`preseed/network`).
 *
 * Templates are re-read when their file changes (checked at most once a second), so an operator
 * editing a kickstart sees the change on the next request without restarting 3rc.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import Handlebars from 'handlebars';
import { TemplateError } from '../lib/errors.js';
import { shqHelper } from './shell.js';
import { yqHelper } from './yaml-value.js';

type Compiled = (ctx: unknown, options?: unknown) => string;

interface Cached {
  mtimeMs: number;
  fn: Compiled;
  checkedAt: number;
}

const OPTIONS = { noEscape: true, strict: true } as const;

/** Line of a handlebars error (`... - 12:4`, or the error's own lineNumber). */
function errorLine(err: unknown): number | undefined {
  const e = err as { lineNumber?: number; message?: string };
  if (typeof e.lineNumber === 'number') return e.lineNumber;
  const m = / - (\d+):\d+$/.exec(e.message ?? '') ?? /on line (\d+)/.exec(e.message ?? '');
  return m ? Number(m[1]) : undefined;
}

function cleanMessage(err: unknown): string {
  return String((err as Error).message ?? err).split('\n')[0]!.replace(/ in \[object Object\]/, '').replace(/ - \d+:\d+$/, '');
}

/** A handlebars environment with 3rc's helpers: `shq` quotes a value for the POSIX shell (src/render/shell.ts), `yq` for YAML (src/render/yaml-value.ts). */
export function createHandlebars(): typeof Handlebars {
  const hb = Handlebars.create();
  hb.registerHelper('shq', shqHelper);
  hb.registerHelper('yq', yqHelper);
  return hb;
}

function walk(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.hbs') ? [p] : [];
  });
}

export class TemplateEngine {
  private hb = createHandlebars();
  private cache = new Map<string, Cached>();
  private partialStamp = '';
  private checkedAt = 0;

  constructor(readonly dirs: { templates: string; kickstarts: string }) {}

  /** Renders a template file (absolute path) with ctx. Throws TemplateError. */
  render(file: string, ctx: unknown, host?: string): string {
    this.refreshIfStale();
    const fn = this.compiled(file);
    try {
      return fn(ctx);
    } catch (err) {
      if (err instanceof TemplateError) throw new TemplateError(err.detail, err.file, err.line, host);
      throw this.locate(file, err, host);
    }
  }

  /** Files of the main templates: kickstarts/NAME, templates/NAME. */
  kickstartFile(name: string): string {
    return join(this.dirs.kickstarts, name);
  }

  templateFile(name: string): string {
    return join(this.dirs.templates, name);
  }

  private compiled(file: string): Compiled {
    const cached = this.cache.get(file);
    const now = Date.now();
    if (cached && now - cached.checkedAt < 1000) return cached.fn;
    let mtimeMs: number;
    let source: string;
    try {
      mtimeMs = statSync(file).mtimeMs;
      if (cached && cached.mtimeMs === mtimeMs) {
        cached.checkedAt = now;
        return cached.fn;
      }
      source = readFileSync(file, 'utf8');
    } catch (err) {
      throw new TemplateError(`cannot read template: ${(err as Error).message}`, file);
    }
    let fn: Compiled;
    try {
      fn = this.hb.compile(source, OPTIONS) as Compiled;
      // Handlebars compiles lazily: force it now so syntax errors name this file.
      this.hb.precompile(source, OPTIONS);
    } catch (err) {
      throw new TemplateError(cleanMessage(err), file, errorLine(err));
    }
    this.cache.set(file, { mtimeMs, fn, checkedAt: now });
    return fn;
  }

  /** A missing partial has no line in handlebars' error: find where the file calls it. */
  private locate(file: string, err: unknown, host?: string): TemplateError {
    const msg = cleanMessage(err);
    const partial = /The partial (\S+) could not be found/.exec(msg);
    if (partial) {
      const lines = readFileSync(file, 'utf8').split('\n');
      const idx = lines.findIndex((l) => new RegExp(`\\{\\{~?>\\s*${partial[1]!.replace(/[/.]/g, '\\$&')}[\\s}~]`).test(l));
      return new TemplateError(`partial "${partial[1]}" not found under ${join(this.dirs.templates, 'partials')}`, file, idx >= 0 ? idx + 1 : undefined, host);
    }
    return new TemplateError(msg, file, errorLine(err), host);
  }

  /** Re-registers the partials when any of them changed (checked at most once a second). */
  private refreshIfStale(): void {
    const now = Date.now();
    if (now - this.checkedAt < 1000 && this.partialStamp) return;
    const root = join(this.dirs.templates, 'partials');
    const files = walk(root).sort();
    const stamp = files.map((f) => `${f}:${statSync(f).mtimeMs}`).join('|') || 'none';
    if (stamp !== this.partialStamp) {
      this.hb = createHandlebars();
      this.cache.clear();
      for (const f of files) {
        const name = relative(root, f).replace(/\.hbs$/, '');
        const source = readFileSync(f, 'utf8');
        let fn: Compiled;
        try {
          fn = this.hb.compile(source, OPTIONS) as Compiled;
          this.hb.precompile(source, OPTIONS);
        } catch (err) {
          throw new TemplateError(cleanMessage(err), f, errorLine(err));
        }
        // Errors inside a partial name the partial's file, not the template that included it.
        this.hb.registerPartial(name, ((ctx: unknown, options: unknown) => {
          try {
            return fn(ctx, options);
          } catch (err) {
            if (err instanceof TemplateError) throw err;
            throw new TemplateError(cleanMessage(err), f, errorLine(err));
          }
        }) as unknown as Handlebars.Template);
      }
      this.partialStamp = stamp;
    }
    this.checkedAt = now;
  }
}
