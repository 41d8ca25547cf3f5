"""The MT5-style trading API of the original Permiso's example, with an
in-memory broker standing in for MetaTrader 5. Shared by both ways of
protecting it (app_gateway.py, app_local.py)."""

import itertools
import threading
import time
from typing import Literal, Optional

from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field


class TradeRequest(BaseModel):
    symbol: str = Field(min_length=1, max_length=20)
    volume: float = Field(gt=0, le=100)
    trade_type: Literal["buy", "sell"]
    price: Optional[float] = None


PRICES = {"EURUSD": 1.0842, "GBPUSD": 1.2671, "USDJPY": 151.32, "XAUUSD": 2331.5}


class Broker:
    def __init__(self):
        self._lock = threading.Lock()
        self._ids = itertools.count(100001)
        self.trades = {}

    def open(self, req: TradeRequest):
        if req.symbol not in PRICES:
            raise HTTPException(400, {"error": "trade_failed", "error_description": "Unknown symbol"})
        with self._lock:
            tid = next(self._ids)
            price = req.price or PRICES[req.symbol]
            t = {"id": tid, "symbol": req.symbol, "volume": req.volume, "type": req.trade_type,
                 "open_price": price, "current_price": price, "profit": 0.0,
                 "open_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "status": "open"}
            self.trades[tid] = t
            return t

    def close(self, tid: int):
        with self._lock:
            t = self.trades.get(tid)
            if t is None or t["status"] != "open":
                raise HTTPException(400, {"error": "trade_failed", "error_description": "No open trade with that id"})
            t["status"] = "closed"
        return {"message": "Trade closed successfully", "trade_id": tid}


def router(require, identity) -> APIRouter:
    """The API's routes; require(*scopes) is a dependency factory (or a
    no-op when a gateway decides), identity a dependency naming the caller."""
    r = APIRouter()
    broker = Broker()

    @r.get("/health")
    def health():
        return {"status": "healthy", "service": "mt5-api", "version": "1.0.0"}

    @r.get("/api/v1/trades", dependencies=[Depends(require("trade:read"))])
    def list_trades(who: dict = Depends(identity)):
        return {"trades": list(broker.trades.values()), "caller": who}

    @r.post("/api/v1/trades", dependencies=[Depends(require("trade:open"))])
    def open_trade(req: TradeRequest):
        return broker.open(req)

    @r.delete("/api/v1/trades/{trade_id}", dependencies=[Depends(require("trade:close"))])
    def close_trade(trade_id: int):
        return broker.close(trade_id)

    @r.get("/api/v1/account", dependencies=[Depends(require("account:read"))])
    def account():
        return {"balance": 10000.0, "equity": 10000.0, "margin": 0.0, "free_margin": 10000.0,
                "margin_level": 0.0, "currency": "USD"}

    @r.get("/api/v1/market/{symbol}", dependencies=[Depends(require("market:data"))])
    def market(symbol: str):
        if symbol not in PRICES:
            raise HTTPException(404, {"error": "not_found", "error_description": "Unknown symbol"})
        bid = PRICES[symbol]
        return {"symbol": symbol, "bid": bid, "ask": round(bid * 1.0001, 5), "spread": round(bid * 0.0001, 5),
                "last_update": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}

    return r


def errors_as_permiso(app: FastAPI):
    """Answer errors with Permiso's {"error", "error_description"} body and
    keep their headers (WWW-Authenticate), as the original meant to."""

    @app.exception_handler(HTTPException)
    async def handler(_request, exc: HTTPException):
        body = exc.detail if isinstance(exc.detail, dict) else {"error": "http_error", "error_description": str(exc.detail)}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
