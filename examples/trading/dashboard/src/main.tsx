import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { Auth } from "./auth";
import { loadConfig } from "./config";
import { TokenStore } from "./tokenStore";
import "./styles.css";

const root = createRoot(document.getElementById("root")!);

loadConfig()
  .then((cfg) => {
    const auth = new Auth(cfg, new TokenStore());
    root.render(
      <StrictMode>
        <App cfg={cfg} auth={auth} />
      </StrictMode>,
    );
  })
  .catch((err: Error) => {
    root.render(<p role="alert">The dashboard is not configured: {err.message}</p>);
  });
