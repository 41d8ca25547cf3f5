-- Lockout per user and source address: the user's recent failed logins,
-- one JSON entry per source (an IPv4 address or an IPv6 /64, or "*" for
-- the lock across every source) with its count, last failure and lock
-- (store.LoginSource). users.locked_until keeps the end of the latest
-- running lock, so listings and statistics read one column.
ALTER TABLE users ADD COLUMN login_sources TEXT NOT NULL DEFAULT '[]';
