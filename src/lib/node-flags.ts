/**
 * The V8 flags and the environment a serving 3rc runs with, in one place: bin/3rc.js carries them
 * in its shebang (`/usr/bin/env -S NAME=VALUE node ...`, so /usr/bin/3rc and ./bin/3rc.js get
 * them), and everything that starts `node bin/3rc.js serve` itself (the lab, the tests, the
 * bench) passes them.
 *
 * `--max-semi-space-size=4` caps V8's young generation at 4 MB per semi-space (the default grows
 * to 16 MB under load). A packet flood allocates fast and keeps little: with the default, the
 * young generation alone grows RSS by 60-80 MB under the TFTP fuzz campaign (1M packets: peak
 * 220-251 MB, against 184 MB capped), for no gain in what is kept.
 *
 * `--heap-growing-percent=25`: after each full GC, V8 lets the old generation grow to 1.25 times
 * what survived (at least 8 MB more) before the next one. By default it picks up to 4 times when
 * the program allocates fast, and a render under load promotes its garbage (requests in flight
 * outlive a scavenge): with 10,000 hosts (about 30 MB live) the old generation grew from 24 to
 * 95 MB under the HTTP bench, 92 MB of it garbage, and the peak RSS was 202-207 MB; capped, the
 * old generation stays near 45 MB and the peak was 129-131 MB, renders/s within the noise of a
 * loaded machine (issue 26).
 */
export const SERVE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--heap-growing-percent=25'];

/**
 * `MALLOC_ARENA_MAX=2`: glibc gives every thread that calls malloc an arena of its own, up to 8
 * per core, and memory freed in one is kept there. 3rc has several such threads (the store's
 * worker, libuv's pool, V8's GC helpers); with two arenas, the HTTP bench with 10,000 hosts
 * measured idle RSS 102-104 -> 97 MB and peak 122-123 -> 111 MB (issue 26). Children 3rc starts
 * (the config loader, power commands) inherit it: it only tunes their malloc.
 */
export const SERVE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/** The first line of bin/3rc.js: SERVE_ENV and SERVE_NODE_FLAGS through env -S. */
export function serveShebang(): string {
  return `#!/usr/bin/env -S ${Object.entries(SERVE_ENV).map(([k, v]) => `${k}=${v}`).join(' ')} node ${SERVE_NODE_FLAGS.join(' ')}`;
}

/** The names of SERVE_ENV this process was started without (or with another value). */
export function missingServeEnv(env: NodeJS.ProcessEnv): string[] {
  return Object.entries(SERVE_ENV).filter(([k, v]) => env[k] !== v).map(([k]) => k);
}

/** The flag names of SERVE_NODE_FLAGS this process was started without (argv or NODE_OPTIONS). */
export function missingServeFlags(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].map((a) => a.split('=')[0]!.replace(/_/g, '-'));
  return SERVE_NODE_FLAGS.map((f) => f.split('=')[0]!).filter((name) => !given.includes(name));
}
