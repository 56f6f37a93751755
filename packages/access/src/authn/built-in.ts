/**
 * EMQX's `password_based:built_in_database`: the node's user table. A client without a user
 * id, or one the table does not hold, is passed on (EMQX's `ignore`); a wrong password is
 * denied. Unknown users cost the same hash as known ones (builtin-users.ts).
 */
import type { AuthenticateRequest } from '@vireo/broker';
import type { BuiltinUsers } from '../builtin-users.js';
import type { Authenticator, AuthnOutcome } from './authenticator.js';

export class BuiltinAuthenticator implements Authenticator {
  readonly id = 'password_based:built_in_database';

  constructor(
    private readonly users: BuiltinUsers,
    readonly userIdType: 'username' | 'clientid',
  ) {}

  async authenticate(req: AuthenticateRequest): Promise<AuthnOutcome> {
    const userId = this.userIdType === 'username' ? req.username : req.clientId;
    if (userId === undefined || userId === '') return { result: 'ignore', reason: 'no_user_id' };
    const r = await this.users.check(userId, req.password);
    if (r.ok) return { result: 'allow', isSuperuser: r.isSuperuser };
    return r.reason === 'not_found' ? { result: 'ignore', reason: 'not_found' } : { result: 'deny', reason: r.reason };
  }

  close(): void {}
}
