import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkSchema, validate, type JsonSchema } from './json-schema.js';

const schema = {
  type: 'object',
  properties: {
    version: { type: 'integer', minimum: 1, maximum: 1 },
    name: { type: ['string', 'null'] },
    mode: { type: 'string', enum: ['a', 'b'] },
    cmds: { type: 'array', items: { type: ['string', 'array'], items: { type: 'string' } } },
    strict: { type: 'object', properties: { x: { type: 'boolean' } }, required: ['x'], additionalProperties: false },
    map: { type: 'object', additionalProperties: { type: 'object', properties: { type: { type: 'string' } }, required: ['type'] } },
    kernel: { type: 'object', oneOf: [{ type: 'object', required: ['package'] }, { type: 'object', required: ['flavor'] }] },
    any: { anyOf: [{ type: 'string' }, { type: 'integer' }] },
    url: { type: 'string', format: 'uri' },
  },
  required: ['version'],
  additionalProperties: true,
} as const;
checkSchema(schema);
const problems = (v: unknown) => validate(schema as unknown as JsonSchema, v).map((p) => `${p.path}: ${p.message}`);

describe('the JSON-schema subset validator', () => {
  it('accepts a valid document (extra keys where additionalProperties is true; format unchecked)', () => {
    assert.deepEqual(problems({ version: 1, name: null, mode: 'a', cmds: ['ls', ['echo', 'x']], strict: { x: true }, map: { r: { type: 'rsyslog', extra: 1 } }, kernel: { flavor: 'hwe' }, any: 3, url: 'not a uri', other: [1] }), []);
  });

  it('reports each kind of violation with its path', () => {
    assert.deepEqual(problems({ name: 3 }), ['$: "version" is required', '$.name: expected string or null, got number']);
    assert.deepEqual(problems({ version: 2 }), ['$.version: 2 is more than the maximum 1']);
    assert.deepEqual(problems({ version: 0 }), ['$.version: 0 is less than the minimum 1']);
    assert.deepEqual(problems({ version: 1.5 }), ['$.version: expected integer, got number']);
    assert.deepEqual(problems({ version: 1, mode: 'c' }), ['$.mode: "c" is not one of "a", "b"']);
    assert.deepEqual(problems({ version: 1, cmds: [3, ['a', 4]] }), ['$.cmds[0]: expected string or array, got number', '$.cmds[1][1]: expected string, got number']);
    assert.deepEqual(problems({ version: 1, strict: { y: 1 } }), ['$.strict: "x" is required', '$.strict.y: "y" is not allowed here']);
    assert.deepEqual(problems({ version: 1, map: { r: { kind: 1 }, 'a b': 2 } }), ['$.map.r: "type" is required', '$.map["a b"]: expected object, got number']);
    assert.deepEqual(problems({ version: 1, any: true }), ['$.any: matches none of the 2 allowed forms (form 1: $.any expected string, got boolean; form 2: $.any expected integer, got boolean)']);
    assert.deepEqual(problems([]), ['$: expected object, got array']);
  });

  it('oneOf: exactly one form must match', () => {
    assert.deepEqual(problems({ version: 1, kernel: { package: 'linux-generic' } }), []);
    assert.match(problems({ version: 1, kernel: {} })[0]!, /^\$\.kernel: matches none of the 2 allowed forms/);
    assert.deepEqual(problems({ version: 1, kernel: { package: 'p', flavor: 'f' } }), ['$.kernel: matches 2 of the allowed forms, where exactly one must match']);
  });

  it('refuses a schema with a keyword it does not implement, rather than skipping it', () => {
    assert.throws(() => checkSchema({ type: 'object', properties: { a: { type: 'string', pattern: '^x' } } }), /#\/properties\/a: keyword "pattern" is not supported/);
    assert.throws(() => checkSchema({ type: 'object', allOf: [] }), /keyword "allOf"/);
    assert.throws(() => checkSchema({ type: 'text' }), /unknown type "text"/);
    assert.throws(() => checkSchema({ oneOf: [] }), /oneOf must be a non-empty list/);
  });
});
