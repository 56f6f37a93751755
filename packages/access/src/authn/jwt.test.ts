import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { SignJWT, exportSPKI, generateKeyPair } from 'jose';
import type { AuthenticateRequest } from '@vireo/broker';
import { JwtAuthenticator, type JwtKey } from './jwt.js';

const logger = pino({ level: 'silent' });
const req = (clientId: string, password?: string, username?: string): AuthenticateRequest => ({
  clientId,
  username,
  password: password === undefined ? undefined : Buffer.from(password),
  peer: '127.0.0.1:1',
  protocolVersion: 5,
  listener: 'tcp:default',
});
const jwt = (key: JwtKey, from: 'password' | 'username' = 'password') => new JwtAuthenticator({ from, key, verifyClaims: { client: '${clientid}' }, aclClaimName: 'acl' }, logger);

test('jwt: HS256 from a secret (plain or base64), claims, is_superuser, the token in the username', async () => {
  const secret = 'a-long-shared-secret-for-hs256!!';
  const sign = (claims: Record<string, unknown>, s = secret, alg = 'HS256') => new SignJWT(claims).setProtectedHeader({ alg }).setExpirationTime('1h').sign(Buffer.from(s));
  const a = jwt({ kind: 'secret', secret, base64: false });
  const ok = await a.authenticate(req('c1', await sign({ client: 'c1' })));
  assert.deepEqual({ ...ok, expireAt: undefined }, { result: 'allow', isSuperuser: false, expireAt: undefined });
  // the token's exp: when the client is disconnected (disconnect_after_expire, on by default)
  assert.ok(ok.result === 'allow' && Math.abs(ok.expireAt! - (Date.now() + 3600_000)) < 5000);
  assert.equal(((await a.authenticate(req('c1', await sign({ client: 'c1', is_superuser: true }, secret, 'HS512')))) as { isSuperuser: boolean }).isSuperuser, true);
  assert.deepEqual(await a.authenticate(req('c2', await sign({ client: 'c1' }))), { result: 'deny', reason: 'claim client' });
  assert.deepEqual(await a.authenticate(req('c1', await sign({ client: 'c1' }, 'another-secret-another-secret!!!'))), { result: 'deny', reason: 'invalid_signature' });
  assert.deepEqual(await a.authenticate(req('c1')), { result: 'ignore', reason: 'no_jwt' });
  const b64 = jwt({ kind: 'secret', secret: Buffer.from(secret).toString('base64'), base64: true }, 'username');
  assert.equal((await b64.authenticate(req('c1', undefined, await sign({ client: 'c1' })))).result, 'allow');
});

test('jwt: RS256 and ES256 from a public key file or PEM; an HS256 token signed with the public key is refused', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-jwt-'));
  try {
    for (const alg of ['RS256', 'ES256']) {
      const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
      const pem = await exportSPKI(publicKey);
      const file = path.join(dir, `${alg}.pem`);
      writeFileSync(file, pem);
      for (const a of [jwt({ kind: 'public_key', pem: file }), jwt({ kind: 'public_key', pem })]) {
        const t = await new SignJWT({ client: 'c1' }).setProtectedHeader({ alg }).setExpirationTime('1h').sign(privateKey);
        assert.equal((await a.authenticate(req('c1', t))).result, 'allow', alg);
        // the algorithm-confusion attack: the public key used as an HMAC secret
        const forged = await new SignJWT({ client: 'c1' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(Buffer.from(pem));
        assert.equal((await a.authenticate(req('c1', forged))).result, 'deny', `${alg}: HS256 forged with the public key`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
