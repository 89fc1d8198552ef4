import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { packageRoot } from '../lib/paths.js';
import { loadConfig, type Config } from './load.js';
import { applyReload, planReload } from './reload.js';

const base = (): Config => loadConfig(join(packageRoot(), 'examples', 'lab.yaml'));

test('hosts, profiles and vars are applied; their changes are named', () => {
  const cur = base();
  const next = base();
  next.hosts = [...next.hosts.filter((h) => h.name !== 'vm11'), { ...next.hosts.find((h) => h.name === 'vm10')!, name: 'vm20', mac: '52:54:00:77:00:20', ip: '10.77.0.20' }];
  next.hosts = next.hosts.map((h) => (h.name === 'vm12' ? { ...h, role: 'db' } : h));
  next.profiles = next.profiles.map((p) => (p.name === 'debian12' ? { ...p, kernelArgs: `${p.kernelArgs} x=1` } : p));
  const plan = planReload(cur, next);
  assert.deepEqual(plan.applied, ['hosts', 'profiles']);
  assert.deepEqual(plan.hosts, { added: ['vm20'], removed: ['vm11'], changed: ['vm12'] });
  assert.deepEqual(plan.profiles, { added: [], removed: [], changed: ['debian12'] });
  assert.deepEqual(plan.needsRestart, []);
  applyReload(cur, next);
  assert.equal(cur.hosts, next.hosts);
  assert.equal(cur.profiles, next.profiles);
});

test('everything else is named by its path as needing a restart, and not applied', () => {
  const cur = base();
  const next = base();
  next.servers = { ...next.servers, dhcp: { ...next.servers.dhcp, offerHold: 1 } };
  next.network = { ...next.network, domain: 'other.test' };
  next.ha = { ...next.ha, t1: next.ha.t1 + 1 };
  next.source = '/elsewhere.yaml';
  next.warnings = ['a warning'];
  const plan = planReload(cur, next);
  assert.deepEqual(plan.applied, []);
  assert.deepEqual(plan.needsRestart, ['ha', 'network.domain', 'servers.dhcp']);
  applyReload(cur, next);
  assert.equal(cur.servers.dhcp.offerHold, base().servers.dhcp.offerHold, 'not applied');
  assert.equal(cur.network.domain, 'lab.test');
});

test('the same file again: nothing to apply, nothing to restart', () => {
  const plan = planReload(base(), base());
  assert.deepEqual([plan.applied, plan.needsRestart], [[], []]);
});
