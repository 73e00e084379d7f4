//! The client commands of `faas`, one module each: its arguments and what
//! it does. They reach the platform only through `faas-client` (HTTP);
//! `build` and `run` also build and run modules on this machine.

pub mod build;
pub mod cancel;
pub mod dashboard;
pub mod delete;
pub mod deploy;
pub mod functions;
pub mod invoke;
pub mod keys;
pub mod limits;
pub mod logs;
pub mod map;
pub mod new;
pub mod result;
pub mod run;
pub mod status;
pub mod tasks;
pub mod top;
pub mod workers;

#[cfg(test)]
mod parse_tests;
