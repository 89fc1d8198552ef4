/**
 * A small JSON-schema validator, for the keywords the vendored schemas use (templates/schemas/):
 * type (one or a list; `integer` is a whole number), properties, required, additionalProperties
 * (false or a schema), items (one schema for every element), enum, oneOf, anyOf, minimum and
 * maximum. `format` is accepted and not checked (as JSON Schema allows), and so are the
 * annotations ($schema, $id, title, description, default, examples). A schema holding any other
 * keyword is refused by checkSchema: a validator that skipped a keyword it does not know would
 * pass documents the schema refuses.
 */

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  format?: string;
}

export interface SchemaProblem {
  /** Where, as a path from the document's root: `autoinstall.identity.username`, `late-commands[2]`. */
  path: string;
  message: string;
}

const CHECKED = ['type', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'oneOf', 'anyOf', 'minimum', 'maximum'];
const IGNORED = ['format', '$schema', '$id', 'title', 'description', 'default', 'examples'];
const TYPES = ['string', 'number', 'integer', 'boolean', 'null', 'array', 'object'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Throws when the schema uses a keyword (or a type name) this validator does not implement. */
export function checkSchema(schema: unknown, at = '#'): asserts schema is JsonSchema {
  if (!isObject(schema)) throw new Error(`schema ${at}: expected an object`);
  for (const key of Object.keys(schema)) {
    if (!CHECKED.includes(key) && !IGNORED.includes(key)) throw new Error(`schema ${at}: keyword ${JSON.stringify(key)} is not supported by 3rc's validator`);
  }
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  for (const t of types) if (typeof t !== 'string' || !TYPES.includes(t)) throw new Error(`schema ${at}: unknown type ${JSON.stringify(t)}`);
  if (schema.properties !== undefined) {
    if (!isObject(schema.properties)) throw new Error(`schema ${at}: properties must be an object`);
    for (const [k, v] of Object.entries(schema.properties)) checkSchema(v, `${at}/properties/${k}`);
  }
  if (schema.required !== undefined && !(Array.isArray(schema.required) && schema.required.every((r) => typeof r === 'string'))) throw new Error(`schema ${at}: required must be a list of names`);
  if (isObject(schema.additionalProperties)) checkSchema(schema.additionalProperties, `${at}/additionalProperties`);
  else if (schema.additionalProperties !== undefined && typeof schema.additionalProperties !== 'boolean') throw new Error(`schema ${at}: additionalProperties must be a boolean or a schema`);
  if (schema.items !== undefined) checkSchema(schema.items, `${at}/items`);
  if (schema.enum !== undefined && !Array.isArray(schema.enum)) throw new Error(`schema ${at}: enum must be a list`);
  for (const k of ['oneOf', 'anyOf'] as const) {
    const list = schema[k];
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.length === 0) throw new Error(`schema ${at}: ${k} must be a non-empty list`);
    list.forEach((s, i) => checkSchema(s, `${at}/${k}/${i}`));
  }
  for (const k of ['minimum', 'maximum'] as const) if (schema[k] !== undefined && typeof schema[k] !== 'number') throw new Error(`schema ${at}: ${k} must be a number`);
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function hasType(v: unknown, t: string): boolean {
  switch (t) {
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'object':
      return isObject(v);
    default:
      return typeOf(v) === t;
  }
}

/** Deep equality of JSON values (for enum). */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && same(a[k], b[k]));
  }
  return false;
}

const child = (path: string, key: string) => (/^[A-Za-z_][\w-]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`);

/** Every way `value` breaks `schema` (empty: valid). The schema must have passed checkSchema. */
export function validate(schema: JsonSchema, value: unknown, path = '$'): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => hasType(value, t))) {
      // Nothing else can be said usefully about a value of the wrong type.
      return [{ path, message: `expected ${types.join(' or ')}, got ${typeOf(value)}` }];
    }
  }
  if (schema.enum !== undefined && !schema.enum.some((e) => same(e, value))) {
    const shown = schema.enum.length > 8 ? `one of ${schema.enum.length} allowed values` : `one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`;
    out.push({ path, message: `${JSON.stringify(value)} is not ${shown}` });
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) out.push({ path, message: `${value} is less than the minimum ${schema.minimum}` });
    if (schema.maximum !== undefined && value > schema.maximum) out.push({ path, message: `${value} is more than the maximum ${schema.maximum}` });
  }
  if (isObject(value)) {
    for (const name of schema.required ?? []) if (!Object.hasOwn(value, name)) out.push({ path, message: `${JSON.stringify(name)} is required` });
    for (const [k, v] of Object.entries(value)) {
      const own = schema.properties && Object.hasOwn(schema.properties, k) ? schema.properties[k] : undefined;
      if (own) out.push(...validate(own, v, child(path, k)));
      else if (schema.additionalProperties === false) out.push({ path: child(path, k), message: `${JSON.stringify(k)} is not allowed here` });
      else if (isObject(schema.additionalProperties)) out.push(...validate(schema.additionalProperties, v, child(path, k)));
    }
  }
  if (Array.isArray(value) && schema.items) {
    const items = schema.items;
    value.forEach((v, i) => out.push(...validate(items, v, `${path}[${i}]`)));
  }
  if (schema.oneOf) {
    const results = schema.oneOf.map((s) => validate(s, value, path));
    const passing = results.filter((r) => r.length === 0).length;
    if (passing !== 1) {
      const why = passing === 0 ? `matches none of the ${results.length} allowed forms (${results.map((r, i) => `form ${i + 1}: ${r[0]!.path} ${r[0]!.message}`).join('; ')})` : `matches ${passing} of the allowed forms, where exactly one must match`;
      out.push({ path, message: why });
    }
  }
  if (schema.anyOf) {
    const results = schema.anyOf.map((s) => validate(s, value, path));
    if (!results.some((r) => r.length === 0)) out.push({ path, message: `matches none of the ${results.length} allowed forms (${results.map((r, i) => `form ${i + 1}: ${r[0]!.path} ${r[0]!.message}`).join('; ')})` });
  }
  return out;
}
