//! The Zumodra server and command line. The tenancy engine lives in the
//! `zumodra-tenancy` crate; this crate holds configuration, the HTTP server and its
//! features, and the commands.

pub mod cli;
pub mod config;
pub mod database;
pub mod demo;
pub mod startup;
