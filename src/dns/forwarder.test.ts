import assert from 'node:assert/strict';
import { it } from 'node:test';
import dnsPacket from 'dns-packet';
import { sameQuestion } from './forwarder.js';
import { parseQuery } from './wire.js';

function msg(type: 'query' | 'response', name: string, qtype: number, questions = 1): Buffer {
  const b = Buffer.from(dnsPacket.encode({ type, id: 7, questions: [{ name, type: 'A' }] }));
  b.writeUInt16BE(qtype, b.length - 4);
  if (questions !== 1) b.writeUInt16BE(questions, 4);
  return b;
}

it('sameQuestion: name without ASCII case, type and class exactly, one question', () => {
  const q = parseQuery(msg('query', 'www.Example.org', 65));
  assert.ok(q.ok);
  assert.equal(sameQuestion(msg('response', 'WWW.example.ORG', 65), q.query), true);
  // Byte-wise case folding of the whole question would take type 97 (0x61) for 65 (0x41, 'A').
  assert.equal(sameQuestion(msg('response', 'www.example.org', 97), q.query), false);
  assert.equal(sameQuestion(msg('response', 'www.example.com', 65), q.query), false);
  assert.equal(sameQuestion(msg('response', 'www.example.org', 65, 0), q.query), false);
  assert.equal(sameQuestion(msg('response', 'www.example.org', 65).subarray(0, 20), q.query), false);
  const otherClass = msg('response', 'www.example.org', 65);
  otherClass.writeUInt16BE(3, otherClass.length - 2);
  assert.equal(sameQuestion(otherClass, q.query), false);
});
