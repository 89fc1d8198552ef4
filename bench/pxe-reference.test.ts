import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpdServedAt } from './pxe-reference.js';

// What `busybox httpd -f -vv` prints: each connection's child names itself by the peer's IP:PORT.
const lines = [
  { at: 1000, line: '10.77.0.10:40001: url:/boot/ipxe/52-54-00-77-00-10' },
  { at: 1001, line: '10.77.0.10:40001: response:200' },
  { at: 2000, line: '10.77.0.10:40002: url:/ks/52-54-00-77-00-10' },
  { at: 2100, line: '10.77.0.10:40003: url:/ks/52-54-00-77-00-10' },
  { at: 2101, line: '10.77.0.10:40002: response:404' },
  { at: 2102, line: '10.77.0.10:40003: response:200' },
];

test('httpdServedAt: the request of a URL answered 200, matched to its answer by the peer\'s port', () => {
  assert.equal(httpdServedAt(lines, '/boot/ipxe/'), 1000);
  assert.equal(httpdServedAt(lines, '/ks/52-54-00-77-00-10'), 2100, 'the 404 answered to port 40002 does not count');
  assert.equal(httpdServedAt(lines.slice(0, 5), '/ks/'), undefined, 'no 200 yet');
  assert.equal(httpdServedAt(lines, '/boot/files/'), undefined);
});
