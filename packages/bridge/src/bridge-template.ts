/**
 * EMQX-style `${field}` templates of a bridge's topic, QoS, retain and payload. A
 * template is compiled once; rendering a message is a few string joins, and the common
 * templates (`${topic}`, `${payload}`, `${qos}`, `${retain}`) take the value as is.
 */

/** What a template can name. */
export interface TemplateFields {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  clientid: string;
}

const FIELDS: ReadonlySet<string> = new Set(['topic', 'payload', 'qos', 'retain', 'clientid']);
const PLACEHOLDER = /\$\{([^}]*)\}/g;

/** A compiled template: literal parts between field names. */
export interface Template {
  readonly source: string;
  /** The field when the template is exactly one placeholder (no copy needed), else undefined. */
  readonly whole: keyof TemplateFields | undefined;
  readonly parts: readonly string[];
  readonly fields: readonly (keyof TemplateFields)[];
}

/** Compiles `source`; throws naming the unknown field. */
export function compileTemplate(source: string): Template {
  const parts: string[] = [];
  const fields: (keyof TemplateFields)[] = [];
  let last = 0;
  for (const m of source.matchAll(PLACEHOLDER)) {
    const name = m[1]!.trim();
    if (!FIELDS.has(name)) throw new Error(`unknown placeholder \${${name}} (known: ${[...FIELDS].map((f) => `\${${f}}`).join(', ')})`);
    parts.push(source.slice(last, m.index));
    fields.push(name as keyof TemplateFields);
    last = m.index! + m[0].length;
  }
  parts.push(source.slice(last));
  const whole = fields.length === 1 && parts[0] === '' && parts[1] === '' ? fields[0] : undefined;
  return { source, whole, parts, fields };
}

function text(f: TemplateFields, name: keyof TemplateFields): string {
  const v = f[name];
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

export function renderText(t: Template, f: TemplateFields): string {
  if (t.fields.length === 0) return t.source;
  let out = t.parts[0]!;
  for (let i = 0; i < t.fields.length; i++) out += text(f, t.fields[i]!) + t.parts[i + 1]!;
  return out;
}

/** The payload: the original bytes for `${payload}`, else the rendered text. */
export function renderPayload(t: Template, f: TemplateFields): Buffer {
  return t.whole === 'payload' ? f.payload : Buffer.from(renderText(t, f));
}

/** A QoS: `${qos}` or a rendered 0/1/2; anything else falls back to the message's QoS. */
export function renderQos(t: Template, f: TemplateFields): 0 | 1 | 2 {
  if (t.whole === 'qos') return f.qos;
  const n = Number(renderText(t, f));
  return n === 0 || n === 1 || n === 2 ? n : f.qos;
}

/** A retain flag: `${retain}`, or a rendered `true`/`1`. */
export function renderRetain(t: Template, f: TemplateFields): boolean {
  if (t.whole === 'retain') return f.retain;
  const s = renderText(t, f).trim().toLowerCase();
  return s === 'true' || s === '1';
}
