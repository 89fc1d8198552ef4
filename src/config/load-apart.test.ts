import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError } from '../lib/errors.js';
import { packageRoot } from '../lib/paths.js';
import { loadConfig } from './load.js';
import { loadConfigApart } from './load-apart.js';

const labText = readFileSync(join(packageRoot(), 'examples', 'lab.yaml'), 'utf8');
const dir = mkdtempSync(join(tmpdir(), '3rc-load-apart-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

/** What survives JSON (the child's answer): absent and undefined fields are the same. */
const plain = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** The ConfigError that fn throws (or rejects with). */
async function configError(fn: () => unknown): Promise<ConfigError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('the config was accepted');
}

// fromBytes: 0 sends every file to the child process, however small.
const apart = (f: string) => loadConfigApart(f, { fromBytes: 0 });

describe('config: loaded in a child process (issue 26)', () => {
  it('gives the very config that loadConfig gives', async () => {
    const f = file('lab.yaml', labText);
    const got = await apart(f);
    assert.deepEqual(got, plain(loadConfig(f)));
    assert.equal(got.source, f);
    assert.ok(got.hosts.length > 0);
  });

  it('reports invalid fields exactly as loadConfig does: code, file, line, path, message', async () => {
    const bad = labText.replace('mac: "52:54:00:77:00:10"', 'mac: "52:54:00:77:00:1z"').replace('hosts:\n', 'hosts:\n  - bogus: 1\n');
    assert.notEqual(bad, labText);
    const f = file('bad.yaml', bad);
    const want = await configError(() => loadConfig(f));
    const got = await configError(() => apart(f));
    assert.ok(want.problems.length >= 2, want.message);
    assert.equal(got.code, want.code);
    assert.equal(got.message, want.message);
    assert.deepEqual(got.problems, plain(want.problems));
  });

  it('reports a YAML syntax error with its line, as loadConfig does', async () => {
    const f = file('syntax.yaml', `${labText}\nhosts: [unclosed\n`);
    const want = await configError(() => loadConfig(f));
    const got = await configError(() => apart(f));
    assert.equal(got.code, want.code);
    assert.equal(got.message, want.message);
  });

  it('reports a missing file as loadConfig does', async () => {
    const f = join(dir, 'missing.yaml');
    const want = await configError(() => loadConfig(f));
    const got = await configError(() => apart(f));
    assert.equal(got.code, want.code);
    assert.equal(got.message, want.message);
  });
});
