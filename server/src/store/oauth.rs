//! Authorization-server persistence: registered clients, authorization codes, refresh-token
//! rotation and browser sessions (login throttling is in `counters`).
//!
//! Races are settled by the database, not by the process: redeeming a code and rotating a refresh
//! token are conditional UPDATEs (`… WHERE redeemed_at IS NULL`, `… WHERE rotated_at IS NULL`)
//! that open their transaction, so exactly one of N concurrent requests wins on SQLite and
//! PostgreSQL alike. Every secret is passed in already hashed.
use super::audit::AuditEntry;
use super::db::Store;
use super::users::UserRecord;
use crate::names::{join_scopes, parse_scopes};
use sqlx::Row;

/// A registered OAuth client (RFC 7591). `redirect_uris`, `grant_types` and `response_types` are
/// stored as JSON arrays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    pub client_id: String,
    pub client_secret_hash: Option<String>,
    pub client_name: String,
    pub kind: String,
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    /// The registered metadata as returned to the client (JSON), without the secret.
    pub metadata: String,
    pub created_at: i64,
    /// When a code redemption last recorded the client's use, to the minute (for operators);
    /// never written by [`Store::insert_client`].
    pub last_used_at: Option<i64>,
}

/// An authorization code about to be stored (RFC 6749 §4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuthCode {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub workspace_slug: String,
    pub resource: String,
    pub scopes: Vec<String>,
    pub redirect_uri: String,
    /// Whether the authorization request carried `redirect_uri` (then the token request must too).
    pub redirect_uri_explicit: bool,
    pub code_challenge: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCodeRecord {
    pub code: NewAuthCode,
    pub redeemed_at: Option<i64>,
    pub grant_id: Option<String>,
    /// The user is a member of the code's workspace (read with the code: one query).
    pub member: bool,
}

/// A token about to be stored: hash, scopes and expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub hash: String,
    pub scopes: Vec<String>,
    pub expires_at: i64,
}

/// A grant about to be created by a code redemption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGrant {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub workspace_slug: String,
    pub resource: String,
    pub scopes: Vec<String>,
}

/// A stored refresh token joined with its grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    pub token_hash: String,
    pub grant_id: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
    pub successor_hash: Option<String>,
    pub successor_sealed: Option<String>,
    pub revoked_at: Option<i64>,
    pub client_id: String,
    pub user_id: String,
    pub username: String,
    pub workspace_slug: String,
    pub resource: String,
    pub grant_revoked: bool,
    pub is_member: bool,
}

/// Why a code redemption did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedeemOutcome {
    /// The code was redeemed; `superseded` older grants of the same user, client and workspace
    /// were revoked in the same transaction.
    Redeemed { superseded: u64 },
    /// Another request redeemed (or the code expired) between our read and our update.
    LostRace,
}

/// Rows of the revocation epoch (migration 0042); row 1 is also the one explicit revocations
/// bump.
const EPOCH_ROWS: u32 = 16;
/// Device cookies kept per user (the newest): a browser beyond them signs in as a stranger does.
pub const MAX_TRUSTED_DEVICES: i64 = 16;

/// The epoch row a superseding redemption bumps: picked by its new grant's random id, so
/// concurrent redemptions spread over the rows. Any row is correct: pollers read the sum.
fn epoch_row(grant_id: &str) -> i64 {
    let h = grant_id
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    i64::from(h % EPOCH_ROWS + 1)
}

