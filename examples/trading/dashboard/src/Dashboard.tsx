import { useCallback, useEffect, useState, type FormEvent } from "react";
import type { Account, Mt5Client, Quote, Trade } from "./api";
import { Notice } from "./Notice";
import { ScopedButton } from "./ScopedButton";

const money = (n: number, currency = "USD") =>
  new Intl.NumberFormat("en-US", { style: "currency", currency }).format(n);
const price = (n: number) => (n >= 100 ? n.toFixed(2) : n.toFixed(5));

interface Props {
  api: Mt5Client;
  scopes: string[];
  symbols: string[];
  refreshMs?: number;
}

/** Dashboard is the signed-in view: account, quotes, positions and the order form. */
export function Dashboard({ api, scopes, symbols, refreshMs = 3000 }: Props) {
  const [account, setAccount] = useState<Account | null>(null);
  const [trades, setTrades] = useState<Trade[]>([]);
  const [quotes, setQuotes] = useState<Record<string, Quote>>({});
  const [loadError, setLoadError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [message, setMessage] = useState("");
  const [stats, setStats] = useState<Record<string, unknown> | null>(null);
  const can = (s: string) => scopes.includes(s);

  const load = useCallback(async () => {
    try {
      const [acc, open, qs] = await Promise.all([
        can("account:read") ? api.account() : Promise.resolve(null),
        can("trade:read") ? api.trades() : Promise.resolve([] as Trade[]),
        can("market:data") ? Promise.all(symbols.map((s) => api.quote(s))) : Promise.resolve([] as Quote[]),
      ]);
      setAccount(acc);
      setTrades(open.filter((t) => t.status === "open"));
      setQuotes(Object.fromEntries(qs.map((q) => [q.symbol, q])));
      setLoadError(null);
    } catch (err) {
      setLoadError(err);
    }
    // scopes and symbols are fixed for a sign-in
  }, [api]);

  useEffect(() => {
    void load();
    const t = setInterval(() => void load(), refreshMs);
    return () => clearInterval(t);
  }, [load, refreshMs]);

  const act = async (what: () => Promise<string>) => {
    setActionError(null);
    setMessage("");
    try {
      setMessage(await what());
      await load();
    } catch (err) {
      setActionError(err);
    }
  };

  const onOpen = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const side = (e.nativeEvent as SubmitEvent).submitter?.getAttribute("value") === "sell" ? "sell" : "buy";
    void act(async () => {
      const t = await api.open({ symbol: String(f.get("symbol")), volume: Number(f.get("volume")), trade_type: side });
      return `Opened ${t.type} ${t.volume} ${t.symbol} at ${price(t.open_price)} (ticket ${t.id}).`;
    });
  };

  const cur = account?.currency ?? "USD";
  return (
    <>
      <Notice error={loadError} />
      <section aria-labelledby="account-h" className="card">
        <h2 id="account-h">Account</h2>
        {account ? (
          <dl className="figures" id="account">
            <div><dt>Balance</dt><dd>{money(account.balance, cur)}</dd></div>
            <div><dt>Equity</dt><dd>{money(account.equity, cur)}</dd></div>
            <div><dt>Margin</dt><dd>{money(account.margin, cur)}</dd></div>
            <div><dt>Free margin</dt><dd>{money(account.free_margin, cur)}</dd></div>
            <div><dt>Margin level</dt><dd>{account.margin_level ? `${account.margin_level.toFixed(1)} %` : "—"}</dd></div>
            <div><dt>Currency</dt><dd>{account.currency}</dd></div>
          </dl>
        ) : (
          <p>{can("account:read") ? "Loading…" : "Your sign-in does not include account:read."}</p>
        )}
      </section>

      <section aria-labelledby="quotes-h" className="card">
        <h2 id="quotes-h">Market</h2>
        <table id="quotes">
          <caption>Quotes, refreshed every {Math.round(refreshMs / 1000)} seconds</caption>
          <thead><tr><th scope="col">Symbol</th><th scope="col">Bid</th><th scope="col">Ask</th><th scope="col">Spread</th></tr></thead>
          <tbody>
            {symbols.map((s) => (
              <tr key={s}>
                <th scope="row">{s}</th>
                <td>{quotes[s] ? price(quotes[s].bid) : "—"}</td>
                <td>{quotes[s] ? price(quotes[s].ask) : "—"}</td>
                <td>{quotes[s] ? price(quotes[s].spread) : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section aria-labelledby="trade-h" className="card">
        <h2 id="trade-h">New position</h2>
        <form onSubmit={onOpen} className="order" id="open-form">
          <label>Symbol
            <select name="symbol" defaultValue={symbols[0]}>
              {symbols.map((s) => <option key={s}>{s}</option>)}
            </select>
          </label>
          <label>Volume (lots)
            <input name="volume" type="number" min="0.01" max="100" step="0.01" defaultValue="0.10" required />
          </label>
          <ScopedButton scope="trade:open" granted={scopes} type="submit" value="buy" id="buy">Buy</ScopedButton>
          <ScopedButton scope="trade:open" granted={scopes} type="submit" value="sell" id="sell" className="sell">Sell</ScopedButton>
        </form>
        {message && <p className="notice ok" role="status" id="action-message">{message}</p>}
        <Notice error={actionError} onDismiss={() => setActionError(null)} />
      </section>

      <section aria-labelledby="positions-h" className="card wide">
        <h2 id="positions-h">Open positions</h2>
        <table id="positions">
          <caption>{trades.length} open position(s), with live prices</caption>
          <thead>
            <tr><th scope="col">Ticket</th><th scope="col">Symbol</th><th scope="col">Side</th><th scope="col">Volume</th>
              <th scope="col">Open</th><th scope="col">Current</th><th scope="col">Profit</th><th scope="col"><span className="sr-only">Actions</span></th></tr>
          </thead>
          <tbody>
            {trades.length === 0 && <tr><td colSpan={8}>No open positions.</td></tr>}
            {trades.map((t) => (
              <tr key={t.id} data-ticket={t.id}>
                <th scope="row">{t.id}</th><td>{t.symbol}</td><td>{t.type}</td><td>{t.volume}</td>
                <td>{price(t.open_price)}</td><td>{price(t.current_price)}</td>
                <td className={t.profit >= 0 ? "up" : "down"}>{money(t.profit, cur)}</td>
                <td>
                  <ScopedButton scope="trade:close" granted={scopes} type="button" className="small close"
                    aria-label={`Close position ${t.id}`}
                    onClick={() => void act(async () => {
                      const r = await api.close(t.id);
                      return `Closed ticket ${t.id} with a profit of ${money(r.profit, cur)}.`;
                    })}>
                    Close
                  </ScopedButton>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section aria-labelledby="admin-h" className="card">
        <h2 id="admin-h">Broker statistics</h2>
        <p>For administrators of the trading system.</p>
        <ScopedButton scope="admin:system" granted={scopes} type="button" id="load-stats"
          onClick={() => void act(async () => { setStats(await api.stats()); return "Statistics loaded."; })}>
          Load statistics
        </ScopedButton>
        {stats && <pre className="stats">{JSON.stringify(stats, null, 2)}</pre>}
      </section>
    </>
  );
}
