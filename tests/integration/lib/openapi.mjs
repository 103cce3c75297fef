// openapi.mjs -- checks real answers against the server's OpenAPI 3.1
// document: the operation must exist, the status must be one it lists, the
// headers it marks required must be there, and the body must match the
// schema. A validator of our own for the part of JSON Schema the document
// uses: type (also a list), enum, properties, required, additionalProperties
// (false or a schema), items, minimum/maximum, minLength/maxLength (code
// points), pattern, minProperties, and local $ref.

/* The errors of value against schema (an empty array when it is valid). */
export function validate(doc, schema, value, where = '$') {
  const errors = [];
  check(doc, schema, value, where, errors);
  return errors;
}

function resolve(doc, schema) {
  while (schema && schema.$ref) {
    if (!schema.$ref.startsWith('#/')) throw new Error(`only local $ref: ${schema.$ref}`);
    schema = schema.$ref
      .slice(2)
      .split('/')
      .reduce((node, key) => node?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
    if (!schema) throw new Error('dangling $ref');
  }
  return schema;
}

function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

const KNOWN = new Set([
  '$ref', 'type', 'enum', 'properties', 'required', 'additionalProperties', 'items', 'minimum', 'maximum',
  'minLength', 'maxLength', 'pattern', 'minProperties', 'description', 'default',
]);

function check(doc, schema, v, at, errors) {
  schema = resolve(doc, schema);
  for (const key of Object.keys(schema)) if (!KNOWN.has(key)) throw new Error(`${at}: schema keyword "${key}" is not supported by this validator`);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const t = typeOf(v);
    if (!types.includes(t) && !(t === 'integer' && types.includes('number'))) {
      errors.push(`${at}: ${t}, expected ${types.join(' or ')}`);
      return;
    }
  }
  if (schema.enum && !schema.enum.some((e) => e === v)) errors.push(`${at}: ${JSON.stringify(v)} not in ${JSON.stringify(schema.enum)}`);
  if (typeof v === 'number') {
    if (schema.minimum !== undefined && v < schema.minimum) errors.push(`${at}: ${v} < ${schema.minimum}`);
    if (schema.maximum !== undefined && v > schema.maximum) errors.push(`${at}: ${v} > ${schema.maximum}`);
  }
  if (typeof v === 'string') {
    const n = Array.from(v).length;
    if (schema.minLength !== undefined && n < schema.minLength) errors.push(`${at}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && n > schema.maxLength) errors.push(`${at}: longer than ${schema.maxLength}`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(v)) errors.push(`${at}: ${JSON.stringify(v)} does not match ${schema.pattern}`);
  }
  if (Array.isArray(v) && schema.items) v.forEach((item, i) => check(doc, schema.items, item, `${at}[${i}]`, errors));
  if (typeOf(v) === 'object') {
    const props = schema.properties || {};
    for (const r of schema.required || []) if (!(r in v)) errors.push(`${at}: "${r}" is required`);
    if (schema.minProperties !== undefined && Object.keys(v).length < schema.minProperties) errors.push(`${at}: fewer than ${schema.minProperties} members`);
    for (const [k, val] of Object.entries(v)) {
      if (props[k]) check(doc, props[k], val, `${at}.${k}`, errors);
      else if (schema.additionalProperties === false) errors.push(`${at}: "${k}" is not described`);
      else if (typeof schema.additionalProperties === 'object') check(doc, schema.additionalProperties, val, `${at}.${k}`, errors);
    }
  }
}

/* The path template of doc that concrete path (no query) matches, or null. A
 * path without templating wins over a templated one (OpenAPI's rule):
 * /api/sessions/refresh is not /api/sessions/{session_id}. */
export function matchPath(doc, path) {
  if (doc.paths[path]) return path;
  for (const template of Object.keys(doc.paths)) {
    const re = new RegExp('^' + template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+') + '$');
    if (re.test(path)) return template;
  }
  return null;
}

/**
 * Checks one real answer: method and target (path + query) of the request,
 * and { status, headers (a Headers), body (parsed JSON or text) }. Returns
 * { operation: 'METHOD template', status } for coverage; throws an Error
 * listing every mismatch.
 */
export function checkAnswer(doc, method, target, res) {
  const path = target.split('?')[0];
  const template = matchPath(doc, path);
  if (!template) throw new Error(`${method} ${path}: no such path in the OpenAPI document`);
  const m = method.toLowerCase() === 'head' ? 'get' : method.toLowerCase();
  const op = doc.paths[template][m];
  if (!op) throw new Error(`${method} ${template}: no such operation in the OpenAPI document`);
  const described = op.responses[String(res.status)] ?? op.responses.default;
  if (!described) throw new Error(`${method} ${template}: status ${res.status} is not described (${Object.keys(op.responses)})`);
  const r = resolve(doc, described);
  const errors = [];
  for (const [name, h] of Object.entries(r.headers || {})) {
    const header = resolve(doc, h);
    const got = res.headers.get(name);
    if (header.required && got === null) errors.push(`header ${name} is required`);
    if (got !== null && header.schema) {
      const value = resolve(doc, header.schema).type === 'integer' ? Number(got) : got;
      errors.push(...validate(doc, header.schema, value, `header ${name}`));
    }
  }
  const content = r.content?.['application/json'];
  if (content && method.toUpperCase() !== 'HEAD') {
    if (!(res.headers.get('content-type') || '').startsWith('application/json')) errors.push(`content-type ${res.headers.get('content-type')}`);
    else errors.push(...validate(doc, content.schema, res.body));
  } else if (!content && res.status !== 204 && typeof res.body === 'object' && res.body !== null) {
    errors.push('a JSON body where none is described');
  }
  if (errors.length) throw new Error(`${method} ${target} ${res.status}: ${errors.join('; ')}\n${JSON.stringify(res.body).slice(0, 500)}`);
  return { operation: `${m.toUpperCase()} ${template}`, status: res.status };
}

/* Every "METHOD template" of doc. */
export function operations(doc) {
  const out = [];
  for (const [template, item] of Object.entries(doc.paths))
    for (const m of ['get', 'put', 'post', 'delete', 'patch']) if (item[m]) out.push(`${m.toUpperCase()} ${template}`);
  return out;
}
