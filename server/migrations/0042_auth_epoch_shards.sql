-- Performance (issue 11): a code redemption that supersedes older grants bumps the revocation
-- epoch in its own statement, and on PostgreSQL every such redemption queued on the one row's
-- lock until the one before it committed. The epoch is now the sum of sixteen rows: a superseding
-- redemption bumps the row its new grant's id picks (`store::oauth::epoch_row`), explicit
-- revocations and membership removals still bump row 1, and pollers read the sum, which moves
-- whenever any row does. Servers older than this migration read row 1 only: while both run on
-- one database, they learn of superseded grants' tokens when their cached validation expires.
INSERT INTO auth_epoch (id, epoch) VALUES
    (2, 0), (3, 0), (4, 0), (5, 0), (6, 0), (7, 0), (8, 0), (9, 0),
    (10, 0), (11, 0), (12, 0), (13, 0), (14, 0), (15, 0), (16, 0);
