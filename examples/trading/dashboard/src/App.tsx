import { useEffect, useMemo, useState } from "react";
import { Mt5Client } from "./api";
import { Auth } from "./auth";
import type { Config } from "./config";
import { Dashboard } from "./Dashboard";
import { Notice } from "./Notice";
import type { Tokens } from "./tokenStore";

type Phase = "starting" | "signed-out" | "signed-in" | "signing-out" | "bye";

/** App signs the user in (or finishes a sign-in) and shows the dashboard. */
export function App({ cfg, auth }: { cfg: Config; auth: Auth }) {
  const [tokens, setTokens] = useState<Tokens | null>(auth.store.get());
  const [phase, setPhase] = useState<Phase>("starting");
  const [error, setError] = useState<unknown>(null);

  useEffect(() => auth.store.subscribe(setTokens), [auth]);

  useEffect(() => {
    auth
      .completeSignIn(window.location.search)
      .then((done) => {
        if (done) {
          // Drop ?code&state from the address bar and history.
          window.history.replaceState(null, "", window.location.pathname);
        }
        setPhase(auth.store.get() ? "signed-in" : "signed-out");
      })
      .catch((err) => {
        window.history.replaceState(null, "", window.location.pathname);
        setError(err);
        setPhase("signed-out");
      });
  }, [auth]);

  useEffect(() => {
    if (phase === "signed-in" && !tokens) {
      setPhase("signed-out"); // the refresh failed: the session is over
    }
  }, [phase, tokens]);

  const api = useMemo(() => new Mt5Client(cfg.mt5_api_url, auth), [cfg, auth]);

  const signOut = async () => {
    // Not "signed-out" while the tokens are being revoked: the page offers
    // no sign-in until the sign-out has finished.
    setPhase("signing-out");
    await auth.signOut();
    setPhase("bye");
  };

  return (
    <>
      <a className="skip" href="#main">Skip to content</a>
      <header className="top">
        <span className="brand">Trading dashboard</span>
        {phase === "signed-in" && tokens && (
          <div className="who">
            <span>Signed in as <strong id="username">{tokens.username}</strong></span>
            <button type="button" className="secondary" id="sign-out" onClick={() => void signOut()}>Sign out</button>
          </div>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        {phase === "starting" && <p>Loading…</p>}
        {phase === "signing-out" && <p>Signing out…</p>}
        {(phase === "signed-out" || phase === "bye") && (
          <section className="card signin">
            <h1>{phase === "bye" ? "You are signed out" : "Sign in to trade"}</h1>
            <Notice error={error} />
            <p>
              {phase === "bye"
                ? "Your tokens were revoked and your Permiso session ended."
                : "You sign in on Permiso's page; this dashboard never sees your password."}
            </p>
            <button type="button" id="sign-in" onClick={() => void auth.signIn().catch(setError)}>
              Sign in with Permiso
            </button>
          </section>
        )}
        {phase === "signed-in" && tokens && (
          <div className="grid">
            <Dashboard api={api} scopes={tokens.scopes} symbols={cfg.symbols} />
          </div>
        )}
      </main>
    </>
  );
}
