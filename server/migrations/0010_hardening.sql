-- Hardening (issue 8): shared counters for every limit that must hold across replicas, and
-- introspection rights. Portable SQL (SQLite and PostgreSQL): TEXT and BIGINT only.

-- One fixed-window counter per subject, e.g. 'login:pair:<user>|<address>', 'login:ip:<address>',
-- 'login:user:<user>', 'register:ip:<address>', 'cimd:ip:<address>'. A hit is reserved with one
-- conditional upsert (`hits < limit`), so concurrent requests on any replica cannot overshoot.
-- `refused` counts hits turned away in the current window (aggregated audit, one row per window).
CREATE TABLE rate_counters (
    subject TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    hits BIGINT NOT NULL,
    refused BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
);
CREATE INDEX rate_counters_updated ON rate_counters(updated_at);

-- Per-failure rows are replaced by the counters above.
DROP TABLE login_failures;

-- RFC 7662 §4: only clients an administrator marks as resource servers may introspect tokens
-- they were not issued (`gigamcp admin client create --introspection`).
ALTER TABLE oauth_clients ADD COLUMN may_introspect BIGINT NOT NULL DEFAULT 0;

CREATE INDEX audit_log_at ON audit_log(at);
