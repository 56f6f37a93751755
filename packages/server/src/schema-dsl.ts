/**
 * The little language the configuration schema is written in.
 *
 * The schema is a tree of plain objects whose leaves are key specs built with the
 * helpers below. One tree gives us three things that must never drift apart:
 * the TypeScript type of the loaded config (`ConfigOf`), the validator, and the
 * generated reference page (docs/configuration.md).
 */

/** A parsed `bind` value. Port 0 means "listener disabled". */
export interface Bind {
  host: string;
  port: number;
}

interface SpecBase<T> {
  readonly description: string;
  /** The default; a function when it depends on the machine (e.g. the host name). */
  readonly default: T | (() => T);
  /** How the default is shown in the docs when `default` is a function or not literal. */
  readonly docDefault?: string;
  /** Set for keys of features that are not built yet: they are validated but unused. */
  readonly feature?: string;
}

export interface StringSpec extends SpecBase<string> {
  readonly kind: 'string';
  /** Returns what was expected when the value is not acceptable, e.g. "a path starting with /". */
  readonly check?: (value: string) => string | undefined;
}

/** A string key whose default is "unset" (e.g. an optional file). */
export interface OptionalStringSpec extends SpecBase<string | undefined> {
  readonly kind: 'optional_string';
}

export interface IntSpec extends SpecBase<number> {
  readonly kind: 'int';
  readonly min: number;
  readonly max: number;
  /** Words accepted in place of a number, and the number they stand for (e.g. infinity → 0). */
  readonly keywords?: Readonly<Record<string, number>>;
}

export interface NumberSpec extends SpecBase<number> {
  readonly kind: 'number';
  readonly min: number;
  readonly max: number;
}

export interface BoolSpec extends SpecBase<boolean> {
  readonly kind: 'bool';
}

/** Milliseconds after parsing; written as `500ms`, `15s`, `1m`, `2h`, `1d` or `1h30m`. */
export interface DurationSpec extends SpecBase<number> {
  readonly kind: 'duration';
  readonly min: number;
  readonly max: number;
  readonly keywords?: Readonly<Record<string, number>>;
}

/** Bytes after parsing; written as `1MB`, `64KB` (1024-based, as in EMQX) or a plain number of bytes. */
export interface ByteSizeSpec extends SpecBase<number> {
  readonly kind: 'bytesize';
  readonly min: number;
  readonly max: number;
}

export interface BindSpec extends SpecBase<Bind> {
  readonly kind: 'bind';
}

export interface EnumSpec<V extends string = string> extends SpecBase<V> {
  readonly kind: 'enum';
  readonly values: readonly V[];
}

/** What each item of a list must look like. */
export type ListItem = 'string' | 'address' | 'url';

export interface ListSpec extends SpecBase<string[]> {
  readonly kind: 'list';
  readonly item: ListItem;
}

/**
 * A structured YAML value checked and converted by `parse` (e.g. a rule's `actions`: a list
 * of `type:name` strings and `{function: …}` mappings). Errors name the item (`[1]`).
 */
export interface ValueSpec<T = unknown> extends SpecBase<T> {
  readonly kind: 'value';
  /** What a valid value looks like, for errors and the docs. */
  readonly expected: string;
  readonly parse: (raw: unknown) => { value: T } | { errors: { at: string; message: string }[] };
}

/**
 * A section whose keys are names the user picks, each shaped like `item`: e.g.
 * `bridges.mqtt.<name>.server`. Names through the environment are lower case
 * (`VIREO_BRIDGES__MQTT__CLOUD__SERVER` → `bridges.mqtt.cloud.server`).
 */
export interface NamedSpec<S extends SchemaNode = SchemaNode> extends SpecBase<Readonly<Record<string, ConfigOf<S>>>> {
  readonly kind: 'named';
  readonly item: S;
}

/**
 * An ordered list of sections of several shapes (EMQX's authenticators and authorization
 * sources). The values of `tagKeys` in an item, joined with `:` (absent ones left out),
 * name its variant, e.g. `password_based:built_in_database` or `jwt`; the item's other keys
 * are checked against that variant's schema, and its `id` is the variant's name.
 */
export interface VariantsSpec<M extends VariantMap = VariantMap> extends SpecBase<readonly VariantOf<M>[]> {
  readonly kind: 'variants';
  readonly tagKeys: readonly string[];
  readonly variants: M;
  /** What one item is, for messages: e.g. "authenticator". */
  readonly itemName: string;
}

