// A real DPoP client (panva's oauth4webapi, pinned in package-lock.json)
// against jwt-gate's `axum` example: it obtains a DPoP-bound access token
// from the OpenID provider (client credentials, its own ES256 key) and calls
// the resource server through oauth4webapi's protectedResourceRequest,
// retrying once on `use_dpop_nonce` as oauth4webapi documents.
//
//   node dpop_client.mjs ISSUER PUBLIC_ORIGIN BACKEND_A BACKEND_B NONCE_BACKEND
//
// PUBLIC_ORIGIN is the URL clients use (every server runs with
// `--public-url PUBLIC_ORIGIN`); a fetch to it is sent to one backend, as a
// load balancer would. A and B share one Redis replay store; NONCE_BACKEND
// requires DPoP and server nonces. Exits non-zero, naming the scenario,
// when jwt-gate answers anything but what RFC 9449 says.

import assert from 'node:assert/strict';

import * as oauth from 'oauth4webapi';

const [issuerUrl, publicOrigin, backendA, backendB, nonceBackend] = process.argv.slice(2);
const insecure = { [oauth.allowInsecureRequests]: true };

// The provider and a DPoP-bound token.
const issuer = new URL(issuerUrl);
const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
const client = { client_id: 'orders-service' };
const clientAuth = oauth.ClientSecretPost('orders-service-secret-orders-service-secret');
const keyPair = await oauth.generateKeyPair('ES256');
const dpop = oauth.DPoP(client, keyPair);

async function grant() {
  const params = new URLSearchParams({ scope: 'orders.read', resource: 'api://orders' });
  const request = () => oauth.clientCredentialsGrantRequest(as, client, clientAuth, params, { DPoP: dpop, ...insecure });
  try {
    return await oauth.processClientCredentialsResponse(as, client, await request());
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err;
    return oauth.processClientCredentialsResponse(as, client, await request());
  }
}
const grantResponse = await grant();
assert.equal(grantResponse.token_type.toLowerCase(), 'dpop', 'the provider issued a DPoP-bound token');
const accessToken = grantResponse.access_token;
const payload = JSON.parse(Buffer.from(accessToken.split('.')[1], 'base64url'));
assert.ok(payload.cnf?.jkt, 'the access token carries cnf.jkt');

// A fetch to the public origin goes to `backend`; the last request's
// headers are kept, to replay them.
let last;
let fetches = 0;
function via(backend) {
  return async (url, init) => {
    fetches += 1;
    last = { url, init: { ...init, headers: { ...init.headers } } };
    return fetch(url.replace(publicOrigin, backend), init);
  };
}

// protectedResourceRequest, retried once on use_dpop_nonce.
async function call(backend, path = '/claims', method = 'GET') {
  const url = new URL(path, publicOrigin);
  const request = () => oauth.protectedResourceRequest(accessToken, method, url, undefined, undefined, {
    DPoP: dpop, [oauth.customFetch]: via(backend), ...insecure,
  });
  try {
    return await request();
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err;
    return request();
  }
}

// Raw requests (a replay, a downgrade): status and WWW-Authenticate.
async function raw(backend, path, method, headers) {
  const res = await fetch(new URL(path, backend), { method, headers });
  return { status: res.status, challenge: res.headers.get('www-authenticate') ?? '' };
}

function refusedWith(res, error, scenario) {
  assert.equal(res.status, 401, `${scenario}: status`);
  assert.match(res.challenge, new RegExp(`error="${error}"`), `${scenario}: ${res.challenge}`);
}

// 1. The token with its proof: 200, the claims, authenticated by DPoP.
const ok = await call(backendA);
assert.equal(ok.status, 200, 'a DPoP request');
const body = await ok.json();
assert.equal(body.authenticated, 'dpop');
assert.equal(body.dpop_jkt, payload.cnf.jkt);
assert.equal(body.claims.tenantId, '1741');
console.log('dpop request: 200 with the claims');

// 2. The same proof again, to the same server and to the other one (one
//    Redis): refused as a replay.
const replayed = last.init.headers;
refusedWith(await raw(backendA, '/claims', 'GET', replayed), 'invalid_dpop_proof', 'replay, same server');
const fresh = await call(backendB);
assert.equal(fresh.status, 200, 'a fresh proof on the second server');
refusedWith(await raw(backendA, '/claims', 'GET', last.init.headers), 'invalid_dpop_proof', 'replay across servers');
console.log('replayed proofs: 401 invalid_dpop_proof, on either server');

// 3. The token sent as a bearer token: 401 invalid_token.
refusedWith(await raw(backendA, '/claims', 'GET', { authorization: `Bearer ${accessToken}` }), 'invalid_token', 'downgrade to Bearer');
console.log('bound token as Bearer: 401 invalid_token');

// 4. A proof made for another URL, and for another method.
const other = new Headers();
await dpop.addProof(new URL('/admin', publicOrigin), other, 'GET', accessToken);
refusedWith(await raw(backendA, '/claims', 'GET', { authorization: `DPoP ${accessToken}`, dpop: other.get('dpop') }), 'invalid_dpop_proof', 'proof for another URL');
const post = new Headers();
await dpop.addProof(new URL('/claims', publicOrigin), post, 'POST', accessToken);
refusedWith(await raw(backendA, '/claims', 'GET', { authorization: `DPoP ${accessToken}`, dpop: post.get('dpop') }), 'invalid_dpop_proof', 'proof for another method');
console.log('proofs for another URL or method: 401 invalid_dpop_proof');

// 5. Server nonces: the first call is told `use_dpop_nonce` (only the DPoP
//    challenge, with a DPoP-Nonce), the client retries with the nonce.
fetches = 0;
const nonced = await call(nonceBackend);
assert.equal(nonced.status, 200, 'the retry with the server nonce');
assert.equal(fetches, 2, 'one use_dpop_nonce, then one retry');
console.log('server nonce: use_dpop_nonce, then 200 on the retry');

console.log('dpop interop: ok');
