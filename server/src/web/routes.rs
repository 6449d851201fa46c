//! The HTML pages' routes. Kept out of `web/mod.rs` (the pages' shared helpers), so the pages
//! import the helpers and only this file imports the pages.
use super::{apps, authorize, docs, login, workspace};
use crate::state::AppState;
use axum::Router;
use axum::routing::{get, post};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(workspace::home))
        .route(
            crate::oauth::metadata::AUTHORIZE_PATH,
            get(authorize::get).post(authorize::post),
        )
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/settings/connected-apps", get(apps::list))
        .route(
            "/settings/connected-apps/{grant_id}/revoke",
            post(apps::revoke),
        )
        .route("/t/{slug}", get(workspace::dashboard))
        .route("/t/{slug}/audit", get(workspace::audit))
        .route("/t/{slug}/wiki/{page}", get(workspace::wiki_page))
        .route("/docs", get(docs::index))
        .route("/docs/{page}", get(docs::page))
}
