/** EMQX 5's lists of sections: `authentication` (authenticators) and `authorization.sources`. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './config.js';
import { errorsOf } from './config-errors-of.js';

const dir = mkdtempSync(join(tmpdir(), 'vireo-lists-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('no authenticators and no sources by default', () => {
  const { config } = loadConfig({ env: {} });
  assert.deepEqual(config.authentication, []);
  assert.deepEqual(config.authorization.sources, []);
  assert.deepEqual(config.authorization.cache, { enable: true, max_size: 32, ttl: 60_000 });
});

test('VIREO_AUTHENTICATION as a YAML list: each item its variant, defaults filled in, order kept', () => {
  const { config } = loadConfig({
    env: {
      VIREO_AUTHENTICATION:
        '[{mechanism: jwt, secret: s3cret-s3cret}, {mechanism: password_based, backend: built_in_database, password_hash_algorithm: {name: sha256}}, {mechanism: password_based, backend: http, url: "http://auth:8080/check", cache: {enable: true}}]',
      VIREO_AUTHORIZATION__SOURCES: '[{type: http, url: "http://authz/${topic}", method: get}, {type: file, path: /etc/acl.yaml}]',
    },
  });
  const [jwt, db, http] = config.authentication;
  assert.equal(jwt?.id, 'jwt');
  assert.equal(jwt?.id === 'jwt' && jwt.from, 'password');
  assert.equal(db?.id === 'password_based:built_in_database' && db.password_hash_algorithm.name, 'sha256');
  assert.equal(db?.id === 'password_based:built_in_database' && db.user_id_type, 'username');
  assert.equal(http?.id === 'password_based:http' && http.request_timeout, 5000);
  assert.equal(http?.id === 'password_based:http' && http.cache.enable, true);
  assert.deepEqual(
    config.authorization.sources.map((s) => [s.id, s.enable]),
    [
      ['http', true],
      ['file', true],
    ],
  );
});

test('the same lists from the file', () => {
  const file = join(dir, 'authn.yaml');
  writeFileSync(
    file,
    ['authentication:', '  - mechanism: password_based', '    backend: built_in_database', '    bootstrap_file: /run/secrets/users.csv', '    enable: false'].join('\n'),
  );
  const [db] = loadConfig({ file, env: {} }).config.authentication;
  assert.ok(db?.id === 'password_based:built_in_database');
  assert.equal(db.bootstrap_file, '/run/secrets/users.csv');
  assert.equal(db.enable, false);
});

test('bad lists: each problem named with its item', () => {
  assert.deepEqual(errorsOf({ env: { VIREO_AUTHENTICATION: '{enable: true}' } }), [
    'authentication: expected a list of authenticators, each one of password_based:built_in_database, password_based:http, jwt (EMQX 5\'s list form), got {"enable":true} (VIREO_AUTHENTICATION)',
  ]);
  const errs = errorsOf({
    env: {
      VIREO_AUTHENTICATION:
        '[{mechanism: password_based, backend: ldap}, {mechanism: password_based, backend: built_in_database, user_id: x}, {mechanism: jwt, from: cookie}, {mechanism: jwt}]',
      VIREO_AUTHORIZATION__SOURCES: '[{type: file, path: ""}, {type: http, url: "ftp://x"}]',
    },
  });
  assert.deepEqual(errs, [
    'authentication[0]: unknown authenticator (mechanism: "password_based", backend: "ldap"): expected one of password_based:built_in_database, password_based:http, jwt (VIREO_AUTHENTICATION)',
    'authentication[1].user_id: unknown key (VIREO_AUTHENTICATION)',
    'authentication[2].from: expected one of password, username, got "cookie" (VIREO_AUTHENTICATION)',
    'authentication[3]: a second authenticator jwt: each may appear once (VIREO_AUTHENTICATION)',
    'authorization.sources[0].path: expected the path of an ACL file, got "" (VIREO_AUTHORIZATION__SOURCES)',
    'authorization.sources[1].url: expected an http(s) URL, got "ftp://x" (VIREO_AUTHORIZATION__SOURCES)',
  ]);
});
