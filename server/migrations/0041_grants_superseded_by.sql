-- Performance (issue 11): redeeming a code supersedes the older live grants of the same user,
-- client and workspace in the same transaction, sent to the database as one batch
-- (`store::batch`). The batch cannot carry a result from one statement to the next, so the
-- superseded grants are marked with the grant that replaced them: the revocation of their tokens,
-- the revocation epoch and the audit entry's count find them by this column. Connected apps can
-- also tell "replaced by a newer approval" from "revoked".
ALTER TABLE grants ADD COLUMN superseded_by TEXT;
CREATE INDEX grants_superseded_by ON grants(superseded_by) WHERE superseded_by IS NOT NULL;
