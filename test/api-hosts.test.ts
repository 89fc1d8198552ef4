/** Hosts created, changed and deleted through the API: validated like the config, persisted, and effective at once. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cli, serve, writeLabConfig } from './lib/serve.js';

async function call(url: string, method: string, path: string, token: string | undefined, body?: unknown) {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as Record<string, any> };
}

const vm20 = { name: 'vm20', mac: '52:54:00:77:00:20', ip: '10.77.0.20', profile: 'debian12', role: 'services', boot: 'install' };

describe('hosts through the API', () => {
  it('are validated like the config, persisted, and survive a restart', async () => {
    const cfg = await writeLabConfig();
    try {
      let s = await serve(cfg);
      const token = readFileSync(join(cfg.dir, 'api-token'), 'utf8').trim();
      try {
        assert.equal((await call(s.url, 'POST', '/api/v1/hosts', undefined, vm20)).status, 401);
        const created = await call(s.url, 'POST', '/api/v1/hosts', token, vm20);
        assert.equal(created.status, 201, JSON.stringify(created.body));
        assert.equal(created.body.boot.mode, 'install');
        assert.equal((await call(s.url, 'POST', '/api/v1/hosts', token, vm20)).body.error.field, 'name');

        const dupMac = await call(s.url, 'POST', '/api/v1/hosts', token, { ...vm20, name: 'vm21', ip: '10.77.0.21', mac: '52:54:00:77:00:10' });
        assert.equal(dupMac.status, 400);
        assert.equal(dupMac.body.error.field, 'mac');
        assert.match(dupMac.body.error.message, /duplicate MAC 52:54:00:77:00:10/);
        const outside = await call(s.url, 'POST', '/api/v1/hosts', token, { ...vm20, name: 'vm21', mac: '52:54:00:77:00:21', ip: '10.99.0.21' });
        assert.deepEqual([outside.status, outside.body.error.field], [400, 'ip']);
        assert.match(outside.body.error.message, /outside every subnet/);
        const badMac = await call(s.url, 'POST', '/api/v1/hosts', token, { ...vm20, name: 'vm21', mac: 'nope' });
        assert.deepEqual([badMac.status, badMac.body.error.field], [400, 'mac']);
        const noProfile = await call(s.url, 'POST', '/api/v1/hosts', token, { ...vm20, name: 'vm21', mac: '52:54:00:77:00:21', ip: '10.77.0.21', profile: 'suse' });
        assert.deepEqual([noProfile.status, noProfile.body.error.field], [400, 'profile']);
        const extra = await call(s.url, 'POST', '/api/v1/hosts', token, { ...vm20, name: 'vm21', colour: 'red' });
        assert.equal(extra.status, 400);
        // Commands 3rc runs on its own host come from the config file only: refused
        // whatever they say, on create and on replace, and nothing is stored.
        const vm21 = { ...vm20, name: 'vm21', mac: '52:54:00:77:00:21', ip: '10.77.0.21' };
        for (const [method, path, body] of [
          ['POST', '/api/v1/hosts', { ...vm21, power: { cycle: 'touch /tmp/3rc-pwned' } }],
          ['POST', '/api/v1/hosts', { ...vm21, power: { cycle: 'ipmitool -H {{bmc}} chassis power cycle' }, vars: { bmc: '10.77.9.21' } }],
          ['PUT', '/api/v1/hosts/vm11', { name: 'vm11', mac: '52:54:00:77:00:11', ip: '10.77.0.11', profile: 'rocky9', power: { cycle: 'reboot' } }],
        ] as const) {
          const r = await call(s.url, method, path, token, body);
          assert.deepEqual([r.status, r.body.error?.field], [400, 'power'], JSON.stringify(r.body));
          assert.match(r.body.error.message, /power commands run on the 3rc host, so they come from the config file only/);
        }
        const fence = await call(s.url, 'POST', '/api/v1/hosts', token, { ...vm21, fence: { off: 'x', status: 'y' } });
        assert.deepEqual([fence.status, fence.body.error.field], [400, 'fence']);
        assert.match(fence.body.error.message, /config file only/);
        assert.equal((await call(s.url, 'GET', '/api/v1/hosts/vm21', undefined)).status, 404);
        // Names, roles and SSH keys that would reach a shell are held to their patterns.
        const badRole = await call(s.url, 'POST', '/api/v1/hosts', token, { ...vm21, role: "x'; touch /tmp/3rc-pwned; '" });
        assert.deepEqual([badRole.status, badRole.body.error.field], [400, 'role']);
        assert.match(badRole.body.error.message, /^role: expected a role name: lowercase letters, digits, - and _/);
        const badName = await call(s.url, 'POST', '/api/v1/hosts', token, { ...vm21, name: 'vm21;id' });
        assert.deepEqual([badName.status, badName.body.error.field], [400, 'name']);
        const badKey = await call(s.url, 'POST', '/api/v1/hosts', token, { ...vm21, vars: { sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJnx9/+N7/8gYeXEf09gNx+3JgE9GpcDzVV0F7QDa2WG "; touch /tmp/3rc-pwned; "'] } });
        assert.deepEqual([badKey.status, badKey.body.error.field], [400, 'vars.sshKeys[0]']);
        const badVar = await call(s.url, 'POST', '/api/v1/hosts', token, { ...vm21, vars: { locale: 'en_US\n%post\ntouch /tmp/3rc-pwned\n%end' } });
        assert.deepEqual([badVar.status, badVar.body.error.field], [400, 'vars.locale']);

        const moved = await call(s.url, 'PUT', '/api/v1/hosts/vm11', token, { name: 'vm11', mac: '52:54:00:77:00:11', ip: '10.77.0.31', profile: 'rocky9', role: 'middleware', hypervisor: 'hv2' });
        assert.equal(moved.status, 200, JSON.stringify(moved.body));
        assert.equal(moved.body.ip, '10.77.0.31');
        assert.equal((await call(s.url, 'PUT', '/api/v1/hosts/vm99', token, vm20)).status, 404);
        assert.equal((await call(s.url, 'DELETE', '/api/v1/hosts/vm13', token)).status, 204);
        assert.equal((await call(s.url, 'GET', '/api/v1/hosts/vm13', undefined)).status, 404);
        // The kickstart route knows the new host at once.
        assert.equal((await call(s.url, 'GET', '/ks/52-54-00-77-00-20', undefined)).status, 403);
        assert.equal((await call(s.url, 'GET', '/ks/52-54-00-77-00-13', undefined)).status, 404);
      } finally {
        await s.stop();
      }
      // The CLI sees the same hosts from the store when no server runs.
      const table = await cli(['hosts', '--config', cfg.file]);
      assert.match(table.stdout, /^vm20\s+52:54:00:77:00:20\s+10\.77\.0\.20\s+debian12\s+install \(debian12\)/m);
      assert.ok(!/^vm13 /m.test(table.stdout));

      s = await serve(cfg);
      try {
        const names = ((await call(s.url, 'GET', '/api/v1/hosts', undefined)).body as unknown as { name: string; ip: string }[]).map((h) => `${h.name}@${h.ip}`);
        assert.deepEqual(names, ['vm10@10.77.0.10', 'vm11@10.77.0.31', 'vm12@10.77.0.12', 'vm14@10.77.0.14', 'vm15@10.77.0.15', 'vm20@10.77.0.20']);
      } finally {
        await s.stop();
      }
    } finally {
      cfg.cleanup();
    }
  });
});
