import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseReportedHostKeys, REPORTED_BYTES_MAX, REPORTED_KEYS_MAX } from './known-hosts-update.js';

// Made with ssh-keygen (OpenSSH 9.2); fingerprints as `ssh-keygen -lf` printed them.
const ED = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPFZapSbgVPaWtwPLoe9XGiRQ1Eonv2hcM/UWZkeIkLf';
const EC = 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBBHmmBRKwBXHyDicjV6QtaO8HnqP5vmU0oPQfIPx7Sqt9CjsvViRSMj4D5/6zWgwEr5fQPEaLhGuJv+nm934GIE=';
const EC384 =
  'ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBG8GNsYJTvDuU+YlGMURiL7FLljFtNiJ/x3XIpla6yIykJzU3zfi/4DYQf22qmqhNCdVFpH/zH8ZM7GJOQdh2e69w9UF3sCBty1dH00HfSgMeuny/YeYDxMmO2OaW15Omw==';
const RSA =
  'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCna6lhGdDshhzxDMSgCZ8+Cr7D5vn2Erhnc0f3Ec9ZIfa91B5nCLyRXW3aDMZsK5DYTTU5+dlTeOhfiOWBuF+8Xx1x/E2cZ+2cxTa4nrhfCdO8SqJ4xFkxBq1QpmnTZ/82ZTbeqqPchBn6No/M+kmzRLus6mQYsmHJXqvUSxhcSQ==';
/** The ed25519 key of another host (the one before the reinstall). */
const OLD = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAj4JP3i0GfU7CRnPZn/kUjbHhJD8ozajvZo2f9a9eMZ';

describe('host keys reported by an installer', () => {
  it('keeps well-formed keys of every accepted type, with ssh-keygen fingerprints', () => {
    const r = parseReportedHostKeys(`${ED}\r\n\n${EC}\n${EC384}\n${RSA}\n`);
    assert.deepEqual(r.rejected, []);
    assert.equal(r.tooLarge, false);
    assert.deepEqual(r.keys.map((k) => [k.keyType, k.fingerprint]), [
      ['ssh-ed25519', 'SHA256:/UzJH21XdIFchefiJN4KeIsB5lzdbm2pK8n95+ez3pk'],
      ['ecdsa-sha2-nistp256', 'SHA256:dZvkhbVKZLwDo2RkXnGK5da1EfHmbJxxBK+5kTNQPWc'],
      ['ecdsa-sha2-nistp384', 'SHA256:3TMqEd4RevW+pWW2AyF64IO8aDjZ50873IxAvOAkiU4'],
      ['ssh-rsa', 'SHA256:2lHvpZ7Up3U7354UKtoV8hVc+h2gaW+6Vs7HH5xiNs8'],
    ]);
    assert.equal(r.keys[0]!.base64, ED.split(' ')[1]);
  });

  it('an empty body (an older installer) holds no keys and nothing wrong', () => {
    for (const body of ['', '\n', '\r\n\r\n']) assert.deepEqual(parseReportedHostKeys(body), { keys: [], rejected: [], tooLarge: false });
  });

  it('rejects, line by line, what is not one well-formed key', () => {
    const edBlob = ED.split(' ')[1]!;
    const lines = [
      `${ED} root@vm`, // a comment: not the format asked for
      ` ${ED}`,
      'ssh-dss AAAAB3NzaC1kc3MAAACBAP',
      `ssh-rsa ${edBlob}`, // the blob says ssh-ed25519
      `ssh-ed25519 ${edBlob.slice(0, -8)}`, // a truncated key
      `ssh-ed25519 ${edBlob}==`, // padding that does not belong
      'ssh-ed25519 AAAA!!!!',
      ED,
      ED, // again
      `@revoked * ${ED}`,
    ];
    const r = parseReportedHostKeys(lines.join('\n'));
    assert.deepEqual(r.keys.map((k) => k.keyType), ['ssh-ed25519']);
    assert.deepEqual(r.rejected, [
      { line: 1, reason: 'syntax' },
      { line: 2, reason: 'syntax' },
      { line: 3, reason: 'syntax' },
      { line: 4, reason: 'type-mismatch' },
      { line: 5, reason: 'malformed-key' },
      { line: 6, reason: 'syntax' },
      { line: 7, reason: 'syntax' },
      { line: 9, reason: 'duplicate' },
      { line: 10, reason: 'syntax' },
    ]);
  });

  it(`keeps at most ${REPORTED_KEYS_MAX} keys and reads nothing of a body over ${REPORTED_BYTES_MAX} bytes`, () => {
    const many = Array.from({ length: 20 }, (_, i) => `ssh-ed25519 ${Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, i)]).toString('base64')}`);
    const r = parseReportedHostKeys(many.join('\n'));
    assert.equal(r.keys.length, REPORTED_KEYS_MAX);
    assert.deepEqual(r.rejected.map((x) => x.reason), ['too-many', 'too-many', 'too-many', 'too-many']);
    const huge = parseReportedHostKeys(`${ED}\n${'#'.repeat(REPORTED_BYTES_MAX)}`);
    assert.deepEqual(huge, { keys: [], rejected: [], tooLarge: true });
  });

  it('never throws on hostile input: binary junk, NULs, long lines', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 2000 }), fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b).toString('latin1')), fc.constantFrom(`${ED}\0`, `ssh-rsa ${'A'.repeat(60_000)}`)), (body) => {
        const r = parseReportedHostKeys(body);
        for (const k of r.keys) assert.ok(body.includes(`${k.keyType} ${k.base64}`));
      }),
      { numRuns: 500 },
    );
  });
});