export type VariantMap = Readonly<Record<string, SchemaNode>>;
export type VariantOf<M extends VariantMap> = { [K in keyof M & string]: { readonly id: K } & ConfigOf<M[K]> }[keyof M & string];

/** A mapping of free names to strings (HTTP headers, a request body's fields, JWT claims). */
export interface StringMapSpec extends SpecBase<Readonly<Record<string, string>>> {
  readonly kind: 'string_map';
}

/** How a named section's name appears in key paths of the docs and errors about the schema. */
export const NAME_SLOT = '<name>';

export type KeySpec =
  | NamedSpec
  | StringSpec
  | OptionalStringSpec
  | IntSpec
  | NumberSpec
  | BoolSpec
  | DurationSpec
  | ByteSizeSpec
  | BindSpec
  | EnumSpec
  | ListSpec
  | ValueSpec
  | StringMapSpec
  | VariantsSpec;

/** A branch of the schema: names to sub-branches or key specs. */
export interface SchemaNode {
  readonly [name: string]: SchemaNode | KeySpec;
}

/** The loaded-config type of a schema branch: each spec becomes the type of its parsed value. */
export type ConfigOf<S> = S extends SpecBase<infer T> ? T : { readonly [K in keyof S]: ConfigOf<S[K]> };

// Leaf builders. `Omit<…, 'kind'>` keeps call sites short while the result stays a precise spec.
export const str = (s: Omit<StringSpec, 'kind'>): StringSpec => ({ kind: 'string', ...s });
export const optionalStr = (s: Omit<OptionalStringSpec, 'kind'>): OptionalStringSpec => ({
  kind: 'optional_string',
  ...s,
});
export const int = (s: Omit<IntSpec, 'kind'>): IntSpec => ({ kind: 'int', ...s });
export const num = (s: Omit<NumberSpec, 'kind'>): NumberSpec => ({ kind: 'number', ...s });
export const bool = (s: Omit<BoolSpec, 'kind'>): BoolSpec => ({ kind: 'bool', ...s });
export const duration = (s: Omit<DurationSpec, 'kind'>): DurationSpec => ({ kind: 'duration', ...s });
export const bytesize = (s: Omit<ByteSizeSpec, 'kind'>): ByteSizeSpec => ({ kind: 'bytesize', ...s });
export const bind = (s: Omit<BindSpec, 'kind'>): BindSpec => ({ kind: 'bind', ...s });
export const list = (s: Omit<ListSpec, 'kind'>): ListSpec => ({ kind: 'list', ...s });
export function value<T>(s: Omit<ValueSpec<T>, 'kind'>): ValueSpec<T> {
  return { kind: 'value', ...s };
}
export function named<const S extends SchemaNode>(s: { description: string; item: S }): NamedSpec<S> {
  return { kind: 'named', default: {}, ...s };
}
export const stringMap = (s: Omit<StringMapSpec, 'kind'>): StringMapSpec => ({ kind: 'string_map', ...s });
export function variants<const M extends VariantMap>(s: { description: string; itemName: string; tagKeys: readonly string[]; variants: M; docDefault?: string }): VariantsSpec<M> {
  return { kind: 'variants', default: [], ...s };
}
/** `values` is a const tuple so the config type is the union of the allowed words. */
export function oneOf<const V extends string>(s: Omit<EnumSpec<V>, 'kind'>): EnumSpec<V> {
  return { kind: 'enum', ...s };
}

export function isKeySpec(node: SchemaNode | KeySpec): node is KeySpec {
  return typeof (node as { kind?: unknown }).kind === 'string' && 'description' in node;
}

export interface SchemaEntry {
  /** Dotted path, e.g. `listeners.tcp.default.bind`. */
  path: string;
  spec: KeySpec;
}

/**
 * Every key of the schema, depth first, in declaration order (which is also the docs'
 * order). A named section contributes its item's keys under `<name>`.
 */
export function flattenSchema(node: SchemaNode, prefix = ''): SchemaEntry[] {
  const out: SchemaEntry[] = [];
  for (const [name, child] of Object.entries(node)) {
    const path = prefix ? `${prefix}.${name}` : name;
    if (isKeySpec(child) && child.kind === 'named') out.push(...flattenSchema(child.item, `${path}.${NAME_SLOT}`));
    else if (isKeySpec(child)) out.push({ path, spec: child });
    else out.push(...flattenSchema(child, path));
  }
  return out;
}

export function resolveDefault<T>(spec: SpecBase<T>): T {
  const d = spec.default;
  return typeof d === 'function' ? (d as () => T)() : d;
}
