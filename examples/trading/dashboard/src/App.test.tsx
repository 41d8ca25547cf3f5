import { fireEvent, render, screen } from "@testing-library/react";
import { App } from "./App";
import { Auth } from "./auth";
import type { Config } from "./config";
import { MemoryKeyStore } from "./dpop";
import { TokenStore } from "./tokenStore";

const cfg: Config = {
  issuer: "http://permiso.test",
  client_id: "trading-dashboard",
  mt5_api_url: "http://mt5.test",
  audience: "https://mt5-api.trading.local",
  scopes: ["trade:read"],
  symbols: ["EURUSD"],
};

afterEach(() => vi.unstubAllGlobals());

describe("App", () => {
  it("offers no sign-in until the sign-out has finished", async () => {
    let answer!: (r: Response) => void;
    vi.stubGlobal(
      "fetch",
      vi.fn((input: RequestInfo | URL) =>
        String(input).endsWith("/oauth2/revoke")
          ? new Promise<Response>((resolve) => (answer = resolve))
          : new Promise<Response>(() => undefined), // mt5-api: the page keeps waiting
      ),
    );
    const store = new TokenStore();
    store.set({ accessToken: "at", refreshToken: "pmr_refresh", expiresAt: Date.now() + 60_000, scopes: ["trade:read"], username: "tina" });
    const auth = new Auth(cfg, store, { origin: "http://dash.test", assign: vi.fn() } as unknown as Location, new MemoryKeyStore());
    render(<App cfg={cfg} auth={auth} />);

    fireEvent.click(await screen.findByRole("button", { name: "Sign out" }));
    await screen.findByText("Signing out…");
    expect(screen.queryByRole("button", { name: "Sign in with Permiso" })).toBeNull();

    answer(new Response(null, { status: 200 }));
    expect((await screen.findByRole("heading")).textContent).toBe("You are signed out");
    expect(screen.getByRole("button", { name: "Sign in with Permiso" })).toBeTruthy();
  });
});
