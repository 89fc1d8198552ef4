/** In-memory input files for the parsers' tests: a map from absolute path to text. */
import type { InputFiles } from './model.js';

export function memFiles(files: Record<string, string>): InputFiles {
  return {
    read(path) {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file, open '${path}'`), { code: 'ENOENT' });
      return text;
    },
    list(dir) {
      const prefix = dir.endsWith('/') ? dir : `${dir}/`;
      const names = Object.keys(files).filter((p) => p.startsWith(prefix)).map((p) => p.slice(prefix.length)).filter((n) => !n.includes('/'));
      if (!names.length) throw Object.assign(new Error(`ENOENT: no such directory '${dir}'`), { code: 'ENOENT' });
      return names;
    },
  };
}

/** The notes as `line: message-or-default` strings, for compact assertions. */
export function noteLines(notes: { source: { file: string; line: number }; message?: string }[]): string[] {
  return notes.map((n) => `${n.source.file.split('/').pop()}:${n.source.line}: ${n.message ?? 'no equivalent'}`);
}
