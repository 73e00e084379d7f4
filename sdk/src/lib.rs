//! faas-sdk: the Rust client library for the faas REST API and the client-side
//! commands of the `faas` CLI (deploy, invoke, status, result).
//!
//! It owns: [`Client`], a typed async HTTP client for the REST contract,
//! [`commands`], the argument parsing, payload building and output of the
//! client subcommands, and [`daemons`], which wires the server, store and
//! dispatcher crates into the `up`, `server` and `dispatcher` subcommands;
//! [`bench`] measures a running platform and [`plot`] charts its CSV.
//! The client side must not talk to Redis or run wasm itself: everything it
//! knows about functions and tasks comes from a server over HTTP (WAT text
//! is compiled to a binary locally only so syntax errors show before upload).

pub mod bench;
pub mod client;
pub mod commands;
pub mod daemons;
pub mod plot;

pub use client::{Client, ClientError, TaskResult, TaskStatus};
