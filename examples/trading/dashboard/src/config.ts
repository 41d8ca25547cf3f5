// Runtime configuration, read from /config.json next to the build so one
// build serves every environment. It holds no secret: the dashboard is a
// public OAuth client.
export interface Config {
  issuer: string;
  client_id: string;
  mt5_api_url: string;
  audience: string;
  scopes: string[];
  symbols: string[];
  redirect_uri?: string;
}

export async function loadConfig(url = "/config.json"): Promise<Config> {
  const res = await fetch(url, { cache: "no-store" });
  if (!res.ok) {
    throw new Error(`Could not load ${url} (HTTP ${res.status})`);
  }
  const c = (await res.json()) as Partial<Config>;
  for (const key of ["issuer", "client_id", "mt5_api_url", "audience"] as const) {
    if (!c[key]) {
      throw new Error(`${url} lacks "${key}"`);
    }
  }
  return {
    issuer: c.issuer!.replace(/\/$/, ""),
    client_id: c.client_id!,
    mt5_api_url: c.mt5_api_url!.replace(/\/$/, ""),
    audience: c.audience!,
    scopes: c.scopes ?? ["trade:read", "trade:open", "trade:close", "account:read", "market:data"],
    symbols: c.symbols ?? ["EURUSD", "GBPUSD", "USDJPY"],
    redirect_uri: c.redirect_uri,
  };
}
