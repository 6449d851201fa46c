//! Persistence: one portable SQL schema on SQLite (embedded default) or PostgreSQL.
//!
//! All queries go through [`sqlx::AnyPool`] with `$n` placeholders and portable types (TEXT,
//! BIGINT), so the same statements run on both backends. One module per aggregate.
pub mod audit;
mod batch;
pub mod counters;
mod db;
mod group;
mod lease;
pub mod oauth;
pub mod sessions;
pub mod settings;
mod signal;
pub mod tokens;
pub mod users;
pub mod workspaces;

pub use crate::names::{join_scopes, parse_scopes, valid_slug, valid_username};
pub(crate) use db::notify;
pub use db::{Backend, Durability, NOTIFY_CHANNEL, Store};
pub use sessions::SessionRow;

pub use tokens::{GrantRecord, TokenRecord};
pub use users::UserRecord;
pub use workspaces::{Membership, WorkspaceRecord};
