/**
 * Template variables come from an inheritance chain: global (config `vars`) -> profile -> host;
 * the most specific wins. Mappings merge key by key; lists and scalars are replaced whole.
 */
export type Vars = Record<string, unknown>;

function isPlain(v: unknown): v is Vars {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

export function mergeVars(...layers: Vars[]): Vars {
  const out: Vars = {};
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) {
      // Never let a template variable named like a prototype key reach the object.
      if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
      const cur = out[k];
      out[k] = isPlain(cur) && isPlain(v) ? mergeVars(cur, v) : structuredClone(v);
    }
  }
  return out;
}
