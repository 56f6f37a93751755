/**
 * `authentication`: EMQX 5's ordered list of authenticators (built-in database, HTTP, JWT).
 */
import { bool, duration, int, oneOf, optionalStr, str, stringMap, variants, type SchemaNode } from '../schema-dsl.js';

const enable = bool({ default: true, description: 'Use this authenticator. `false` keeps its settings and skips it.' });

const TEMPLATE = 'Templates: `${clientid}`, `${username}`, `${password}`, `${peerhost}`, `${cert_common_name}`.';

const builtInDatabase = {
  enable,
  user_id_type: oneOf({ default: 'username', values: ['username', 'clientid'], description: 'Which CONNECT field names the user: its username or its client id.' }),
  password_hash_algorithm: {
    name: oneOf({
      default: 'pbkdf2',
      values: ['pbkdf2', 'sha256', 'sha512'],
      description:
        'Hash for passwords set from now on: `pbkdf2` (slow on purpose, computed off the event loop) or salted `sha256`/`sha512` (fast, EMQX-compatible). Each user keeps the algorithm it was set with; unknown users are checked against a hash made with this one.',
    }),
    mac_fun: oneOf({ default: 'sha256', values: ['sha256', 'sha512'], description: 'For `pbkdf2`: the HMAC hash.' }),
    iterations: int({
      default: 4096,
      min: 1,
      max: 10_000_000,
      description: 'For `pbkdf2`: iterations (each CONNECT of a user costs this many HMACs on the thread pool; see docs/security.md for the choice).',
    }),
    dk_length: int({ default: 32, min: 16, max: 128, description: 'For `pbkdf2`: derived key length in bytes.' }),
    salt_position: oneOf({ default: 'suffix', values: ['prefix', 'suffix'], description: 'For `sha256`/`sha512`: the salt before or after the password.' }),
  },
  bootstrap_file: optionalStr({
    default: undefined,
    docDefault: 'none',
    description: "Users added at start when they do not exist yet (EMQX's CSV `user_id,password,is_superuser` or a JSON list); users that exist are left as they are.",
  }),
  bootstrap_type: oneOf({
    default: 'plain',
    values: ['plain', 'hash'],
    description: '`plain`: the file holds passwords; `hash`: it holds `password_hash` and `salt` made with `password_hash_algorithm`.',
  }),
} as const satisfies SchemaNode;

const http = {
  enable,
  method: oneOf({ default: 'post', values: ['post', 'get'], description: '`post` sends `body` as JSON; `get` sends it as the query string.' }),
  url: str({
    default: '',
    description: `The authentication service, \`http://\` or \`https://\` (its path and query may hold templates). Required. ${TEMPLATE}`,
    check: (v) => (/^https?:\/\/[^/]/.test(v) ? undefined : 'an http(s) URL'),
  }),
  headers: stringMap({ default: { 'content-type': 'application/json' }, description: `Request headers. ${TEMPLATE}` }),
  body: stringMap({
    default: { username: '${username}', password: '${password}' },
    description: `Request fields (JSON body for \`post\`, query for \`get\`). ${TEMPLATE}`,
  }),
  request_timeout: duration({
    default: 5000,
    min: 10,
    max: 300_000,
    description: 'A request that takes longer counts as `ignore` (the next authenticator decides) and is logged.',
  }),
  pool_size: int({ default: 8, min: 1, max: 1024, description: 'Kept-alive connections to the service.' }),
  cache: {
    enable: bool({
      default: false,
      description:
        'Remember `allow` answers (by everything the request is made of, the password included) for `ttl`, so reconnect storms do not reach the service. A password changed at the service then takes up to `ttl` to apply.',
    }),
    max_size: int({ default: 100_000, min: 1, max: 10_000_000, description: 'Answers kept; the oldest go first.' }),
    ttl: duration({ default: 60_000, min: 1000, max: 86_400_000, description: 'How long an answer is kept.' }),
  },
} as const satisfies SchemaNode;

const jwt = {
  enable,
  from: oneOf({ default: 'password', values: ['password', 'username'], description: 'CONNECT field that carries the token.' }),
  use_jwks: bool({ default: false, description: 'Take the keys from a JWKS `endpoint` (refreshed in the background) instead of `secret` / `public_key`.' }),
  algorithm: oneOf({
    default: 'hmac-based',
    values: ['hmac-based', 'public-key'],
    description: 'Without JWKS: `hmac-based` (HS256/384/512 with `secret`) or `public-key` (RS256/ES256… with `public_key`).',
  }),
  secret: optionalStr({ default: undefined, docDefault: 'none', description: 'For `hmac-based`: the shared secret.' }),
  secret_base64_encoded: bool({ default: false, description: 'For `hmac-based`: `secret` is base64.' }),
  public_key: optionalStr({ default: undefined, docDefault: 'none', description: 'For `public-key`: a PEM key, or the path of a PEM file.' }),
  endpoint: optionalStr({ default: undefined, docDefault: 'none', description: 'With `use_jwks`: the JWKS URL.' }),
  refresh_interval: duration({ default: 300_000, min: 1000, max: 86_400_000, description: 'With `use_jwks`: how often the keys are fetched again.' }),
  verify_claims: stringMap({
    default: {},
    description: 'Claims that must equal these values (templates `${clientid}`, `${username}`), e.g. `{sub: "${clientid}"}`. `exp` and `nbf` are always checked.',
  }),
  acl_claim_name: str({
    default: 'acl',
    description: "Claim with per-client rules (EMQX's form: a list of `{permission, action, topic}`, or `{pub, sub, all}`), checked before the authorization sources.",
  }),
  disconnect_after_expire: bool({
    default: true,
    description: "Disconnect a client when its token's `exp` passes (EMQX's; MQTT 5 clients get DISCONNECT 0xA0). `false`: a token is checked only at CONNECT.",
  }),
} as const satisfies SchemaNode;

export const authenticationSchema = variants({
  description:
    "EMQX 5's ordered list of authenticators, each `{mechanism, backend, …}`. A CONNECT goes down the list: an authenticator that knows the client allows or denies it, one that does not (no such user, no token, the service said `ignore`) passes it on; a client every authenticator passes on is refused. An empty list (the default) lets every client in, logged at warn at start. Through the environment: `VIREO_AUTHENTICATION='[{mechanism: password_based, backend: built_in_database}]'`.",
  itemName: 'authenticator',
  tagKeys: ['mechanism', 'backend'],
  variants: {
    'password_based:built_in_database': builtInDatabase,
    'password_based:http': http,
    jwt,
  },
});
