// Prints {"token", "proof"}: a DPoP-bound access token from the OpenID
// provider (oauth4webapi, client credentials, a fresh ES256 key) and a proof
// of that key for METHOD URL, for the `validate` example's --dpop-proof.
//
//   node dpop_mint.mjs ISSUER METHOD URL

import * as oauth from 'oauth4webapi';

const [issuerUrl, method, url] = process.argv.slice(2);
const insecure = { [oauth.allowInsecureRequests]: true };
const issuer = new URL(issuerUrl);
const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
const client = { client_id: 'orders-service' };
const dpop = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
const params = new URLSearchParams({ scope: 'orders.read', resource: 'api://orders' });
const response = await oauth.clientCredentialsGrantRequest(
  as, client, oauth.ClientSecretPost('orders-service-secret-orders-service-secret'), params, { DPoP: dpop, ...insecure },
);
const { access_token: token } = await oauth.processClientCredentialsResponse(as, client, response);
const headers = new Headers();
await dpop.addProof(new URL(url), headers, method, token);
console.log(JSON.stringify({ token, proof: headers.get('dpop') }));
