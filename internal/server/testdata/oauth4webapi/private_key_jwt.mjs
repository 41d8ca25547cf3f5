// A third-party private_key_jwt client: oauth4webapi (an independent
// implementation of RFC 7523 client authentication) gets tokens from
// Permiso with an ES256 key and introspects one, each request with its own
// assertion. The Go test (TestPrivateKeyJWTThirdPartyClient) runs it and
// checks its report on stdout.
import * as oauth from "oauth4webapi";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};
const issuer = new URL(env("ISSUER"));
const client = { client_id: env("CLIENT_ID") };
const pem = env("PRIVATE_KEY_PEM");
const der = Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
const key = await crypto.subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
const clientAuth = oauth.PrivateKeyJwt({ key, kid: env("KID") });
// The test runs everything on loopback over plain HTTP.
const insecure = { [oauth.allowInsecureRequests]: true };

const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure }));
if (!as.token_endpoint_auth_methods_supported?.includes("private_key_jwt") ||
    !as.token_endpoint_auth_signing_alg_values_supported?.includes("ES256")) {
  throw new Error("the authorization server does not advertise private_key_jwt with ES256");
}

const tokens = [];
for (let i = 0; i < 2; i++) {
  const res = await oauth.clientCredentialsGrantRequest(as, client, clientAuth, new URLSearchParams({ scope: "trade:read" }), insecure);
  tokens.push((await oauth.processClientCredentialsResponse(as, client, res)).access_token);
}
const res = await oauth.introspectionRequest(as, client, clientAuth, tokens[0], insecure);
const introspection = await oauth.processIntrospectionResponse(as, client, res);

console.log(JSON.stringify({ access_tokens: tokens, active: introspection.active, client_id: introspection.client_id }));
