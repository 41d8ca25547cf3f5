// A third-party token-exchange client: oauth4webapi (an independent
// implementation of RFC 8693's request and response) exchanges a user's
// token for one meant for another service, asks for a transaction token,
// and reports a refusal. The Go test (TestTokenExchangeThirdPartyClient)
// runs it and checks its report on stdout.
import * as oauth from "oauth4webapi";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};
const issuer = new URL(env("ISSUER"));
const client = { client_id: env("CLIENT_ID") };
const clientAuth = oauth.ClientSecretBasic(env("CLIENT_SECRET"));
const insecure = { [oauth.allowInsecureRequests]: true }; // loopback, plain HTTP
const grant = "urn:ietf:params:oauth:grant-type:token-exchange";
const accessTokenType = "urn:ietf:params:oauth:token-type:access_token";

const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure }));
if (!as.grant_types_supported?.includes(grant)) {
  throw new Error("the authorization server does not advertise token exchange");
}

async function exchange(params, options = {}) {
  const res = await oauth.genericTokenEndpointRequest(as, client, clientAuth, grant,
    new URLSearchParams({ subject_token: env("SUBJECT_TOKEN"), subject_token_type: accessTokenType, ...params }), insecure);
  return oauth.processGenericTokenEndpointResponse(as, client, res, options);
}

const delegated = await exchange({ audience: env("AUDIENCE"), scope: "trade:read" });
// A transaction token's token_type is N_A (RFC 8693 §2.2.1).
const txn = await exchange({ audience: env("TRUST_DOMAIN"), scope: "trade:open",
  requested_token_type: "urn:ietf:params:oauth:token-type:txn_token", request_details: JSON.stringify({ symbol: "EURUSD" }) },
  { recognizedTokenTypes: { n_a: () => {} } });
let refusal = null;
try {
  await exchange({ audience: env("AUDIENCE"), scope: "admin:system" });
} catch (err) {
  if (!(err instanceof oauth.ResponseBodyError)) throw err;
  refusal = { error: err.error, error_description: err.error_description, status: err.status };
}

console.log(JSON.stringify({
  access_token: delegated.access_token,
  token_type: delegated.token_type,
  issued_token_type: delegated.issued_token_type,
  scope: delegated.scope,
  expires_in: delegated.expires_in,
  txn_token: txn.access_token,
  txn_token_type: txn.token_type,
  txn_issued_token_type: txn.issued_token_type,
  refusal,
}));