fn strings_from_json(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

fn strings_to_json(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// The columns [`client_from_row`] reads, of `oauth_clients k`.
macro_rules! client_columns {
    () => {
        "k.client_id, k.client_secret_hash, k.client_name, k.kind, k.redirect_uris, \
         k.token_endpoint_auth_method, k.grant_types, k.response_types, k.metadata, k.created_at, \
         k.last_used_at"
    };
}

/// How many columns [`client_columns`] lists: where an artifact's columns start after them.
const CLIENT_COLUMNS: usize = 11;

/// The client in `r`, or `None` where a LEFT JOIN found none.
fn client_from_row(r: &sqlx::any::AnyRow) -> Result<Option<ClientRecord>, sqlx::Error> {
    if r.try_get::<Option<String>, _>(0)?.is_none() {
        return Ok(None);
    }
    Ok(Some(ClientRecord {
        client_id: r.try_get(0)?,
        client_secret_hash: r.try_get(1)?,
        client_name: r.try_get(2)?,
        kind: r.try_get(3)?,
        redirect_uris: strings_from_json(&r.try_get::<String, _>(4)?),
        token_endpoint_auth_method: r.try_get(5)?,
        grant_types: strings_from_json(&r.try_get::<String, _>(6)?),
        response_types: strings_from_json(&r.try_get::<String, _>(7)?),
        metadata: r.try_get(8)?,
        created_at: r.try_get(9)?,
        last_used_at: r.try_get(10)?,
    }))
}

/// Whether a redemption at `now` records the client's use: once it is over a minute old. On
/// PostgreSQL a written row stays locked until commit, so writing it every time made one client's
/// concurrent redemptions queue on it; and a clause that writes nothing still costs the statement.
pub fn client_use_due(last_used_at: Option<i64>, now: i64) -> bool {
    last_used_at.is_none_or(|t| t < now - 60)
}

/// The columns [`code_from_row`] reads, of `authorization_codes c`, with the user's membership.
macro_rules! code_columns {
    () => {
        "c.code_hash, c.client_id, c.user_id, c.workspace_slug, c.resource, c.scopes, \
         c.redirect_uri, c.redirect_uri_explicit, c.code_challenge, c.created_at, c.expires_at, \
         c.redeemed_at, c.grant_id, \
         (SELECT COUNT(*) FROM memberships m WHERE m.workspace_slug = c.workspace_slug AND m.user_id = c.user_id)"
    };
}

/// The code whose [`code_columns`] start at column `at` of `r`, or `None` where none was found.
fn code_from_row(r: &sqlx::any::AnyRow, at: usize) -> Result<Option<AuthCodeRecord>, sqlx::Error> {
    if r.try_get::<Option<String>, _>(at)?.is_none() {
        return Ok(None);
    }
    Ok(Some(AuthCodeRecord {
        code: NewAuthCode {
            code_hash: r.try_get(at)?,
            client_id: r.try_get(at + 1)?,
            user_id: r.try_get(at + 2)?,
            workspace_slug: r.try_get(at + 3)?,
            resource: r.try_get(at + 4)?,
            scopes: parse_scopes(&r.try_get::<String, _>(at + 5)?),
            redirect_uri: r.try_get(at + 6)?,
            redirect_uri_explicit: r.try_get::<i64, _>(at + 7)? != 0,
            code_challenge: r.try_get(at + 8)?,
            created_at: r.try_get(at + 9)?,
            expires_at: r.try_get(at + 10)?,
        },
        redeemed_at: r.try_get(at + 11)?,
        grant_id: r.try_get(at + 12)?,
        member: r.try_get::<i64, _>(at + 13)? > 0,
    }))
}

/// The columns [`refresh_from_row`] reads, of [`refresh_tables`], with the user's membership.
macro_rules! refresh_columns {
    () => {
        "t.token_hash, t.grant_id, t.scopes, t.created_at, t.expires_at, t.rotated_at, t.successor_hash, \
         t.successor_sealed, t.revoked_at, g.client_id, g.user_id, u.username, g.workspace_slug, g.resource, \
         g.revoked_at, \
         (SELECT COUNT(*) FROM memberships m WHERE m.workspace_slug = g.workspace_slug AND m.user_id = g.user_id)"
    };
}

/// A refresh token with its grant and user.
macro_rules! refresh_tables {
    () => {
        "refresh_tokens t JOIN grants g ON g.id = t.grant_id JOIN users u ON u.id = g.user_id"
    };
}

/// The refresh token whose [`refresh_columns`] start at column `at` of `r`, or `None`.
fn refresh_from_row(
    r: &sqlx::any::AnyRow,
    at: usize,
) -> Result<Option<RefreshRecord>, sqlx::Error> {
    if r.try_get::<Option<String>, _>(at)?.is_none() {
        return Ok(None);
    }
    Ok(Some(RefreshRecord {
        token_hash: r.try_get(at)?,
        grant_id: r.try_get(at + 1)?,
        scopes: parse_scopes(&r.try_get::<String, _>(at + 2)?),
        created_at: r.try_get(at + 3)?,
        expires_at: r.try_get(at + 4)?,
        rotated_at: r.try_get(at + 5)?,
        successor_hash: r.try_get(at + 6)?,
        successor_sealed: r.try_get(at + 7)?,
        revoked_at: r.try_get(at + 8)?,
        client_id: r.try_get(at + 9)?,
        user_id: r.try_get(at + 10)?,
        username: r.try_get(at + 11)?,
        workspace_slug: r.try_get(at + 12)?,
        resource: r.try_get(at + 13)?,
        grant_revoked: r.try_get::<Option<i64>, _>(at + 14)?.is_some(),
        is_member: r.try_get::<i64, _>(at + 15)? > 0,
    }))
}

/// A token's row, stored if `guard` holds when the batch runs.
fn push_token<'a>(
    b: &mut super::batch::WriteBatch<'a>,
    table: &str,
    grant_id: &'a str,
    t: &'a NewToken,
    scopes: &'a str,
    now: i64,
    guard: &super::batch::Ref<'a>,
) {
    let sql = format!(
        "INSERT INTO {table} (token_hash, grant_id, scopes, created_at, expires_at) \
         SELECT $1, $2, $3, $4, $5 WHERE "
    );
    // Audited: `table` is one of two literals chosen by this module; values are bound.
    b.push_if(
        &sql,
        vec![
            (&t.hash).into(),
            grant_id.into(),
            scopes.into(),
            now.into(),
            t.expires_at.into(),
        ],
        guard,
    );
}

impl Store {
    pub async fn insert_client(&self, c: &ClientRecord) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO oauth_clients (client_id, client_secret_hash, client_name, kind, redirect_uris, \
             token_endpoint_auth_method, grant_types, response_types, metadata, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&c.client_id)
        .bind(c.client_secret_hash.as_deref())
        .bind(&c.client_name)
        .bind(&c.kind)
        .bind(strings_to_json(&c.redirect_uris))
        .bind(&c.token_endpoint_auth_method)
        .bind(strings_to_json(&c.grant_types))
        .bind(strings_to_json(&c.response_types))
        .bind(&c.metadata)
        .bind(c.created_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Updates a CIMD client's row from a newly fetched metadata document.
    pub async fn refresh_cimd_client(&self, c: &ClientRecord) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE oauth_clients SET client_name = $2, redirect_uris = $3, grant_types = $4, \
             metadata = $5, token_endpoint_auth_method = $6 WHERE client_id = $1 AND kind = 'cimd'",
        )
        .bind(&c.client_id)
        .bind(&c.client_name)
        .bind(strings_to_json(&c.redirect_uris))
        .bind(strings_to_json(&c.grant_types))
        .bind(&c.metadata)
        .bind(&c.token_endpoint_auth_method)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Whether an administrator marked this client as a resource server that may introspect any
    /// token (RFC 7662 §4).
    pub async fn client_may_introspect(&self, client_id: &str) -> Result<bool, sqlx::Error> {
        let row = sqlx::query("SELECT may_introspect FROM oauth_clients WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<i64, _>(0)? != 0,
            None => false,
        })
    }

    /// Grants or withdraws a client's right to introspect every token.
    pub async fn set_client_may_introspect(
        &self,
        client_id: &str,
        may: bool,
    ) -> Result<bool, sqlx::Error> {
        Ok(
            sqlx::query("UPDATE oauth_clients SET may_introspect = $2 WHERE client_id = $1")
                .bind(client_id)
                .bind(i64::from(may))
                .execute(self.writer())
                .await?
                .rows_affected()
                > 0,
        )
    }

    /// Records a `private_key_jwt` assertion's `jti` (hashed) until `expires_at`; `false` when it
    /// was already used by this client (RFC 7523 §3 item 7). The primary key makes concurrent
    /// replays lose on every replica; expired entries are purged on the way.
    pub async fn record_assertion_jti(
        &self,
        client_id: &str,
        jti_hash: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        sqlx::query("DELETE FROM client_assertion_jtis WHERE expires_at < $1")
            .bind(now)
            .execute(self.writer())
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO client_assertion_jtis (client_id, jti_hash, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (client_id, jti_hash) DO NOTHING",
        )
        .bind(client_id)
        .bind(jti_hash)
        .bind(expires_at)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    pub async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, sqlx::Error> {
        match self
            .read_optional(
                sqlx::query(concat!(
                    "SELECT ",
                    client_columns!(),
                    " FROM oauth_clients k WHERE k.client_id = $1"
                ))
                .bind(client_id),
            )
            .await?
        {
            Some(r) => client_from_row(&r),
            None => Ok(None),
        }
    }

    /// Stores a code with the audit entry of its approval (one transaction, one batch).
    pub async fn insert_auth_code(
        &self,
        c: &NewAuthCode,
        audit: &AuditEntry,
    ) -> Result<(), sqlx::Error> {
        use super::batch::{Arg, WriteBatch};
        let scopes = join_scopes(&c.scopes);
        let audit_id = super::audit::audit_id(audit.at);
        let mut b = WriteBatch::new();
        b.push(
            "INSERT INTO authorization_codes (code_hash, client_id, user_id, workspace_slug, resource, scopes, \
             redirect_uri, redirect_uri_explicit, code_challenge, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            vec![
                (&c.code_hash).into(),
                (&c.client_id).into(),
                (&c.user_id).into(),
                (&c.workspace_slug).into(),
                (&c.resource).into(),
                (&scopes).into(),
                (&c.redirect_uri).into(),
                Arg::Int(i64::from(c.redirect_uri_explicit)),
                (&c.code_challenge).into(),
                c.created_at.into(),
                c.expires_at.into(),
            ],
        );
        b.push(
            format!("{}$10", super::audit::INSERT_SELECT),
            super::audit::batch_args(audit, &audit_id),
        );
        self.run_batch(b).await?;
        Ok(())
    }

    /// Drops codes that expired before `expired_before` (retention, `oauth::audit::prune`).
    /// Not on the authorization path: a range delete there cost every approval a scan of the
    /// table on PostgreSQL, whose cached generic plan reads `expires_at < $1` as a third of it.
    pub async fn prune_auth_codes(&self, expired_before: i64) -> Result<u64, sqlx::Error> {
        Ok(
            sqlx::query("DELETE FROM authorization_codes WHERE expires_at < $1")
                .bind(expired_before)
                .execute(self.writer())
                .await?
                .rows_affected(),
        )
    }

    /// Reads a code and a client in one query: the client named `client_id`, or with `None` the
    /// one the code was issued to. The token endpoint needs both on every redemption, and two
    /// point reads cost PostgreSQL two statements and the server two round trips.
    pub async fn auth_code_with_client(
        &self,
        code_hash: &str,
        client_id: Option<&str>,
    ) -> Result<(Option<AuthCodeRecord>, Option<ClientRecord>), sqlx::Error> {
        self.artifact_with_client(
            concat!(
                "SELECT ",
                client_columns!(),
                ", ",
                code_columns!(),
                " FROM (SELECT 1 AS one) o \
                 LEFT JOIN authorization_codes c ON c.code_hash = $1 \
                 LEFT JOIN oauth_clients k ON k.client_id = COALESCE($2, c.client_id)"
            ),
            code_hash,
            client_id,
            code_from_row,
        )
        .await
    }

    /// Runs an `*_with_client` query: `sql` selects [`client_columns`] and then the artifact's
    /// (read by `artifact`) from `(SELECT 1 AS one)`, LEFT JOINed to the artifact by hash (`$1`)
    /// and to the client `$2`, or the artifact's owner where `$2` is null: always one row.
    async fn artifact_with_client<T>(
        &self,
        sql: &'static str,
        hash: &str,
        client_id: Option<&str>,
        artifact: fn(&sqlx::any::AnyRow, usize) -> Result<Option<T>, sqlx::Error>,
    ) -> Result<(Option<T>, Option<ClientRecord>), sqlx::Error> {
        let row = self
            .read_optional(sqlx::query(sql).bind(hash).bind(client_id))
            .await?;
        match row {
            Some(r) => Ok((artifact(&r, CLIENT_COLUMNS)?, client_from_row(&r)?)),
            None => Ok((None, None)),
        }
    }

    /// Redeems a code: marks it used (conditionally: only if nobody else did and it has not
    /// expired) and, if that won, supersedes (revokes) the older live grants of the same user,
    /// client and workspace with their tokens, stores the new grant with its tokens, writes
    /// `audit` (its detail followed by the number superseded and " older grant(s)") and records
    /// the client's last use when the recorded one is over a minute old ([`client_use_due`] of
    /// `client_last_used`, as read with the code, and again in the database). One transaction, one
    /// batch (`store::batch`). On PostgreSQL a redemption that superseded a grant then signals
    /// the other replicas (`store::signal`).
    #[allow(clippy::too_many_arguments)]
    pub async fn redeem_auth_code(
        &self,
        code_hash: &str,
        grant: &NewGrant,
        access: &NewToken,
        refresh: Option<&NewToken>,
        audit: &AuditEntry,
        client_last_used: Option<i64>,
        now: i64,
    ) -> Result<RedeemOutcome, sqlx::Error> {
        use super::batch::{Part, WriteBatch};
        let scopes = join_scopes(&grant.scopes);
        let audit_id = super::audit::audit_id(audit.at);
        let mut b = WriteBatch::new();
        let won = b.push(
            "UPDATE authorization_codes SET redeemed_at = $2, grant_id = $3 \
             WHERE code_hash = $1 AND redeemed_at IS NULL AND expires_at > $2",
            vec![code_hash.into(), now.into(), (&grant.id).into()],
        );
        // Set only by the UPDATE above, to a fresh random id: "this redemption won".
        let redeemed = b.refer(
            won,
            "EXISTS (SELECT 1 FROM authorization_codes WHERE code_hash = $1 AND grant_id = $2)",
            vec![code_hash.into(), (&grant.id).into()],
            "EXISTS (SELECT 1 FROM {})",
        );
        let superseded = b.push_if(
            "UPDATE grants SET revoked_at = $4, superseded_by = $5 \
             WHERE user_id = $1 AND client_id = $2 AND workspace_slug = $3 AND revoked_at IS NULL AND ",
            vec![
                (&grant.user_id).into(),
                (&grant.client_id).into(),
                (&grant.workspace_slug).into(),
                now.into(),
                (&grant.id).into(),
            ],
            &redeemed,
        );
        b.returning(superseded, "id");
        // The grants this redemption superseded (marked with the new grant's fresh, random id).
        let of_older = b.refer(
            superseded,
            "grant_id IN (SELECT id FROM grants WHERE superseded_by = $1)",
            vec![(&grant.id).into()],
            "grant_id IN (SELECT id FROM {})",
        );
        for table in ["access_tokens", "refresh_tokens"] {
            // Audited: `table` is one of two literals; values are bound.
            b.push_if(
                &format!("UPDATE {table} SET revoked_at = $1 WHERE revoked_at IS NULL AND "),
                vec![now.into()],
                &of_older,
            );
        }
        b.push_if(
            "INSERT INTO grants (id, client_id, user_id, workspace_slug, resource, scopes, created_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7 WHERE ",
            vec![
                (&grant.id).into(),
                (&grant.client_id).into(),
                (&grant.user_id).into(),
                (&grant.workspace_slug).into(),
                (&grant.resource).into(),
                (&scopes).into(),
                now.into(),
            ],
            &redeemed,
        );
        let access_scopes = join_scopes(&access.scopes);
        push_token(
            &mut b,
            "access_tokens",
            &grant.id,
            access,
            &access_scopes,
            now,
            &redeemed,
        );
        let refresh_scopes = refresh.map(|r| join_scopes(&r.scopes));
        if let (Some(r), Some(scopes)) = (refresh, &refresh_scopes) {
            push_token(
                &mut b,
                "refresh_tokens",
                &grant.id,
                r,
                scopes,
                now,
                &redeemed,
            );
        }
        let count_older = b.refer(
            superseded,
            "(SELECT COUNT(*) FROM grants WHERE superseded_by = $1)",
            vec![(&grant.id).into()],
            "(SELECT COUNT(*) FROM {})",
        );
        b.push_parts(vec![
            Part::sql(
                format!("{}$10 || ", super::audit::INSERT_SELECT),
                super::audit::batch_args(audit, &audit_id),
            ),
            Part::Ref(count_older),
            Part::sql(" || ' older grant(s)' WHERE ", vec![]),
            Part::Ref(redeemed.clone()),
        ]);
        // To the minute (`client_use_due`), checked again here: concurrent redemptions that all
        // read an old value write it once between them.
        if client_use_due(client_last_used, now) {
            b.push_if(
                "UPDATE oauth_clients SET last_used_at = $2 WHERE client_id = $1 \
                 AND (last_used_at IS NULL OR last_used_at < $2 - 60) AND ",
                vec![(&grant.client_id).into(), now.into()],
                &redeemed,
            );
        }
        // Last: on PostgreSQL the epoch's row stays locked until the statement commits. Each
        // redemption takes one of sixteen (`epoch_row`), so concurrent ones rarely queue.
        let any_older = b.refer(
            superseded,
            "EXISTS (SELECT 1 FROM grants WHERE superseded_by = $1)",
            vec![(&grant.id).into()],
            "EXISTS (SELECT 1 FROM {})",
        );
        b.push_if(
            "UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = $1 AND ",
            vec![epoch_row(&grant.id).into()],
            &any_older,
        );
        let (won, superseded) = (b.count(won), b.count(superseded));
        let counts = self.run_batch(b).await?;
        if counts[superseded] > 0 {
            // After the commit, coalesced with other redemptions' (`store::signal`).
            self.notify_after_commit(&self.auth_signal, super::tokens::AUTH_TOPIC);
        }
        Ok(if counts[won] == 0 {
            RedeemOutcome::LostRace
        } else {
            RedeemOutcome::Redeemed {
                superseded: counts[superseded],
            }
        })
    }

    pub async fn refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshRecord>, sqlx::Error> {
        match self
            .read_optional(
                sqlx::query(concat!(
                    "SELECT ",
                    refresh_columns!(),
                    " FROM ",
                    refresh_tables!(),
                    " WHERE t.token_hash = $1"
                ))
                .bind(token_hash),
            )
            .await?
        {
            Some(r) => refresh_from_row(&r, 0),
            None => Ok(None),
        }
    }

    /// Reads a refresh token (with its grant and user) and a client in one query: the client
    /// named `client_id`, or with `None` the one the token's grant belongs to (as
    /// [`auth_code_with_client`](Self::auth_code_with_client)).
    pub async fn refresh_token_with_client(
        &self,
        token_hash: &str,
        client_id: Option<&str>,
    ) -> Result<(Option<RefreshRecord>, Option<ClientRecord>), sqlx::Error> {
        self.artifact_with_client(
            concat!(
                "SELECT ",
                client_columns!(),
                ", ",
                refresh_columns!(),
                " FROM (SELECT 1 AS one) o LEFT JOIN (",
                refresh_tables!(),
                ") ON t.token_hash = $1 \
                 LEFT JOIN oauth_clients k ON k.client_id = COALESCE($2, g.client_id)"
            ),
            token_hash,
            client_id,
            refresh_from_row,
        )
        .await
    }

    /// Rotates a refresh token: marks it rotated (conditionally: only if nobody else did, it is not
    /// revoked and its grant is live) and, if that won, stores the successor pair and `audit`.
    /// One transaction, one batch (`store::batch`). Returns whether this call won.
    #[allow(clippy::too_many_arguments)]
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        grant_id: &str,
        refresh: &NewToken,
        access: &NewToken,
        sealed: &str,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        use super::batch::WriteBatch;
        let mut b = WriteBatch::new();
        let won = b.push(
            "UPDATE refresh_tokens SET rotated_at = $2, successor_hash = $3, successor_sealed = $4 \
             WHERE token_hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL \
             AND EXISTS (SELECT 1 FROM grants \
                         WHERE grants.id = refresh_tokens.grant_id AND grants.revoked_at IS NULL)",
            vec![
                old_hash.into(),
                now.into(),
                (&refresh.hash).into(),
                sealed.into(),
            ],
        );
        // The successor hash is fresh and random: set only by the UPDATE above.
        let rotated = b.refer(
            won,
            "EXISTS (SELECT 1 FROM refresh_tokens WHERE token_hash = $1 AND successor_hash = $2)",
            vec![old_hash.into(), (&refresh.hash).into()],
            "EXISTS (SELECT 1 FROM {})",
        );
        let (refresh_scopes, access_scopes) =
            (join_scopes(&refresh.scopes), join_scopes(&access.scopes));
        push_token(
            &mut b,
            "refresh_tokens",
            grant_id,
            refresh,
            &refresh_scopes,
            now,
            &rotated,
        );
        push_token(
            &mut b,
            "access_tokens",
            grant_id,
            access,
            &access_scopes,
            now,
            &rotated,
        );
        let audit_id = super::audit::audit_id(audit.at);
        b.push_if(
            &format!("{}$10 WHERE ", super::audit::INSERT_SELECT),
            super::audit::batch_args(audit, &audit_id),
            &rotated,
        );
        let won = b.count(won);
        Ok(self.run_batch(b).await?[won] > 0)
    }

    /// Revokes one access token. Write-first transaction (no read before the first UPDATE), so
    /// SQLite never has to upgrade a read snapshot while another writer commits.
    pub async fn revoke_access_token_hash(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_durable_write().await?;
        let n = sqlx::query(
            "UPDATE access_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n > 0 {
            super::tokens::bump_auth_epoch(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Whether this user has a live grant for this client in any workspace (they approved it).
    pub async fn user_has_live_grant_for_client(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> Result<bool, sqlx::Error> {
        let n: i64 = sqlx::query(
            "SELECT COUNT(*) FROM grants WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL",
        )
        .bind(user_id)
        .bind(client_id)
        .fetch_one(self.pool())
        .await?
        .try_get(0)?;
        Ok(n > 0)
    }

    /// Whether a live grant of this user, client and workspace already covers `scopes`.
    pub async fn live_grant_covering(
        &self,
        client_id: &str,
        user_id: &str,
        workspace_slug: &str,
        scopes: &[String],
    ) -> Result<bool, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT scopes FROM grants WHERE client_id = $1 AND user_id = $2 AND workspace_slug = $3 AND revoked_at IS NULL",
        )
        .bind(client_id)
        .bind(user_id)
        .bind(workspace_slug)
        .fetch_all(self.pool())
        .await?;
        for r in rows {
            let have = parse_scopes(&r.try_get::<String, _>(0)?);
            if scopes.iter().all(|s| have.contains(s)) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    // ---- browser sessions ----

    /// Remembers a browser that signed in as `user_id` by its device cookie's hash, until `now +
    /// ttl`, and keeps only the user's newest [`MAX_TRUSTED_DEVICES`]. One transaction.
    pub async fn remember_device(
        &self,
        token_hash: &str,
        user_id: &str,
        now: i64,
        ttl: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO trusted_devices (token_hash, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(now)
        .bind(now.saturating_add(ttl))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM trusted_devices WHERE user_id = $1 AND token_hash NOT IN \
             (SELECT token_hash FROM trusted_devices WHERE user_id = $1 \
              ORDER BY created_at DESC, token_hash LIMIT $2)",
        )
        .bind(user_id)
        .bind(MAX_TRUSTED_DEVICES)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// The user a live device cookie (by hash) was given to.
    pub async fn trusted_device_user(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<String>, sqlx::Error> {
        let row = self
            .read_optional(
                sqlx::query(
                    "SELECT user_id FROM trusted_devices WHERE token_hash = $1 AND expires_at > $2",
                )
                .bind(token_hash)
                .bind(now),
            )
            .await?;
        row.map(|r| r.try_get::<String, _>(0)).transpose()
    }

    /// Forgets device cookies that expired before `expired_before` (retention).
    pub async fn prune_trusted_devices(&self, expired_before: i64) -> Result<u64, sqlx::Error> {
        Ok(
            sqlx::query("DELETE FROM trusted_devices WHERE expires_at < $1")
                .bind(expired_before)
                .execute(self.writer())
                .await?
                .rows_affected(),
        )
    }

    pub async fn create_session(
        &self,
        id_hash: &str,
        user_id: &str,
        now: i64,
        ttl: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM browser_sessions WHERE expires_at < $1")
            .bind(now)
            .execute(self.writer())
            .await?;
        sqlx::query(
            "INSERT INTO browser_sessions (id_hash, user_id, created_at, expires_at, last_seen_at) VALUES ($1, $2, $3, $4, $3)",
        )
        .bind(id_hash)
        .bind(user_id)
        .bind(now)
        .bind(now + ttl)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// The user of a live session.
    pub async fn session_user(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<UserRecord>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT u.id, u.username, u.password_hash, u.created_at FROM browser_sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = $1 AND s.expires_at > $2",
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(UserRecord {
                id: r.try_get(0)?,
                username: r.try_get(1)?,
                password_hash: r.try_get(2)?,
                created_at: r.try_get(3)?,
            })
        })
        .transpose()
    }

    /// Signs a browser session out (durably: a sign-out never comes undone).
    pub async fn delete_session(&self, id_hash: &str) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_durable_write().await?;
        sqlx::query("DELETE FROM browser_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clients_use_is_due_once_over_a_minute_old() {
        assert!(client_use_due(None, 1_000));
        assert!(!client_use_due(Some(1_000), 1_000));
        assert!(
            !client_use_due(Some(940), 1_000),
            "a minute old is not older"
        );
        assert!(client_use_due(Some(939), 1_000));
    }

    #[test]
    fn redemptions_spread_over_every_epoch_row() {
        let mut seen = [0u32; EPOCH_ROWS as usize];
        for i in 0..1600 {
            let row = epoch_row(&format!("g_{}", crate::secrets::new_id()));
            assert!((1..=i64::from(EPOCH_ROWS)).contains(&row), "{i}: {row}");
            seen[(row - 1) as usize] += 1;
        }
        // 100 expected per row: every row is used, none by more than twice its share.
        assert!(seen.iter().all(|&n| (25..=200).contains(&n)), "{seen:?}");
    }
}
