/**
 * `authentication`: the password-based authenticator and its hash settings.
 */
import { bool, int, oneOf, type SchemaNode } from '../schema-dsl.js';

export const authenticationSchema = {
  enable: bool({
    default: false,
    description:
      'Check CONNECT credentials against the built-in user database (`vireo ctl users`, `/api/v5/authentication/password_based:built_in_database/users`). Off: every client is accepted, as without an authenticator in EMQX.',
  }),
  mechanism: oneOf({ default: 'password_based', values: ['password_based'], description: 'How clients prove who they are (EMQX name); only `password_based`.' }),
  backend: oneOf({ default: 'built_in_database', values: ['built_in_database'], description: 'Where users are kept (EMQX name): the node\'s own store, per node.' }),
  user_id_type: oneOf({ default: 'username', values: ['username', 'clientid'], description: 'Which CONNECT field names the user: its username or its client id.' }),
  allow_anonymous: bool({
    default: true,
    description: 'With `enable`: accept clients that send no user id (no username), as anonymous. Set `false` to refuse them (CONNACK 0x87 / 5).',
  }),
  password_hash_algorithm: {
    name: oneOf({
      default: 'pbkdf2',
      values: ['pbkdf2', 'sha256', 'sha512'],
      description: 'Hash for passwords set from now on: `pbkdf2` (slow on purpose, computed off the event loop) or salted `sha256`/`sha512` (fast, EMQX-compatible). Each user keeps the algorithm it was set with.',
    }),
    mac_fun: oneOf({ default: 'sha256', values: ['sha256', 'sha512'], description: 'For `pbkdf2`: the HMAC hash.' }),
    iterations: int({ default: 4096, min: 1, max: 10_000_000, description: 'For `pbkdf2`: iterations (each CONNECT of a user costs this many HMACs on the thread pool).' }),
    dk_length: int({ default: 32, min: 16, max: 128, description: 'For `pbkdf2`: derived key length in bytes.' }),
    salt_position: oneOf({ default: 'suffix', values: ['prefix', 'suffix'], description: 'For `sha256`/`sha512`: the salt before or after the password.' }),
  },
} as const satisfies SchemaNode;
