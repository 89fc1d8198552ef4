import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkHostKey, hostFieldMatches, hostForm, hostKeyAlgorithms, knownKeyTypes, parseKnownHosts } from './known-hosts.js';

// Made with ssh-keygen (OpenSSH 9.2): two keys, then `ssh-keygen -H` on the plain file.
const ED = 'AAAAC3NzaC1lZDI1NTE5AAAAIAj4JP3i0GfU7CRnPZn/kUjbHhJD8ozajvZo2f9a9eMZ';
const EC = 'AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBNtXZP8IYeGL89cH5YD0CbmEnRCGSg2o+1l9HkYVDW/fJOHJssv/M1pzwZVJjRhegkMB81SCCXIhHo4SFOGinRg=';
const PLAIN = `[hv1.lab.test]:2222 ssh-ed25519 ${ED}\nhv2 ecdsa-sha2-nistp256 ${EC}\n`;
const HASHED = [
  `|1|+EgkRe1wzGKxbYkkL/u/6BWa/fU=|EJ4vJBN4QMnD9f/xemLyFA3OC60= ssh-ed25519 ${ED}`,
  `|1|X9/63EGteoOCo2sjf3VamYuEYkQ=|zz47m9UTSmTXmA4BpFoJb3NUEJU= ecdsa-sha2-nistp256 ${EC}`,
].join('\n');
const ed = Buffer.from(ED, 'base64');
const ec = Buffer.from(EC, 'base64');

describe('known_hosts', () => {
  it('writes [host]:port for ports other than 22', () => {
    assert.equal(hostForm('HV1.lab.test', 22), 'hv1.lab.test');
    assert.equal(hostForm('10.0.0.5', 2222), '[10.0.0.5]:2222');
  });

  it('parses plain lines, skipping comments, blanks, @cert-authority and corrupt keys', () => {
    const text = `# comment\n\n${PLAIN}@cert-authority *.lab.test ssh-ed25519 ${ED}\nhv3 ssh-rsa ${ED}\nhv4 ssh-ed25519 not-base64!\nhv5\n`;
    const e = parseKnownHosts(text);
    assert.deepEqual(e.map((x) => [x.line, x.hosts, x.keyType]), [[3, '[hv1.lab.test]:2222', 'ssh-ed25519'], [4, 'hv2', 'ecdsa-sha2-nistp256']]);
  });

  it('matches plain and hashed entries the same way', () => {
    for (const text of [PLAIN, HASHED]) {
      const e = parseKnownHosts(text);
      assert.deepEqual(checkHostKey(e, ['[hv1.lab.test]:2222'], ed), { result: 'match', line: 1 });
      assert.deepEqual(checkHostKey(e, ['hv2'], ec), { result: 'match', line: 2 });
      assert.deepEqual(checkHostKey(e, ['[hv2]:2222'], ec), { result: 'unknown' }, 'another port is another host');
      assert.deepEqual(checkHostKey(e, ['hv1.lab.test'], ed), { result: 'unknown' });
      assert.deepEqual(checkHostKey(e, ['hv2'], ed), { result: 'mismatch', lines: [2] });
      assert.deepEqual(knownKeyTypes(e, ['10.0.0.9', 'hv2']), ['ecdsa-sha2-nistp256']);
    }
  });

  it('matches patterns: lists, wildcards, negation, case', () => {
    assert.equal(hostFieldMatches('hv1,10.0.0.1', '10.0.0.1'), true);
    assert.equal(hostFieldMatches('*.lab.test', 'HV7.LAB.TEST'), true);
    assert.equal(hostFieldMatches('hv?', 'hv12'), false);
    assert.equal(hostFieldMatches('[10.0.0.?]:2222', '[10.0.0.5]:2222'), true);
    assert.equal(hostFieldMatches('*.lab.test,!bad.lab.test', 'bad.lab.test'), false);
    assert.equal(hostFieldMatches('hv.1', 'hvx1'), false, 'a dot is a dot');
    assert.equal(hostFieldMatches('|1|bad', 'hv1'), false);
  });

  it('refuses a revoked key even when another line accepts it', () => {
    const e = parseKnownHosts(`${PLAIN}@revoked * ssh-ed25519 ${ED}\n`);
    assert.deepEqual(checkHostKey(e, ['[hv1.lab.test]:2222'], ed), { result: 'revoked', line: 3 });
    assert.deepEqual(knownKeyTypes(e, ['[hv1.lab.test]:2222']), ['ssh-ed25519']);
  });

  it('offers the RSA signature algorithms for an ssh-rsa key', () => {
    assert.deepEqual(hostKeyAlgorithms(['ssh-ed25519', 'ssh-rsa', 'ssh-ed25519']), ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  });
});
