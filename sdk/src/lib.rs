//! faas-sdk: the Rust client library for the faas REST API and the client-side
//! commands of the `faas` CLI (deploy, invoke, status, result).
//!
//! It owns: [`Client`], a typed async HTTP client for the REST contract,
//! [`commands`], the argument parsing, payload building and output of the
//! client subcommands, and [`daemons`], which wires the server, store and
//! dispatcher crates into the `up`, `server` and `dispatcher` subcommands;
//! [`bench`] measures a running platform and [`plot`] charts its CSV;
//! [`build`] compiles Rust crates and C files to modules (`faas build`),
//! [`python`] and [`javascript`] functions to components (through
//! [`componentize`]), and
//! [`run`] runs a module once on the local runtime (`faas run`);
//! [`listing`] lists functions and tasks (`faas functions`, `faas tasks`)
//! and [`map`] invokes a function once per line of a file (`faas map`);
//! [`keys`] is `faas keys` and [`port_keys`] the worker port's CURVE key
//! files (read only by the daemons and `faas keys`).
//! The client side must not talk to Redis or run wasm itself: everything it
//! knows about functions and tasks comes from a server over HTTP (WAT text
//! is compiled to a binary locally only so syntax errors show before upload).

pub mod bench;
pub mod build;
pub mod cancel;
pub mod client;
pub mod commands;
pub mod componentize;
pub mod credentials;
pub mod daemons;
pub mod dashboard;
pub mod delete;
pub mod javascript;
pub mod keys;
pub mod listing;
pub mod logs;
pub mod map;
pub mod metrics_endpoint;
pub mod plot;
pub mod port_keys;
pub mod progress;
pub mod python;
pub mod run;
pub mod seconds;
pub mod top;

pub use client::{
    Client, ClientError, ClientOptions, FunctionInfo, ResultRow, TaskInfo, TaskResult, TaskStatus,
};
