/**
 * `authorization`: EMQX 5's ordered list of sources (an ACL file, an HTTP service), what
 * happens on no match or a denial, and the per-client cache of decisions.
 */
import { bool, duration, int, oneOf, str, stringMap, variants, type SchemaNode } from '../schema-dsl.js';

const enable = bool({ default: true, description: 'Use this source. `false` keeps its settings and skips it.' });

const TEMPLATE = 'Templates: `${clientid}`, `${username}`, `${peerhost}`, `${topic}`, `${action}` (`publish`/`subscribe`), `${qos}`, `${retain}`.';

export const authorizationSchema = {
  no_match: oneOf({ default: 'allow', values: ['allow', 'deny'], description: 'What happens when no source decides a PUBLISH or SUBSCRIBE (EMQX default: allow).' }),
  deny_action: oneOf({
    default: 'ignore',
    values: ['ignore', 'disconnect'],
    description: 'What a denied PUBLISH does besides being dropped: `ignore` (PUBACK 0x87 in v5) or `disconnect` (DISCONNECT 0x87).',
  }),
  sources: variants({
    description:
      "EMQX 5's ordered list of sources, each `{type: file, path}` or `{type: http, url, …}`. Each PUBLISH and SUBSCRIBE goes down the list until a source allows or denies it; after the last, `no_match` decides. Empty (the default): no check at all. Through the environment: `VIREO_AUTHORIZATION__SOURCES='[{type: file, path: /etc/vireo/acl.yaml}]'`.",
    itemName: 'source',
    tagKeys: ['type'],
    variants: {
      file: {
        enable,
        path: str({
          default: '',
          description: 'ACL file (YAML or JSON list of rules; see docs/security.md). Required. Re-read by `vireo ctl acl reload`.',
          check: (v) => (v === '' ? 'the path of an ACL file' : undefined),
        }),
      },
      http: {
        enable,
        method: oneOf({ default: 'post', values: ['post', 'get'], description: '`post` sends `body` as JSON; `get` sends it as the query string.' }),
        url: str({
          default: '',
          description: `The authorization service, \`http://\` or \`https://\`. Required. It answers \`{"result": "allow" | "deny" | "ignore"}\` (or 204: allow). ${TEMPLATE}`,
          check: (v) => (/^https?:\/\/[^/]/.test(v) ? undefined : 'an http(s) URL'),
        }),
        headers: stringMap({ default: { 'content-type': 'application/json' }, description: `Request headers. ${TEMPLATE}` }),
        body: stringMap({
          default: { clientid: '${clientid}', username: '${username}', topic: '${topic}', action: '${action}' },
          description: `Request fields (JSON body for \`post\`, query for \`get\`). ${TEMPLATE}`,
        }),
        request_timeout: duration({ default: 5000, min: 10, max: 300_000, description: 'A request that takes longer counts as `ignore` (the next source decides) and is logged.' }),
        pool_size: int({ default: 8, min: 1, max: 1024, description: 'Kept-alive connections to the service.' }),
      },
    },
  }),
  cache: {
    enable: bool({
      default: true,
      description:
        "Remember each client's decisions (EMQX's authorization cache), so a source is asked once per topic and action. Cleared when the client disconnects or the rules are reloaded.",
    }),
    max_size: int({ default: 32, min: 1, max: 1_048_576, description: 'Decisions kept per client; the oldest go first.' }),
    ttl: duration({ default: 60_000, min: 1000, max: 86_400_000, description: 'How long a decision is kept.' }),
  },
} as const satisfies SchemaNode;
