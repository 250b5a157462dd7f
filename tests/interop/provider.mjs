// A certified OpenID provider (panva's oidc-provider) on 127.0.0.1 issuing
// RFC 9068 JWT access tokens through the client-credentials grant with
// resource indicators, for jwt-gate's interop tests.
//
//   node provider.mjs [--mode default|identityserver|auth0]
//
// Prints one JSON line when ready: {"issuer", "token_endpoint", "port", "client_key_pem"}.
// Resources (the token's audience) choose the signing algorithm:
//   api://orders (RS256), api://orders/ps256, api://orders/es256, api://orders/eddsa
// Modes:
//   default         issuer without trailing slash, `scope` a string, JWKS keys with `alg`
//   identityserver  `scope` a JSON array, JWKS keys without `alg`
//   auth0           issuer with a trailing slash, `aud` an array with a second audience
// Every token carries "tenantId": "1741" and "admin": "false" (strings).
// Opaque tokens (RFC 7662): the resource api://orders/opaque gets opaque
// access tokens, which the resource server `orders-api` (client_secret_basic)
// introspects at /token/introspection, as JSON or, when it asks with
// `Accept: application/token-introspection+jwt`, as an RS256-signed RFC 9701
// JWT; `orders-api-jwt` introspects with private_key_jwt (its private key in
// the ready line as `client_key_pem`); `orders-service` revokes them at
// /token/revocation.
// Certificate-bound tokens (RFC 8705): the client `orders-mtls` gets tokens
// bound to the certificate its token request presents, which (as behind a
// TLS-terminating proxy) arrives in the RFC 9440 `Client-Cert` header.
// Control (POST, loopback only): /__control/rotate adds new signing keys (the
// old ones stay published), /__control/retire unpublishes all but the newest.

import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const mode = process.argv.includes('--mode') ? process.argv[process.argv.indexOf('--mode') + 1] : 'default';
if (!['default', 'identityserver', 'auth0'].includes(mode)) {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}

const RESOURCES = {
  'api://orders': 'RS256',
  'api://orders/ps256': 'PS256',
  'api://orders/es256': 'ES256',
  'api://orders/eddsa': 'EdDSA',
};

let generation = 0;

