// The API's own description, readable: fetches /api/v1/openapi.json (generated from the handlers' types)
// and lists every operation by tag with its parameters, request body, answers and who may call it, then
// every schema. Plain DOM; the document's English text is shown as it is, the page's own words translate.

import { applyStatic, mountLangSwitch, onLangChange, t } from '/i18n.js';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A schema in a few words, with links to named schemas.
function typeOf(schema) {
  if (!schema) return document.createTextNode('—');
  if (schema.$ref) {
    const name = schema.$ref.split('/').pop();
    return el('a', { href: `#schema-${name}`, class: 'api-ref' }, name);
  }
  for (const key of ['oneOf', 'anyOf', 'allOf']) {
    if (Array.isArray(schema[key])) {
      const span = el('span');
      schema[key].forEach((s, i) => {
        if (i) span.append(key === 'allOf' ? ' & ' : ' | ');
        span.append(typeOf(s));
      });
      return span;
    }
  }
  if (Array.isArray(schema.enum)) return el('code', {}, schema.enum.map((v) => JSON.stringify(v)).join(' | '));
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : ['any'];
  const span = el('span');
  types.forEach((type, i) => {
    if (i) span.append(' | ');
    if (type === 'array') span.append(typeOf(schema.items), '[]');
    else span.append(el('code', {}, schema.format ? `${type} (${schema.format})` : type));
  });
  return span;
}

function fieldsTable(schema) {
  const props = schema.properties || {};
  const required = new Set(schema.required || []);
  const rows = Object.entries(props).map(([name, s]) =>
    el('tr', {}, el('td', {}, el('code', {}, name)), el('td', {}, typeOf(s)),
      el('td', {}, required.has(name) ? t('api.required') : ''), el('td', {}, s.description || '')));
  return el('table', { class: 'api-table' },
    el('thead', {}, el('tr', {}, el('th', {}, t('api.field')), el('th', {}, t('api.type')),
      el('th', {}, t('api.requiredHead')), el('th', {}, t('api.description')))),
    el('tbody', {}, rows));
}

function security(op, doc) {
  const reqs = op.security ?? doc.security ?? [];
  if (reqs.length === 0 || reqs.some((r) => Object.keys(r).length === 0)) return t('api.public');
  const order = ['bearer', 'session', 'csrf'];
  const name = (scheme) => (order.includes(scheme) ? t(`api.scheme.${scheme}`) : scheme);
  const sorted = (keys) => keys.sort((a, b) => order.indexOf(a) - order.indexOf(b));
  return reqs.map((r) => sorted(Object.keys(r)).map(name).join(' + ')).join(t('api.or'));
}

function operation(path, method, op, doc) {
  const id = `op-${op.operationId || method + path}`;
  const section = el('section', { class: 'api-op card', id, 'data-path': path, 'data-method': method.toUpperCase() },
    el('h3', {}, el('span', { class: `api-method api-${method}` }, method.toUpperCase()), ' ',
      el('code', {}, `/api/v1${path}`)),
    op.summary ? el('p', {}, op.summary) : null,
    op.description ? el('p', { class: 'muted' }, op.description) : null,
    el('p', { class: 'small' }, `${t('api.who')}: `, el('span', { class: 'api-security' }, security(op, doc))));
  const params = op.parameters || [];
  if (params.length) {
    section.append(el('h4', {}, t('api.parameters')), el('table', { class: 'api-table' },
      el('thead', {}, el('tr', {}, el('th', {}, t('api.field')), el('th', {}, t('api.in')), el('th', {}, t('api.type')),
        el('th', {}, t('api.requiredHead')), el('th', {}, t('api.description')))),
      el('tbody', {}, params.map((p) => el('tr', {}, el('td', {}, el('code', {}, p.name)), el('td', {}, p.in),
        el('td', {}, typeOf(p.schema)), el('td', {}, p.required ? t('api.required') : ''),
        el('td', {}, p.description || ''))))));
  }
  if (op.requestBody) {
    section.append(el('h4', {}, t('api.body')), el('ul', {}, Object.entries(op.requestBody.content || {}).map(
      ([type, media]) => el('li', {}, el('code', {}, type), ': ', typeOf(media.schema)))));
  }
  section.append(el('h4', {}, t('api.responses')), el('ul', { class: 'api-responses' },
    Object.entries(op.responses || {}).map(([status, r]) => el('li', {}, el('strong', {}, status), ' ', r.description || '',
      Object.entries(r.content || {}).map(([type, media]) =>
        el('span', { class: 'muted' }, ' — ', el('code', {}, type), media.schema ? [' ', typeOf(media.schema)] : []))))));
  return section;
}

function render(doc) {
  const toc = document.getElementById('api-toc');
  const ops = document.getElementById('api-operations');
  toc.replaceChildren();
  ops.replaceChildren();
  const byTag = new Map((doc.tags || []).map((tag) => [tag.name, { tag, items: [] }]));
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const name = (op.tags && op.tags[0]) || 'other';
      if (!byTag.has(name)) byTag.set(name, { tag: { name }, items: [] });
      byTag.get(name).items.push([path, method, op]);
    }
  }
  for (const { tag, items } of byTag.values()) {
    if (!items.length) continue;
    toc.append(el('a', { href: `#tag-${tag.name}` }, tag.name), ' ');
    ops.append(el('h2', { id: `tag-${tag.name}` }, tag.name, tag.description ? el('small', { class: 'muted' }, ` ${tag.description}`) : null));
    for (const [path, method, op] of items) ops.append(operation(path, method, op, doc));
  }
  const schemas = document.getElementById('api-schemas');
  schemas.replaceChildren(el('h2', {}, t('api.schemas')));
  for (const [name, schema] of Object.entries(doc.components?.schemas || {})) {
    const section = el('section', { class: 'api-schema card', id: `schema-${name}` }, el('h3', {}, name),
      schema.description ? el('p', {}, schema.description) : null);
    if (schema.properties) section.append(fieldsTable(schema));
    else if (schema.oneOf) {
      for (const variant of schema.oneOf) {
        section.append(variant.properties ? fieldsTable(variant) : el('p', {}, typeOf(variant)));
      }
    } else section.append(el('p', {}, typeOf(schema)));
    schemas.append(section);
  }
}

async function main() {
  applyStatic();
  mountLangSwitch(document.getElementById('lang-switch'));
  const title = () => { document.title = `${t('api.title')} · RoadLedger`; };
  title();
  try {
    const answer = await fetch('/api/v1/openapi.json', { headers: { Accept: 'application/json' } });
    if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
    const doc = await answer.json();
    const draw = () => { title(); render(doc); };
    onLangChange(draw);
    render(doc);
    document.body.dataset.state = 'ready';
  } catch (e) {
    const box = document.getElementById('api-error');
    box.textContent = t('common.error', { detail: e.message });
    box.hidden = false;
    document.body.dataset.state = 'error';
  }
}

main();
