import { Auth } from "./auth";
import type { Config } from "./config";
import { TokenStore } from "./tokenStore";

const cfg: Config = {
  issuer: "http://permiso.test",
  client_id: "trading-dashboard",
  mt5_api_url: "http://mt5.test",
  audience: "https://mt5-api.trading.local",
  scopes: ["trade:read"],
  symbols: ["EURUSD"],
};

function fakeLocation() {
  return { origin: "http://dash.test", assign: vi.fn() } as unknown as Location & { assign: ReturnType<typeof vi.fn> };
}

// A JWT-shaped token whose payload names the user (the signature is not checked by the dashboard).
const access = `x.${btoa(JSON.stringify({ sub: "u1", username: "alice", scope: "trade:read" }))}.y`;

afterEach(() => {
  vi.unstubAllGlobals();
  localStorage.clear();
  sessionStorage.clear();
});

describe("token store", () => {
  it("keeps tokens in memory only, never in localStorage or sessionStorage", async () => {
    const loc = fakeLocation();
    const store = new TokenStore();
    const auth = new Auth(cfg, store, loc);
    await auth.signIn();
    const url = new URL(loc.assign.mock.calls[0][0] as string);
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(url.searchParams.get("client_id")).toBe("trading-dashboard");
    expect(url.searchParams.has("client_secret")).toBe(false);
    const state = url.searchParams.get("state")!;

    const fetchMock = vi.fn(async () =>
      new Response(JSON.stringify({ access_token: access, refresh_token: "pmr_refresh", expires_in: 900, scope: "trade:read" }), {
        status: 200,
        headers: { "Content-Type": "application/json" },
      }),
    );
    vi.stubGlobal("fetch", fetchMock);
    expect(await auth.completeSignIn(`?code=abc&state=${state}&iss=${encodeURIComponent(cfg.issuer)}`)).toBe(true);

    const body = new URLSearchParams(String((fetchMock.mock.calls[0] as unknown[])[1] && ((fetchMock.mock.calls[0] as unknown[])[1] as RequestInit).body));
    expect(body.get("grant_type")).toBe("authorization_code");
    expect(body.get("code_verifier")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(store.get()?.accessToken).toBe(access);
    expect(store.get()?.username).toBe("alice");

    expect(localStorage.length).toBe(0);
    for (let i = 0; i < sessionStorage.length; i++) {
      const v = sessionStorage.getItem(sessionStorage.key(i)!) ?? "";
      expect(v).not.toContain(access);
      expect(v).not.toContain("pmr_refresh");
    }
    expect(sessionStorage.length).toBe(0); // the PKCE verifier is gone too
  });

  it("refuses an answer whose state is not this tab's", async () => {
    const auth = new Auth(cfg, new TokenStore(), fakeLocation());
    await auth.signIn();
    await expect(auth.completeSignIn("?code=abc&state=forged")).rejects.toThrow(/does not belong/);
  });
});
