/**
 * `vireo ctl users|banned|acl|api-keys|log`: the access-control commands, over the same HTTP
 * API as the rest of ctl (see ctl.ts, which hands each command here first).
 */
import { parseUsersFile } from '@vireo/access';
import { readFileSync } from 'node:fs';
import { table, record } from './ctl-format.js';

export const SECURITY_USAGE = `  users list                           Users of the built-in database
  users add USER [PASSWORD] [--superuser]
  users passwd USER [PASSWORD]         (without PASSWORD: read from stdin)
  users del USER
  users import FILE                    EMQX's export: JSON list or CSV (user_id,password_hash,salt,is_superuser)
  banned list
  banned add clientid|username|peerhost|peerhost_net WHO [--reason R] [--duration SECONDS | --until TIME]
  banned del clientid|username|peerhost|peerhost_net WHO
  acl reload                           Re-read the ACL file (the file source of authorization.sources)
  api-keys list | add NAME [--desc D] [--role administrator|viewer|publisher] | del NAME
  log set-level LEVEL                  debug, info, notice, warning, error, critical, alert, emergency
`;

export type Call = (method: string, path: string, body?: unknown) => Promise<unknown>;
export type Out = (data: unknown, text: () => string) => string;
export interface SecurityOpts {
  superuser?: boolean;
  reason?: string;
  until?: string;
  duration?: string;
  desc?: string;
  role?: string;
}

/** A usage mistake (exit 2). */
export class SecurityUsageError extends Error {}

const USERS = '/api/v5/authentication/password_based:built_in_database/users';

