//! The Zumodra server and command line. The tenancy engine lives in the
//! `zumodra-tenancy` crate; this crate holds configuration, the HTTP server and its
//! features (one folder each, each with a `router()`), and the commands.

pub mod ats;
pub mod audit;
pub mod audit_log;
pub mod auth;
pub mod background;
pub mod cache;
pub mod careers;
pub mod cli;
pub mod config;
pub mod database;
pub mod demo;
pub mod events;
pub mod exports;
pub mod hr;
pub mod http;
pub mod mailer;
pub mod members;
pub mod metrics;
pub mod openapi;
pub mod platform;
pub mod quota;
pub mod rbac;
pub mod rows;
pub mod services;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tenants;

pub use startup::Application;
