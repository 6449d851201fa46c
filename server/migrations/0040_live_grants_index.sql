-- Performance (issue 11): the live grants of one (user, client, workspace). Redeeming a code
-- supersedes them, authorization looks for one, and the Connected apps page lists them; with only
-- `grants_user` every one of those read all of the user's grants, revoked ones included, so a
-- user who re-authorized often (ChatGPT does, per connection) made each redemption slower.
-- Partial (live rows only): SQLite and PostgreSQL both support `WHERE` on an index.
CREATE INDEX grants_live ON grants(user_id, client_id, workspace_slug) WHERE revoked_at IS NULL;
