//! gigamcp-conformance: black-box checks of an MCP deployment, replaying a real host's connector
//! flow (ChatGPT, Claude, or a strict spec-only client) over HTTP.
//!
//! # Layout
//! - [`model`]: levels, verdicts, findings, and the one place findings become verdicts.
//! - [`checks`]: the registry of every check (id, level, references).
//! - [`config`], [`cli`]: what to run; the command line; [`app`]: the entry point (every
//!   subcommand).
//! - [`profile`]: client profiles as data; [`cimd`]: the harness-served client metadata documents.
//! - [`http`], [`redact`]: the recording client and evidence redaction.
//! - [`browser`]: a real Chromium over CDP (the `browser` login driver, page checks in tests).
//! - [`jwt`]: the harness's `private_key_jwt` signing key and client assertions (RFC 7523).
//! - [`wwwauth`], [`urls`], [`form`], [`pkce`]: parsers and small protocol helpers.
//! - [`schema`]: the official MCP JSON Schemas, embedded, per revision.
//! - [`flow`]: the connector flow, phase by phase, grading checks as it goes.
//! - [`report`]: terminal, JSON, JUnit, SARIF, Markdown, HTML, evidence bundle, baseline;
//!   [`hints`]: what each check means to a user and how to fix it; [`matrix`]: many deployments.
//!
//! Architecture invariant: this crate never depends on the server crate; every target is a
//! black box over HTTP.

pub mod app;
pub mod browser;
pub mod checks;
pub mod cimd;
pub mod cli;
pub mod config;
pub mod flow;
pub mod form;
pub mod hints;
pub mod http;
pub mod jwt;
pub mod matrix;
pub mod model;
pub mod pkce;
pub mod profile;
pub mod redact;
pub mod report;
pub mod schema;
pub mod urls;
pub mod wwwauth;
