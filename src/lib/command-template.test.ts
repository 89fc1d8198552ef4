import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { shQuote } from './command-template.js';
import { TemplateError } from './errors.js';
import { compileTemplate, renderTemplate } from './command-template.js';

describe('command templates', () => {
  it('substitutes placeholders as single shell words', () => {
    const t = compileTemplate('qm start {{vmid}} && echo {{ vm }}/x');
    assert.deepEqual(t.names, ['vmid', 'vm']);
    assert.equal(renderTemplate(t, { vmid: '104', vm: 'web01' }), "qm start '104' && echo 'web01'/x");
  });

  it('keeps hostile values literal when the shell runs the result', () => {
    const t = compileTemplate('printf %s {{v}}');
    for (const v of ["a'b", '$(id)', '`id`', 'a b;c', '"\\\n*', '']) {
      assert.equal(execFileSync('/bin/sh', ['-c', renderTemplate(t, { v })], { encoding: 'utf8' }), v);
    }
  });

  it('allows placeholders next to text and after escaped quotes', () => {
    assert.equal(renderTemplate(compileTemplate('test -f /etc/xen/{{vm}}.cfg'), { vm: 'a' }), "test -f /etc/xen/'a'.cfg");
    assert.equal(renderTemplate(compileTemplate(`echo \\' {{vm}} "x" 'y'`), { vm: 'a' }), `echo \\' 'a' "x" 'y'`);
    assert.equal(renderTemplate(compileTemplate(`awk -v n={{vm}} '$2 == n {print $1}'`), { vm: 'a' }), `awk -v n='a' '$2 == n {print $1}'`);
  });

  it('refuses placeholders inside quotes, bad names and unclosed braces', () => {
    for (const bad of ["echo '{{vm}}'", 'echo "x {{vm}}"', 'echo {{1vm}}', 'echo {{vm', "echo 'unterminated", 'echo {{}}', 'echo {{a b}}']) {
      assert.throws(() => compileTemplate(bad), TemplateError, bad);
    }
  });

  it('names a missing value', () => {
    assert.throws(() => renderTemplate(compileTemplate('qm start {{vmid}}'), { vm: 'x' }), /no value for \{\{vmid\}\}/);
  });

  it('shQuote round-trips through sh', () => {
    for (const v of ["it's", "''", 'x\ny']) assert.equal(execFileSync('/bin/sh', ['-c', `printf %s ${shQuote(v)}`], { encoding: 'utf8' }), v);
  });
});
