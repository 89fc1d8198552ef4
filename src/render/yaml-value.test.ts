import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { createHandlebars } from './engine.js';
import { yamlValue } from './yaml-value.js';

/** Values that break YAML when pasted bare: indicators, comments, YAML 1.1 booleans, line breaks PyYAML knows. */
const NASTY = [
  'plain',
  'key: value',
  'a # not a comment',
  '- item',
  '*alias',
  '&anchor',
  '!tag',
  'yes',
  'no',
  'on',
  '0x1F',
  '1e3',
  '010',
  '~',
  'null',
  '"double" \'single\'',
  '{ flow: map }',
  '[flow, seq]',
  '|',
  '> folded',
  '%YAML 1.2',
  '---',
  'tab\there',
  'line\nbreak',
  'nel\u0085ls\u2028ps\u2029',
  'c1 \u0080\u009f del \u007f',
  'bom \ufeff',
  'é ü 中文',
  'astral 😀 𝄞',
  ' leading and trailing ',
  '',
  '$(reboot) `id` ; rm -rf /',
  '\\ backslash \\n',
];

describe('{{yq value}}: one YAML node read back as exactly the value', () => {
  it('round-trips every nasty string through the yaml package (YAML 1.2 and 1.1)', () => {
    for (const v of NASTY) {
      const doc = `k: ${yamlValue(v)}\n`;
      assert.equal((parse(doc) as { k: unknown }).k, v, doc);
      assert.equal((parse(doc, { version: '1.1' }) as { k: unknown }).k, v, doc);
      assert.match(yamlValue(v), /^[\x20-\x7e]*$/, 'printable ASCII only');
    }
  });

  it('round-trips through PyYAML, cloud-init\'s parser (python3-yaml, installed with cloud-init)', () => {
    const doc = NASTY.map((v, i) => `k${i}: ${yamlValue(v)}`).join('\n') + '\n';
    const out = execFileSync('python3', ['-c', 'import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))'], { input: doc, encoding: 'utf8' });
    const back = JSON.parse(out) as Record<string, string>;
    NASTY.forEach((v, i) => assert.equal(back[`k${i}`], v, `k${i}: ${yamlValue(v)}`));
  });

  it('prints lists, mappings, numbers, booleans and null as YAML values; refuses what is not plain data', () => {
    const v = { keys: ['ssh-ed25519 AAAA a@b', 'x: y'], n: 53, b: true, z: null, nested: { 'a b': [1, 'é'] } };
    assert.deepEqual(parse(`v: ${yamlValue(v)}\n`), { v });
    assert.equal(yamlValue(undefined), 'null');
    assert.throws(() => yamlValue(() => 1), /not plain data/);
    assert.throws(() => yamlValue(new Date(0)), /not plain data/);
    assert.throws(() => yamlValue({ a: [Number.NaN] }), /the value\.a\[0\] is NaN/);
    assert.throws(() => yamlValue('lone \ud800'), /the value holds a lone UTF-16 surrogate/);
    assert.throws(() => yamlValue({ ['k\udc00']: 1 }), /a key of the value holds a lone UTF-16 surrogate/);
    assert.throws(() => yamlValue({ ['k\udc00']: 1 }), /a key of the value holds a lone/);
  });

  it('is the yq helper of the template engine, with string=true for argv lists', () => {
    const hb = createHandlebars();
    const t = hb.compile('a: {{yq v}}\nb: {{yq n string=true}}\n', { noEscape: true, strict: true });
    assert.deepEqual(parse(t({ v: 'x: y', n: 53 })), { a: 'x: y', b: '53' });
    assert.throws(() => hb.compile('{{yq}}', { strict: true })({}), /expected one value/);
    assert.throws(() => hb.compile('{{yq v string=true}}', { strict: true })({ v: [1] }), /string=true takes/);
  });
});
