// A third-party DPoP client: oauth4webapi (an independent implementation
// of RFC 9449) gets a DPoP token from Permiso with the client credentials
// grant and calls a service behind sdk/guard with it. The Go test
// (TestDPoPThirdPartyClient) runs it and checks its report on stdout.
import * as oauth from "oauth4webapi";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};
const issuer = new URL(env("ISSUER"));
const resource = new URL(env("RESOURCE_URL"));
const client = { client_id: env("CLIENT_ID") };
const clientAuth = oauth.ClientSecretBasic(env("CLIENT_SECRET"));
// The test runs everything on loopback over plain HTTP.
const insecure = { [oauth.allowInsecureRequests]: true };

const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure }));
if (!as.dpop_signing_alg_values_supported?.includes("ES256")) {
  throw new Error("the authorization server does not advertise ES256 DPoP proofs");
}

// A non-extractable key: the private part never leaves Web Crypto.
const keyPair = await oauth.generateKeyPair("ES256");
const DPoP = oauth.DPoP(client, keyPair);

// Each request is retried once when the server asks for a nonce.
async function withNonce(fn) {
  try {
    return await fn();
  } catch (err) {
    if (oauth.isDPoPNonceError(err)) return fn();
    throw err;
  }
}

const token = await withNonce(async () => {
  const res = await oauth.clientCredentialsGrantRequest(as, client, clientAuth,
    new URLSearchParams({ resource: env("AUDIENCE"), scope: "trade:read" }), { DPoP, ...insecure });
  return oauth.processClientCredentialsResponse(as, client, res);
});

const answer = await withNonce(async () => {
  // It throws on a 401 challenge, a use_dpop_nonce one included.
  const res = await oauth.protectedResourceRequest(token.access_token, "GET", resource, new Headers(), null, { DPoP, ...insecure });
  return { status: res.status, body: await res.text() };
});

console.log(JSON.stringify({
  token_type: token.token_type,
  access_token: token.access_token,
  jkt: await DPoP.calculateThumbprint(),
  status: answer.status,
  body: answer.body,
}));
