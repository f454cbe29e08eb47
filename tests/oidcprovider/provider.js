// A real OpenID Connect provider (the `oidc-provider` package) for the gate's single sign-on tests.
//
// Configured by one JSON document in the OIDC_TEST_CONFIG environment variable:
//   clientId, clientSecret, redirectUri   the one confidential client (PKCE required)
//   email, emailVerified                  the claims of the one static account
//   jwksFile                              private signing keys (JWKS); generated and written when missing,
//                                         so two providers can share keys and differ only by issuer
//   idTokenClaims                         true: e-mail claims in the ID token; false: only at userinfo
//   idTokenTtl                            ID token lifetime in seconds (default 3600)
// Listens on 127.0.0.1 on a free port and prints {"issuer": ...} on one line when ready.
// Logging in needs no human: the interaction page signs the static account in and the grant is
// created on the fly, so a test drives the whole flow with plain HTTP redirects.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

const cfg = JSON.parse(process.env.OIDC_TEST_CONFIG || '{}');
const ACCOUNT = 'agent-1';

async function signingKeys(file) {
  if (file && existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const keys = [];
  for (const [alg, opts] of [['RS256', { modulusLength: 2048 }], ['ES256', {}]]) {
    const { privateKey } = await generateKeyPair(alg, { ...opts, extractable: true });
    keys.push({ ...(await exportJWK(privateKey)), alg, use: 'sig', kid: `${alg}-${Date.now()}` });
  }
  const jwks = { keys };
  if (file) writeFileSync(file, JSON.stringify(jwks), { mode: 0o600 });
  return jwks;
}

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: cfg.clientId,
    client_secret: cfg.clientSecret,
    redirect_uris: [cfg.redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: cfg.authMethod || 'client_secret_basic',
  }],
  pkce: { required: () => true },
  ttl: { IdToken: cfg.idTokenTtl || 3600 },
  jwks: await signingKeys(cfg.jwksFile),
  cookies: { keys: ['test-only-cookie-key'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  conformIdTokenClaims: cfg.idTokenClaims === false,
  features: { devInteractions: { enabled: false } },
  async findAccount(ctx, sub) {
    if (sub !== ACCOUNT) return undefined;
    return {
      accountId: ACCOUNT,
      async claims() {
        // emailVerified: "absent" leaves the claim out (a provider that does not say).
        const claims = { sub: ACCOUNT, email: cfg.email };
        if (cfg.emailVerified !== 'absent') claims.email_verified = cfg.emailVerified !== false;
        return claims;
      },
    };
  },
  // Consent is implied: the test account always grants what the client asks for.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(ctx.oidc.params.scope);
    await grant.save();
    return grant;
  },
});

// The interaction page: sign the static account in at once.
provider.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path.startsWith('/interaction/')) {
    await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: ACCOUNT } },
      { mergeWithLastSubmission: false });
    ctx.respond = false;
    return;
  }
  await next();
});

server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ issuer })}\n`);
