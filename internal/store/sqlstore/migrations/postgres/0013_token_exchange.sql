-- Token exchange (RFC 8693): each client's policy, a JSON object
-- (store.ExchangePolicy): the resources it serves, the audiences and scopes
-- it may exchange tokens for, whether it may delegate or impersonate, the
-- longest actor chain, and the clients that may act for its tokens'
-- subjects. '' allows nothing.
ALTER TABLE clients ADD COLUMN token_exchange TEXT NOT NULL DEFAULT '';