/** Runs the command when it is one of these; undefined when it is not. */
export function securityCommand(p: string[], v: SecurityOpts, call: Call, out: Out): Promise<string> | undefined {
  const [a, b, c, d] = p;
  const need = (x: string | undefined, what: string): string => {
    if (x === undefined || x === '') throw new SecurityUsageError(`missing ${what}`);
    return x;
  };
  const user = (x: string | undefined) => `${USERS}/${encodeURIComponent(need(x, 'USER'))}`;
  switch (`${a} ${b ?? ''}`.trim()) {
    case 'users list':
      return run(async () => {
        const r = (await call('GET', `${USERS}?limit=10000`)) as { data: Record<string, unknown>[]; meta: { count: number } };
        return out(r, () => table(r.data, ['user_id', 'is_superuser']) + `${r.meta.count} user(s)\n`);
      });
    case 'users add':
      return run(async () => {
        const body = { user_id: need(c, 'USER'), password: d ?? (await passwordFromStdin()), is_superuser: v.superuser ?? false };
        const r = await call('POST', USERS, body);
        const authns = (await call('GET', '/api/v5/authentication')) as { id: string; enable: boolean }[];
        const note = authns.some((a) => a.id === 'password_based:built_in_database' && a.enable)
          ? ''
          : "note: no built_in_database authenticator is on in this node's authentication list: users are not checked\n";
        return out(r, () => `added user ${c}${body.is_superuser ? ' (superuser)' : ''}\n${note}`);
      });
    case 'users passwd':
      return run(async () => {
        const path = user(c);
        const r = await call('PUT', path, { password: d ?? (await passwordFromStdin()), ...(v.superuser !== undefined ? { is_superuser: v.superuser } : {}) });
        return out(r, () => `changed the password of ${c}\n`);
      });
    case 'users import':
      return run(async () => {
        const file = need(c, 'FILE');
        const users = readUsersFile(file);
        const r = (await call('POST', `${USERS.slice(0, -'/users'.length)}/import_users`, users)) as Record<string, number>;
        return out(r, () => `imported ${r.success} of ${r.total} user(s) from ${file} (${r.override} replaced, ${r.failed} failed)\n`);
      });
    case 'users del':
      return run(async () => {
        await call('DELETE', user(c));
        return out({ deleted: c }, () => `deleted user ${c}\n`);
      });
    case 'banned list':
      return run(async () => {
        const r = (await call('GET', '/api/v5/banned?limit=10000')) as { data: Record<string, unknown>[] };
        return out(r, () => table(r.data, ['as', 'who', 'by', 'reason', 'at', 'until']));
      });
    case 'banned add':
      return run(async () => {
        const until = v.until ?? (v.duration ? new Date(Date.now() + seconds(v.duration) * 1000).toISOString() : undefined);
        const body = { as: kind(c), who: need(d, 'WHO'), by: 'vireo ctl', reason: v.reason ?? '', ...(until ? { until } : {}) };
        const r = (await call('POST', '/api/v5/banned', body)) as Record<string, unknown>;
        return out(r, () => `banned ${c} ${String(r.who)} until ${String(r.until)}\n`);
      });
    case 'banned del':
      return run(async () => {
        await call('DELETE', `/api/v5/banned/${kind(c)}/${encodeURIComponent(need(d, 'WHO'))}`);
        return out({ deleted: { as: c, who: d } }, () => `ban of ${c} ${d} lifted\n`);
      });
    case 'acl reload':
      return run(async () => {
        const r = (await call('POST', '/api/v5/authorization/sources/file/reload')) as { rules: number };
        return out(r, () => `ACL reloaded: ${r.rules} rule(s)\n`);
      });
    case 'api-keys list':
      return run(async () => {
        const r = (await call('GET', '/api/v5/api_key')) as Record<string, unknown>[];
        return out(r, () => table(r, ['name', 'api_key', 'role', 'enable', 'desc', 'created_at', 'expired_at']));
      });
    case 'api-keys add':
      return run(async () => {
        const r = (await call('POST', '/api/v5/api_key', { name: need(c, 'NAME'), desc: v.desc ?? '', ...(v.role !== undefined ? { role: v.role } : {}) })) as Record<
          string,
          unknown
        >;
        // the secret is shown this once: print it where a script can take it
        return out(r, () => record(r) + `\nuse it as --api-key ${String(r.api_key)}:${String(r.api_secret)}\n`);
      });
    case 'api-keys del':
      return run(async () => {
        await call('DELETE', `/api/v5/api_key/${encodeURIComponent(need(c, 'NAME'))}`);
        return out({ deleted: c }, () => `deleted API key ${c}\n`);
      });
    case 'log set-level':
      return run(async () => {
        const r = (await call('PUT', '/api/v5/log/level', { level: need(c, 'LEVEL') })) as { level: string };
        return out(r, () => `log level is now ${r.level}\n`);
      });
    case 'log level':
      return run(async () => {
        const r = (await call('GET', '/api/v5/log/level')) as { level: string };
        return out(r, () => `${r.level}\n`);
      });
    default:
      return undefined;
  }
}

/** Turns a synchronous usage error into a rejected promise, like every other failure. */
function run(fn: () => Promise<string>): Promise<string> {
  try {
    return fn();
  } catch (err) {
    return Promise.reject(err);
  }
}

function kind(x: string | undefined): string {
  if (x !== 'clientid' && x !== 'username' && x !== 'peerhost' && x !== 'peerhost_net')
    throw new SecurityUsageError(`ban by clientid, username, peerhost or peerhost_net, not ${x ?? 'nothing'}`);
  return x;
}

function seconds(x: string): number {
  const n = Number(x);
  if (!Number.isInteger(n) || n <= 0) throw new SecurityUsageError(`--duration is a number of seconds, not ${x}`);
  return n;
}

/** A user file as EMQX exports it: a JSON list, or CSV with a header (user_id, password or password_hash, salt, is_superuser). */
function readUsersFile(file: string): Record<string, string | boolean>[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SecurityUsageError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    return parseUsersFile(text, file);
  } catch (err) {
    throw new SecurityUsageError((err as Error).message);
  }
}

/** The first line of stdin, so a password need not appear in the process list. */
async function passwordFromStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new SecurityUsageError('give the PASSWORD, or pipe it on stdin');
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  const line = text.split(/\r?\n/)[0];
  if (!line) throw new SecurityUsageError('no password on stdin');
  return line;
}
