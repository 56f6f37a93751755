/**
 * The dashboard's part of start-up: its users' and tokens' tables, the users bootstrapped
 * from `dashboard.default_password` and `dashboard.bootstrap_users_file` (made only when
 * missing, so a password changed through the dashboard holds), the sampling interval and
 * where the built page is. There is no default password: without one, nobody signs in.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { DashboardUsers, isRole, passwordProblem, type DashboardOptions, type Role } from '@vireo/admin';
import type { RecordTables } from '@vireo/broker';
import { ASSETS_DIR } from '@vireo/dashboard';
import { ConfigError } from './config-error.js';
import type { VireoConfig } from './config-schema.js';

interface Bootstrap {
  username: string;
  password: string;
  role: Role;
  /** the key to name in an error */
  path: string;
}

/** `username:password[:role]` lines; throws naming the file and line. */
function readUsersFile(file: string): Bootstrap[] {
  const path = 'dashboard.bootstrap_users_file';
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path, message: `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})` }]);
  }
  const out: Bootstrap[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const first = line.indexOf(':');
    let rest = line.slice(first + 1);
    let role: string = 'administrator';
    const last = rest.lastIndexOf(':');
    if (last >= 0 && isRole(rest.slice(last + 1))) {
      role = rest.slice(last + 1);
      rest = rest.slice(0, last);
    }
    if (first <= 0 || rest === '') throw new ConfigError([{ path, message: `${file}:${i + 1}: expected username:password[:role]` }]);
    if (role !== 'administrator' && role !== 'viewer') throw new ConfigError([{ path, message: `${file}:${i + 1}: role must be administrator or viewer` }]);
    out.push({ username: line.slice(0, first), password: rest, role: role as Role, path: `${path} (${file}:${i + 1})` });
  });
  return out;
}

export async function dashboardFor(config: VireoConfig, tables: RecordTables | undefined, logger: Logger): Promise<DashboardOptions> {
  const d = config.dashboard;
  const users = new DashboardUsers(d.token_expired_time, tables?.table('dashboard_users'), tables?.table('dashboard_tokens'));
  const wanted: Bootstrap[] = [];
  if (d.default_password !== undefined) wanted.push({ username: d.default_username, password: d.default_password, role: 'administrator', path: 'dashboard.default_password' });
  if (d.bootstrap_users_file !== undefined) wanted.push(...readUsersFile(d.bootstrap_users_file));
  const problems = wanted.flatMap((b) => {
    const p = passwordProblem(b.username, b.password);
    return p ? [{ path: b.path, message: `${p} (user ${b.username})` }] : [];
  });
  if (problems.length > 0) throw new ConfigError(problems);
  for (const b of wanted) {
    if (users.user(b.username)) continue;
    await users.add(b.username, b.password, b.role, 'bootstrapped at start');
    logger.info({ username: b.username, role: b.role, from: b.path }, 'Dashboard user made at start');
  }
  if (users.size === 0)
    logger.warn('No dashboard user: nobody can sign in to the dashboard. Set dashboard.default_password (VIREO_DASHBOARD__DEFAULT_PASSWORD) or dashboard.bootstrap_users_file.');
  return { users, sampleIntervalMs: d.sample_interval, assetsDir: ASSETS_DIR, samples: tables?.table('dashboard_samples') };
}
