import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseDocument } from 'yaml';
import { ConfigError } from '../lib/errors.js';
import { packageRoot } from '../lib/paths.js';
import { parseConfig } from './load.js';
import { afterCycle } from './rules.js';

const LAB = join(packageRoot(), 'examples', 'lab.yaml');
const labText = readFileSync(LAB, 'utf8');

function labWith(edit: (doc: ReturnType<typeof parseDocument>) => void): string {
  const doc = parseDocument(labText);
  edit(doc);
  return doc.toString();
}

function problems(text: string): string[] {
  try {
    parseConfig(text, 'bad.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.message.split('\n');
  }
  assert.fail('the config was accepted');
}

describe('config: HA placement rules and restart order', () => {
  it('accepts groups, hosts, after, rack and admission settings', () => {
    const c = parseConfig(labWith((d) => {
      d.setIn(['hosts', 0, 'after'], ['vm12']);
      d.setIn(['hosts', 1, 'hosts'], ['hv1']);
      d.setIn(['hosts', 1, 'hostsRequired'], false);
      d.setIn(['hypervisors', 0, 'rack'], 'r1');
      d.setIn(['ha', 'rules'], [{ antiAffinity: ['vm12', 'vm13'] }, { affinity: ['vm10', 'vm14'], strict: false }]);
      d.setIn(['ha', 'admission'], { failures: 1, domain: 'rack', reserve: { memoryShare: 0.1 } });
      d.setIn(['ha', 'restartOrder'], { timeout: '5m', timeoutApplies: false });
    }), LAB);
    assert.deepEqual(c.hosts[0]!.after, ['vm12']);
    assert.equal(c.hypervisors[0]!.rack, 'r1');
    assert.deepEqual(c.ha.rules, [{ antiAffinity: ['vm12', 'vm13'], strict: true }, { affinity: ['vm10', 'vm14'], strict: false }]);
    assert.deepEqual(c.ha.restartOrder, { timeout: 300_000, timeoutApplies: false });
    assert.deepEqual(c.ha.admission, { failures: 1, domain: 'rack', reserve: { cpuShare: 0, memoryShare: 0.1 } });
  });

  it('refuses a restart order cycle, naming the cycle, the file and the field', () => {
    const lines = problems(labWith((d) => {
      d.setIn(['hosts', 0, 'after'], ['vm12']); // vm10 after vm12
      d.setIn(['hosts', 2, 'after'], ['vm13']); // vm12 after vm13
      d.setIn(['hosts', 3, 'after'], ['vm10']); // vm13 after vm10
    }));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /^bad\.yaml:\d+: hosts\[0\]\.after: restart order cycle vm10 -> vm12 -> vm13 -> vm10: expected after to name VMs that do not wait, directly or not, for vm10$/);
  });

  it('refuses unknown names in after, hosts and groups, and a group with both kinds', () => {
    const lines = problems(labWith((d) => {
      d.setIn(['hosts', 0, 'after'], ['vm99']);
      d.setIn(['hosts', 1, 'hosts'], ['hv9']);
      d.setIn(['ha', 'rules'], [{ antiAffinity: ['vm12', 'nosuch'] }]);
    }));
    assert.equal(lines.length, 3, lines.join('\n'));
    assert.ok(lines.some((l) => /hosts\[0\]\.after\[0\]: expected a VM \(a host with a hypervisor\), got "vm99"/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /hosts\[1\]\.hosts\[0\]: hypervisor "hv9" does not exist \(hypervisors: hv1, hv2\)/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /ha\.rules\[0\]\.antiAffinity\[1\]: expected a VM .*got "nosuch"/.test(l)), lines.join('\n'));
    const both = problems(labWith((d) => d.setIn(['ha', 'rules'], [{ antiAffinity: ['vm12', 'vm13'], affinity: ['vm10', 'vm11'] }])));
    assert.match(both.join('\n'), /^bad\.yaml:\d+: ha\.rules\[0\]: expected exactly one of antiAffinity or affinity/);
  });

  it('afterCycle: none in a chain, the loop itself in a longer path', () => {
    assert.equal(afterCycle([{ name: 'web', after: ['app'] }, { name: 'app', after: ['db'] }, { name: 'db', after: [] }]), null);
    assert.deepEqual(afterCycle([{ name: 'a', after: ['b'] }, { name: 'b', after: ['c'] }, { name: 'c', after: ['b'] }]), ['b', 'c', 'b']);
  });
});
