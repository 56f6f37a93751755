/**
 * `dashboard`: the HTTP API listener, and the web dashboard it serves (sign-in users,
 * tokens, the time series behind its charts).
 */
import { bind, duration, optionalStr, str, type SchemaNode } from '../schema-dsl.js';

export const dashboardSchema = {
  listeners: {
    http: {
      bind: bind({
        default: { host: '0.0.0.0', port: 18083 },
        description: 'Address of the HTTP API (`/api/v5`), Prometheus metrics and health probes (`/status`). Port 0 disables it.',
      }),
    },
    https: {
      bind: bind({
        default: { host: '0.0.0.0', port: 0 },
        description:
          "Address of the same API over HTTPS (EMQX's `dashboard.listeners.https`), e.g. `0.0.0.0:18084`; port 0 (the default) disables it. Needs `ssl_options.certfile` and `keyfile`. With HTTPS on, set `dashboard.listeners.http.bind` to 0 (or to 127.0.0.1 for local probes) so that API keys never cross the network in clear.",
      }),
      ssl_options: {
        certfile: optionalStr({ default: undefined, docDefault: 'none', description: "PEM file with the HTTPS listener's certificate (and chain)." }),
        keyfile: optionalStr({ default: undefined, docDefault: 'none', description: 'PEM file with the private key of `certfile`.' }),
      },
    },
  },
  default_username: str({
    default: 'admin',
    description: 'Name of the dashboard administrator made at start from `dashboard.default_password`.',
    check: (v) => (/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/.test(v) ? undefined : 'letters, digits and _ . @ - (up to 64, starting with a letter or digit)'),
  }),
  default_password: optionalStr({
    default: undefined,
    docDefault: 'none',
    description:
      'Password of `dashboard.default_username`, an administrator made at start when no dashboard user has that name (a password changed later through the dashboard is kept). Unset: no such user, and nobody can sign in to the dashboard until a user is made (`dashboard.bootstrap_users_file`, or `POST /api/v5/users` with an API key). 8 to 64 characters of at least two kinds (letters, digits, others); a weak one fails start-up. Best given as `VIREO_DASHBOARD__DEFAULT_PASSWORD`.',
  }),
  bootstrap_users_file: optionalStr({
    default: undefined,
    docDefault: 'none',
    description:
      'File of dashboard users made at start when missing, one `username:password[:role]` a line (role `administrator`, the default, or `viewer`; `#` comments). Users that exist are left as they are.',
  }),
  token_expired_time: duration({
    default: 3_600_000,
    min: 1000,
    max: 30 * 86_400_000,
    description: 'How long a dashboard sign-in token (`POST /api/v5/login`) lasts; then the dashboard asks to sign in again.',
  }),
  sample_interval: duration({
    default: 10_000,
    min: 1000,
    max: 60_000,
    description:
      "How often each node samples its counters for the dashboard's charts (`GET /api/v5/monitor`); the last hour is kept, in the data dir too (one row per sample), so the charts survive a restart.",
  }),
} as const satisfies SchemaNode;
