/**
 * Cleanup on every exit path: each benchmark registers what it started (namespaces, servers,
 * temp folders) and unregisters it once stopped; Ctrl-C or SIGTERM runs what is left, newest
 * first, before the process exits. Namespaces come from test/lib/netns.ts (Lab), which kills
 * every process inside before deleting them.
 */
import { Lab } from '../../test/lib/netns.js';

type Cleanup = () => Promise<unknown> | unknown;
const pending: Cleanup[] = [];

/** Registers fn; the returned function runs it once and unregisters it. */
export function onCleanup(fn: Cleanup): () => Promise<void> {
  let done = false;
  pending.push(fn);
  return async () => {
    if (done) return;
    done = true;
    const i = pending.indexOf(fn);
    if (i >= 0) pending.splice(i, 1);
    await fn();
  };
}

/** Runs every pending cleanup, newest first; errors are printed, not thrown. */
export async function cleanupAll(): Promise<void> {
  while (pending.length) {
    const fn = pending.pop()!;
    try {
      await fn();
    } catch (err) {
      console.error('bench: cleanup failed:', err);
    }
  }
}

let installed = false;

/** SIGINT/SIGTERM: clean up, then exit 130/143. */
export function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  let cleaning = false;
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    // `on`, not `once`: a second signal while cleaning up must not kill us half-way.
    process.on(sig, () => {
      if (cleaning) return;
      cleaning = true;
      process.stderr.write(`bench: ${sig}, cleaning up\n`);
      void cleanupAll().finally(() => process.exit(code));
    });
  }
}

/** A Lab whose destroy() is also registered for Ctrl-C; call the returned close() when done. */
export function openLab(tag: string): { lab: Lab; close: () => Promise<void> } {
  const lab = new Lab(tag);
  const close = onCleanup(() => lab.destroy());
  return { lab, close };
}

/** Kills a child if it is alive and waits for it. */
export async function stopChild(p: import('node:child_process').ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill(signal);
  const t = setTimeout(() => p.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}
