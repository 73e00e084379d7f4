//! faas-cli: the `faas` command.
//!
//! - [`daemons`] wires the server, store, dispatcher and worker crates into
//!   `faas up`, `faas server`, `faas dispatcher` and `faas worker`;
//! - [`commands`] holds the client commands, one module each (`deploy`,
//!   `invoke`, `map`, `new`, ...); they reach the platform through
//!   `faas-client` only, with the [`connection`] flags every one takes, and
//!   print through [`output`];
//! - [`build`] compiles Rust crates and C files to modules, Python and
//!   JavaScript functions to components (`faas build`, `faas deploy`);
//! - [`bench`] measures a running platform and [`plot`] charts its CSV;
//! - [`port_keys`] are the worker port's CURVE key files.

pub mod bench;
pub mod build;
pub mod commands;
pub mod connection;
pub mod daemons;
pub mod hints;
pub mod metrics_endpoint;
pub mod output;
pub mod payload;
pub mod plot;
pub mod port_keys;
pub mod progress;
pub mod seconds;
pub mod table;
