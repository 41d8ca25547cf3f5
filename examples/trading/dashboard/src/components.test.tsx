import { fireEvent, render, screen } from "@testing-library/react";
import { Mt5Client } from "./api";
import { Dashboard } from "./Dashboard";
import { ScopedButton } from "./ScopedButton";

afterEach(() => vi.unstubAllGlobals());

describe("ScopedButton", () => {
  it("is disabled with a tooltip naming the missing scope", () => {
    render(<ScopedButton scope="trade:close" granted={["trade:read"]}>Close</ScopedButton>);
    const btn = screen.getByRole("button", { name: "Close" });
    expect(btn).toHaveProperty("disabled", true);
    expect(btn.getAttribute("title")).toContain("trade:close");
    expect(screen.getByText("Missing scope: trade:close")).toBeTruthy();
  });

  it("is enabled when the scope was granted", () => {
    render(<ScopedButton scope="trade:close" granted={["trade:close"]}>Close</ScopedButton>);
    expect(screen.getByRole("button", { name: "Close" })).toHaveProperty("disabled", false);
    expect(screen.queryByText(/Missing scope/)).toBeNull();
  });
});

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

describe("Dashboard", () => {
  it("shows a 403 from the API as a clear message", async () => {
    const fetchFn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = String(input);
      if (init?.method === "POST" && url.endsWith("/api/v1/trades")) {
        return json(403, {
          error: "insufficient_scope",
          error_description: "This request requires the trade:open scope",
          required_scopes: ["trade:open"],
          missing_scopes: ["trade:open"],
        });
      }
      if (url.endsWith("/api/v1/account")) {
        return json(200, { balance: 10000, equity: 10000, margin: 0, free_margin: 10000, margin_level: 0, currency: "USD" });
      }
      if (url.endsWith("/api/v1/trades")) {
        return json(200, []);
      }
      return json(200, { symbol: "EURUSD", bid: 1.1, ask: 1.1002, spread: 0.0002, last_update: "" });
    });
    const tokens = { authorization: async () => ({ Authorization: "Bearer t" }), wantsNonce: () => false, refresh: async () => undefined };
    const api = new Mt5Client("http://mt5.test", tokens, fetchFn as typeof fetch);
    // The token claims trade:open, but the API decides: its 403 must reach the user.
    render(<Dashboard api={api} scopes={["trade:open", "trade:read", "account:read", "market:data"]} symbols={["EURUSD"]} refreshMs={60_000} />);
    await screen.findByText("$10,000.00", { selector: "dd" }, { timeout: 2000 }).catch(() => screen.findAllByText("$10,000.00"));
    fireEvent.click(screen.getByRole("button", { name: "Buy" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Permission denied: This request requires the trade:open scope");
    expect(alert.textContent).toContain("missing scope: trade:open");
  });
});
