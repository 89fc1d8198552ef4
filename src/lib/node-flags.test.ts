import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from './paths.js';
import { missingServeEnv, missingServeFlags, SERVE_NODE_FLAGS, serveShebang } from './node-flags.js';

describe('serve node flags', () => {
  it('bin/3rc.js starts node with exactly SERVE_ENV and SERVE_NODE_FLAGS (its shebang, through env -S)', () => {
    const first = readFileSync(join(packageRoot(), 'bin', '3rc.js'), 'utf8').split('\n')[0];
    assert.equal(first, serveShebang());
    assert.equal(first, `#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node ${SERVE_NODE_FLAGS.join(' ')}`);
  });

  it('names the environment variables missing or set otherwise', () => {
    assert.deepEqual(missingServeEnv({ MALLOC_ARENA_MAX: '2' }), []);
    assert.deepEqual(missingServeEnv({}), ['MALLOC_ARENA_MAX']);
    assert.deepEqual(missingServeEnv({ MALLOC_ARENA_MAX: '8' }), ['MALLOC_ARENA_MAX']);
  });

  it('finds a flag given on the command line or in NODE_OPTIONS, and names one missing', () => {
    assert.deepEqual(missingServeFlags(['--max-semi-space-size=4', '--heap-growing-percent=25'], undefined), []);
    assert.deepEqual(missingServeFlags(['--heap-growing-percent=50'], '--inspect --max_semi_space_size=8'), []);
    assert.deepEqual(missingServeFlags(['--cpu-prof'], ''), ['--max-semi-space-size', '--heap-growing-percent']);
    assert.deepEqual(missingServeFlags(['--max-semi-space-size=4'], ''), ['--heap-growing-percent']);
  });
});
