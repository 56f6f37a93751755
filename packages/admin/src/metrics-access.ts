/**
 * Authentication, authorization and ban counters (EMQX's `authentication.*`,
 * `authorization.*` names with `vireo_`), read from the access control's plain counters at
 * scrape time. The broker's own `vireo_authentication_success|failure` and
 * `vireo_authorization_deny` are in metrics.ts.
 */
import { Gauge, type Registry } from 'prom-client';
import { scrapedCounter } from './scraped-metrics.js';
import type { AccessControl, AccessCounters } from '@vireo/access';

export function registerAccessMetrics(register: Registry, access: AccessControl): void {
  const c = access.counters;
  const counter = (name: string, help: string, read: (c: AccessCounters) => number) => scrapedCounter(register, name, help, () => read(c));
  counter('vireo_authentication_success_anonymous', 'CONNECTs accepted without authentication (an empty authentication list).', (x) => x.authnSuccessAnonymous);
  counter('vireo_flapping_banned', 'Client ids banned by flapping_detect (more than max_count CONNECTs within window_time).', (x) => x.flappingBanned);
  counter('vireo_client_banned', 'CONNECTs refused because the client id, username or address is banned (CONNACK 0x8A).', (x) => x.bannedRefused);
  counter('vireo_authorization_allow', 'PUBLISH and SUBSCRIBE requests allowed by authorization.', (x) => x.authzAllow);
  counter('vireo_authorization_matched_allow', 'Requests an allow rule matched.', (x) => x.authzMatchedAllow);
  counter('vireo_authorization_matched_deny', 'Requests a deny rule matched.', (x) => x.authzMatchedDeny);
  counter('vireo_authorization_nomatch', 'Requests no rule matched (decided by authorization.no_match).', (x) => x.authzNomatch);
  counter(
    'vireo_authorization_delivery_denied',
    'Messages not delivered through a wildcard subscription because a subscribe deny covers their topic.',
    (x) => x.authzDeliveryDenied,
  );
  counter('vireo_authorization_cache_hit', 'Authorization decisions taken from the per-client cache (with an http source).', (x) => x.authzCacheHit);
  counter('vireo_authorization_cache_miss', 'Authorization decisions the per-client cache did not hold (with an http source).', (x) => x.authzCacheMiss);
  counter('vireo_authorization_superuser', 'Requests of superusers (allowed without rules).', (x) => x.authzSuperuser);
  new Gauge({
    name: 'vireo_banned_count',
    help: 'Bans in force.',
    registers: [register],
    collect() {
      this.set(access.banned.list().length);
    },
  });
  new Gauge({
    name: 'vireo_authn_users_count',
    help: 'Users in the built-in database.',
    registers: [register],
    collect() {
      this.set(access.users.size);
    },
  });
}
