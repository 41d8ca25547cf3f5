import { Mt5Client } from "./api";
import { Auth } from "./auth";
import type { Config } from "./config";
import { DPoP, generateKeyPair, MemoryKeyStore, thumbprint, tokenHash } from "./dpop";
import { base64url } from "./pkce";
import { TokenStore } from "./tokenStore";

const cfg: Config = {
  issuer: "http://permiso.test",
  client_id: "trading-dashboard",
  mt5_api_url: "http://mt5.test",
  audience: "https://mt5-api.trading.local",
  scopes: ["trade:read"],
  symbols: ["EURUSD"],
};

function decode(part: string): Record<string, unknown> {
  return JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/"))) as Record<string, unknown>;
}

function b64decode(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** verify checks a proof's ES256 signature with the public key in its header. */
async function verify(proof: string): Promise<boolean> {
  const [h, c, sig] = proof.split(".");
  const jwk = decode(h).jwk as JsonWebKey;
  const key = await crypto.subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  return crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, b64decode(sig), new TextEncoder().encode(`${h}.${c}`));
}

afterEach(() => vi.unstubAllGlobals());

describe("DPoP proofs", () => {
  it("are RFC 9449 proofs signed by a key that cannot be exported", async () => {
    const pair = await generateKeyPair();
    await expect(crypto.subtle.exportKey("jwk", pair.privateKey)).rejects.toThrow();
    const dpop = await DPoP.fromKeyPair(pair);
    const proof = await dpop.proof("GET", "http://mt5.test/api/v1/trades?limit=5#x", "the-token");
    const [h, c] = proof.split(".");
    const header = decode(h);
    const claims = decode(c);
    expect(header.typ).toBe("dpop+jwt");
    expect(header.alg).toBe("ES256");
    expect(Object.keys(header.jwk as object).sort()).toEqual(["crv", "kty", "x", "y"]); // no private member
    expect(claims.htm).toBe("GET");
    expect(claims.htu).toBe("http://mt5.test/api/v1/trades");
    expect(claims.ath).toBe(await tokenHash("the-token"));
    expect(typeof claims.jti).toBe("string");
    expect(Math.abs((claims.iat as number) - Date.now() / 1000)).toBeLessThan(5);
    expect(await verify(proof)).toBe(true);
    // Each proof is new.
    expect(decode((await dpop.proof("GET", "http://mt5.test/x")).split(".")[1]).jti).not.toBe(claims.jti);
  });

  it("refuses an extractable key", async () => {
    const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
    await expect(DPoP.fromKeyPair(pair)).rejects.toThrow(/extractable/);
  });

  it("computes the RFC 7638 thumbprint from the canonical JWK", async () => {
    const jwk = { kty: "EC", crv: "P-256", x: "AQ", y: "Ag", alg: "ES256", use: "sig" } as JsonWebKey;
    const canonical = '{"crv":"P-256","kty":"EC","x":"AQ","y":"Ag"}';
    const want = base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical))));
    expect(await thumbprint(jwk)).toBe(want);
    expect(want).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

