/**
 * Renders docs/configuration.md from the schema, so the reference cannot fall behind
 * the code: a unit test fails when the committed page differs from this output
 * (regenerate with `npm run docs:config`).
 */
import { configSchema } from './config-schema.js';
import { envNameOf, NON_CONFIG_ENV } from './config-env.js';
import { expectation } from './config-validate.js';
import { formatBind, formatByteSize, formatDuration } from './config-values.js';
import { flattenSchema, isKeySpec, type KeySpec, type SchemaNode, type VariantsSpec } from './schema-dsl.js';

/** Where the generated page lives, relative to this module (dist/ or src/ alike). */
export const CONFIG_DOC_URL = new URL('../../../docs/configuration.md', import.meta.url);

/** The default as a user would write it in vireo.yaml. */
export function formatDefault(spec: KeySpec): string {
  if (spec.docDefault !== undefined) return spec.docDefault;
  if (typeof spec.default === 'function') return '(computed at start)';
  switch (spec.kind) {
    case 'duration': {
      const word = Object.entries(spec.keywords ?? {}).find(([, n]) => n === spec.default)?.[0];
      return word ?? formatDuration(spec.default);
    }
    case 'int': {
      const word = Object.entries(spec.keywords ?? {}).find(([, n]) => n === spec.default)?.[0];
      return word ?? String(spec.default);
    }
    case 'bytesize':
      return formatByteSize(spec.default);
    case 'bind':
      return formatBind(spec.default);
    case 'list':
      return `[${spec.default.join(', ')}]`;
    case 'string':
      return spec.default === '' ? '""' : spec.default;
    case 'optional_string':
      return spec.default ?? 'none';
    case 'variants':
      return '[]';
    case 'string_map':
      return Object.keys(spec.default).length ? JSON.stringify(spec.default) : '{}';
    default:
      return String(spec.default);
  }
}

const INTRO = `# Configuration reference

<!-- Generated from packages/server/src/config-schema.ts by \`npm run docs:config\`. Do not edit by hand. -->

Vireo reads one YAML file and the environment. Key names follow EMQX 5 wherever EMQX
has the concept. Every key has a default, so an empty configuration is a working
single node.

## Where configuration comes from

1. Built-in defaults (below).
2. The YAML file given by \`vireo start --config FILE\`, or else by the
   \`VIREO_CONFIG\` environment variable. No file is read implicitly.
3. Environment overrides, which win over the file: \`VIREO_\` + the key path in upper
   case with \`__\` for each dot. Only \`__\` separates levels, so a single \`_\` stays
   in the key: \`VIREO_NODE__DATA_DIR\` sets \`node.data_dir\`.

\`\`\`yaml
# vireo.yaml
node:
  name: vireo@node1.example.com
listeners:
  tcp:
    default:
      bind: 0.0.0.0:1883
  ws:
    default:
      bind: 0        # port 0: no WebSocket listener
mqtt:
  max_inflight: 64
  session_expiry_interval: 1h
\`\`\`

\`\`\`sh
VIREO_LISTENERS__TCP__DEFAULT__BIND=127.0.0.1:1884 \\
VIREO_CLUSTER__STATIC__SEEDS='[10.0.0.2:5370, 10.0.0.3:5370]' \\
npx vireo start --config vireo.yaml
\`\`\`

Rules for environment variables:

- Every \`VIREO_*\` variable is a configuration override, except ${[...NON_CONFIG_ENV].map((n) => `\`${n}\``).join(', ')}. A
  variable that names no key stops the start like an unknown key in the file, so a
  typo such as \`VIREO_MQTT_MAX_INFLIGHT\` (one \`_\`) cannot go unnoticed.
- An empty value counts as unset.
- Lists are parsed as YAML (\`[a, b]\`); a comma-separated string (\`a,b\`) works too.
  A whole section can be given as a YAML mapping: \`VIREO_MQTT='{max_inflight: 64}'\`.
- Other values are taken as written (YAML quotes are removed), so \`[::]:1883\` and
  secrets with YAML punctuation need no quoting.

## Validation

The configuration is checked as a whole before anything starts; every problem is
printed on its own line with the full key path and where the value came from, and
\`vireo start\` exits with status 2:

\`\`\`
vireo: invalid configuration (2 errors):
  mqtt.max_inflight: expected an integer 1..65535, got "abc" (VIREO_MQTT__MAX_INFLIGHT)
  mqtt.max_inflite: unknown key (did you mean mqtt.max_inflight?) (vireo.yaml:7)
\`\`\`

\`vireo start --force\` reports unknown keys as warnings instead (for a file shared
by nodes of different versions); invalid values of known keys still fail. The same
flag also lets a node start on a data dir that belongs to another node name (see
[Persistence](persistence.md#node-identity)).

## Value formats

- **duration**: a number with a unit: \`500ms\`, \`15s\`, \`1m\`, \`2h\`, \`1d\`, \`1w\`, or a
  sum like \`1h30m\`. A plain number is milliseconds.
- **size**: \`512B\`, \`64KB\`, \`1MB\`, \`1GB\` (1024-based, as in EMQX). A plain number
  is bytes.
- **bind**: \`host:port\`, \`[ipv6]:port\` (quote it in YAML: \`"[::]:1883"\`), or a port
  alone, which listens on every IPv4 interface. Port 0 disables the listener.
- Keys marked *not used yet* belong to features still being built; they are validated
  so that deployments can set them today.
`;

function section(path: string, node: SchemaNode): string {
  const entries = flattenSchema(node, path);
  const blocks = entries.map(({ path: key, spec }) => {
    const lines = [`### \`${key}\``, '', spec.description, '', `- Environment: \`${envNameOf(key)}\``, `- Value: ${expectation(spec)}`, `- Default: \`${formatDefault(spec)}\``];
    if (spec.feature) lines.push(`- *Not used yet*: read by ${spec.feature}.`);
    if (spec.kind === 'variants') lines.push('', ...variantDocs(key, spec));
    return lines.join('\n');
  });
  return [`## \`${path}\``, '', ...blocks.flatMap((b) => [b, ''])].join('\n');
}

/** The keys of each kind of item of a list like `authentication` (set inside the list, not by their own variable). */
function variantDocs(key: string, spec: VariantsSpec): string[] {
  return Object.entries(spec.variants).flatMap(([id, node]) => {
    const tags = spec.tagKeys.map((k, i) => [k, id.split(':')[i]] as const).filter(([, v]) => v !== undefined);
    return [
      `#### \`${key}\` item: ${tags.map(([k, v]) => `\`${k}: ${v}\``).join(', ')}`,
      '',
      '| key | value | default | meaning |',
      '|---|---|---|---|',
      ...flattenSchema(node).map(
        ({ path, spec: s }) => `| \`${path}\` | ${expectation(s)} | \`${formatDefault(s)}\` | ${s.description.replaceAll('|', '\\|').replaceAll('\n', ' ')} |`,
      ),
      '',
    ];
  });
}

export function renderConfigDoc(schema: SchemaNode = configSchema): string {
  const sections = Object.entries(schema).map(([name, child]) => (isKeySpec(child) ? section('', { [name]: child }) : section(name, child)));
  const index = flattenSchema(schema)
    .map(({ path, spec }) => `| \`${path}\` | \`${envNameOf(path)}\` | \`${formatDefault(spec)}\` |`)
    .join('\n');
  return [INTRO, '## All keys', '', '| key | environment | default |', '|---|---|---|', index, '', ...sections].join('\n').replace(/\n+$/, '\n');
}