// A new private key, as a key object of its own. Node 20 can deadlock when a
// key object that `generateKeyPairSync` returned is exported while the
// garbage collector destroys the finished keygen job (both lock the key's
// mutex; seen once in a few hundred starts, the provider then never prints
// its ready line). So the job hands out PEM text only, and the key object
// exported here is parsed from it: it shares nothing with the job.
function generate(type, options = {}) {
  const { privateKey } = generateKeyPairSync(type, {
    ...options,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return createPrivateKey(privateKey);
}

// One private key per algorithm family, with a kid per generation.
function keySet() {
  generation += 1;
  const jwk = (privateKey, alg) => {
    const key = privateKey.export({ format: 'jwk' });
    key.kid = `${alg.toLowerCase()}-${generation}-${randomUUID().slice(0, 8)}`;
    key.use = 'sig';
    if (mode !== 'identityserver') key.alg = alg;
    return key;
  };
  const rsa = generate('rsa', { modulusLength: 2048 });
  return [
    jwk(rsa, 'RS256'),
    // The same RSA key under its own kid for PS256 (a key with `alg` serves one algorithm).
    jwk(rsa, 'PS256'),
    jwk(generate('ec', { namedCurve: 'P-256' }), 'ES256'),
    jwk(generate('ed25519'), 'EdDSA'),
  ];
}

let published = keySet();

// The key of `orders-api-jwt`, a resource server that introspects with
// private_key_jwt (RFC 7523): its public half registered below, its private
// half (PKCS#8 PEM) in the ready line, for the resource server.
const rsClientKey = generate('ec', { namedCurve: 'P-256' });
const rsClientJwk = { ...createPublicKey(rsClientKey).export({ format: 'jwk' }), kid: 'rs-1', alg: 'ES256', use: 'sig' };

function makeProvider(issuer) {
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'orders-service',
        client_secret: 'orders-service-secret-orders-service-secret',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_post',
      },
      {
        client_id: 'orders-api',
        client_secret: 'orders-api-secret-orders-api-secret-orders-api',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        introspection_signed_response_alg: 'RS256',
      },
      {
        client_id: 'orders-api-jwt',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [rsClientJwk] },
      },
      {
        client_id: 'orders-mtls',
        client_secret: 'orders-mtls-secret-orders-mtls-secret-orders-mtls',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_post',
        tls_client_certificate_bound_access_tokens: true,
      },
    ],
    jwks: { keys: published },
    ttl: { ClientCredentials: 3600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      jwtIntrospection: { enabled: true },
      revocation: { enabled: true },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        // RFC 9440: `Client-Cert: :<base64 DER>:`, set by the proxy.
        getCertificate: (ctx) => {
          const value = ctx.get('client-cert');
          const match = /^:([A-Za-z0-9+/]+=*):$/.exec(value.trim());
          return match ? new X509Certificate(Buffer.from(match[1], 'base64')) : undefined;
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'api://orders',
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resourceIndicator) => {
          if (resourceIndicator === 'api://orders/opaque') {
            return {
              scope: 'orders.read orders.write',
              audience: resourceIndicator,
              accessTokenTTL: 3600,
              accessTokenFormat: 'opaque',
            };
          }
          const alg = RESOURCES[resourceIndicator];
          if (!alg) throw new Error(`unknown resource ${resourceIndicator}`);
          return {
            scope: 'orders.read orders.write',
            audience: resourceIndicator,
            accessTokenTTL: 3600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg } },
          };
        },
      },
    },
    extraTokenClaims: () => ({ tenantId: '1741', admin: 'false' }),
    formats: {
      customizers: {
        jwt: (_ctx, _token, jwt) => {
          if (mode === 'identityserver' && typeof jwt.payload.scope === 'string') {
            jwt.payload.scope = jwt.payload.scope.split(' ');
          }
          if (mode === 'auth0') {
            jwt.payload.aud = [jwt.payload.aud, `${issuer}userinfo`];
          }
        },
      },
    },
  });
  provider.on('server_error', (_ctx, err) => console.error('server_error', err));
  return provider;
}

let handler;
const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/__control/rotate') {
    published = [...keySet(), ...published];
    handler = makeProvider(issuerUrl).callback();
    res.end(JSON.stringify({ kids: published.map((k) => k.kid) }));
    return;
  }
  if (req.method === 'POST' && req.url === '/__control/retire') {
    published = published.slice(0, 4);
    handler = makeProvider(issuerUrl).callback();
    res.end(JSON.stringify({ kids: published.map((k) => k.kid) }));
    return;
  }
  // IdentityServer publishes its keys without `alg` (oidc-provider adds one):
  // serve the public parts ourselves in that mode.
  if (mode === 'identityserver' && req.method === 'GET' && req.url === '/jwks') {
    const pub = ({ kty, kid, use, n, e, crv, x, y }) => ({ kty, kid, use, n, e, crv, x, y });
    res.setHeader('content-type', 'application/jwk-set+json');
    res.end(JSON.stringify({ keys: published.map(pub) }));
    return;
  }
  handler(req, res);
});

let issuerUrl;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  issuerUrl = `http://127.0.0.1:${port}${mode === 'auth0' ? '/' : ''}`;
  handler = makeProvider(issuerUrl).callback();
  console.log(JSON.stringify({
    issuer: issuerUrl,
    token_endpoint: `http://127.0.0.1:${port}/token`,
    port,
    client_key_pem: rsClientKey.export({ type: 'pkcs8', format: 'pem' }),
  }));
});

process.on('SIGTERM', () => process.exit(0));