function json(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

describe("sign-in with DPoP", () => {
  it("binds the code with dpop_jkt, proves the key at the token endpoint and retries once for a nonce", async () => {
    const loc = { origin: "http://dash.test", assign: vi.fn() } as unknown as Location & { assign: ReturnType<typeof vi.fn> };
    const store = new TokenStore();
    const auth = new Auth(cfg, store, loc, new MemoryKeyStore());
    await auth.signIn();
    const url = new URL(loc.assign.mock.calls[0][0] as string);
    const jkt = url.searchParams.get("dpop_jkt");
    expect(jkt).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const access = `x.${btoa(JSON.stringify({ sub: "u1", username: "alice", scope: "trade:read" }))}.y`;
    const proofs: string[] = [];
    const fetchMock = vi.fn(async (_: RequestInfo | URL, init?: RequestInit) => {
      proofs.push((init?.headers as Record<string, string>).DPoP);
      if (proofs.length === 1) {
        return json(400, { error: "use_dpop_nonce", error_description: "nonce" }, { "DPoP-Nonce": "n-1" });
      }
      return json(200, { access_token: access, token_type: "DPoP", refresh_token: "pmr_r", expires_in: 900, scope: "trade:read" });
    });
    vi.stubGlobal("fetch", fetchMock);
    expect(await auth.completeSignIn(`?code=abc&state=${url.searchParams.get("state")}`)).toBe(true);
    expect(proofs).toHaveLength(2);
    const first = decode(proofs[0].split(".")[1]);
    const second = decode(proofs[1].split(".")[1]);
    expect(first.htu).toBe("http://permiso.test/oauth2/token");
    expect(first.htm).toBe("POST");
    expect(first.nonce).toBeUndefined();
    expect(second.nonce).toBe("n-1");
    expect(await thumbprint(decode(proofs[1].split(".")[0]).jwk as JsonWebKey)).toBe(jkt);
    expect(store.get()?.tokenType).toBe("DPoP");

    // The API gets "Authorization: DPoP" with a proof for each call, and a
    // 401 asking for its nonce is retried with it, without a refresh.
    const calls: Array<Record<string, string>> = [];
    const apiFetch = vi.fn(async (_: RequestInfo | URL, init?: RequestInit) => {
      calls.push(init?.headers as Record<string, string>);
      if (calls.length === 1) {
        return json(401, { error: "use_dpop_nonce" }, { "DPoP-Nonce": "rs-1", "WWW-Authenticate": 'DPoP error="use_dpop_nonce"' });
      }
      return json(200, []);
    });
    const api = new Mt5Client(cfg.mt5_api_url, auth, apiFetch as typeof fetch);
    await api.trades();
    expect(calls).toHaveLength(2);
    expect(calls[1].Authorization).toBe(`DPoP ${access}`);
    const c = decode(calls[1].DPoP.split(".")[1]);
    expect(c.htu).toBe("http://mt5.test/api/v1/trades");
    expect(c.ath).toBe(await tokenHash(access));
    expect(c.nonce).toBe("rs-1");
  });

  it("sign-out forgets the key", async () => {
    const keys = new MemoryKeyStore();
    const auth = new Auth(cfg, new TokenStore(), { origin: "http://dash.test", assign: vi.fn() } as unknown as Location, keys);
    await auth.signIn();
    expect(await keys.load()).not.toBeNull();
    await auth.signOut();
    expect(await keys.load()).toBeNull();
  });
});

describe("sign-out", () => {
  it("revokes the refresh token (ending the session) and never deletes the key of a sign-in that follows it", async () => {
    const keys = new MemoryKeyStore();
    const store = new TokenStore();
    const loc = { origin: "http://dash.test", assign: vi.fn() } as unknown as Location & { assign: ReturnType<typeof vi.fn> };
    const auth = new Auth(cfg, store, loc, keys);
    await auth.signIn();
    store.set({ accessToken: "at", tokenType: "DPoP", refreshToken: "pmr_refresh", expiresAt: Date.now() + 60_000, scopes: [] });

    let answer!: (r: Response) => void;
    const fetchMock = vi.fn(() => new Promise<Response>((resolve) => (answer = resolve)));
    vi.stubGlobal("fetch", fetchMock);
    const out = auth.signOut();
    // The user signs in again before Permiso has answered the revocation.
    const again = auth.signIn();
    await vi.waitFor(() => expect(fetchMock).toHaveBeenCalledTimes(1));
    answer(new Response(null, { status: 200 }));
    await Promise.all([out, again]);

    const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("http://permiso.test/oauth2/revoke");
    const body = new URLSearchParams(String(init.body));
    expect(body.get("token")).toBe("pmr_refresh");
    expect(body.get("client_id")).toBe("trading-dashboard");
    const pair = await keys.load();
    expect(pair).not.toBeNull();
    const jkt = new URL(loc.assign.mock.calls[1][0] as string).searchParams.get("dpop_jkt");
    expect(await thumbprint(await crypto.subtle.exportKey("jwk", pair!.publicKey))).toBe(jkt);
  });
});
