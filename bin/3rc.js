#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=4 --heap-growing-percent=25
// The `3rc` command: a thin launcher for the compiled CLI (run `npm run build` first).
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`3rc: ${err?.stack ?? err}`); process.exitCode = 1; },
);
