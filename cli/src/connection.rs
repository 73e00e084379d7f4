//! How every client command reaches the server and prints: `--url`,
//! `--cacert`, `--token`, `--json`.

use std::path::PathBuf;

use faas_client::{Client, ClientOptions};

/// How to reach the server and how to print; shared by every client subcommand.
#[derive(clap::Args, Debug, Clone)]
pub struct Connection {
    /// Server URL
    #[arg(
        long,
        env = "FAAS_URL",
        default_value = "http://127.0.0.1:8000",
        global = true
    )]
    pub url: String,

    /// PEM file of the CA (or a bundle) that signed the server's certificate,
    /// trusted besides the system's roots (https:// URLs)
    #[arg(long, env = "FAAS_CACERT", value_name = "PATH", global = true)]
    pub cacert: Option<PathBuf>,

    /// API key, sent as `Authorization: Bearer KEY` [default: the one saved
    /// for this URL in the credentials file, ~/.config/faas/credentials]
    #[arg(
        long,
        env = "FAAS_TOKEN",
        value_name = "KEY",
        hide_env_values = true,
        global = true
    )]
    pub token: Option<String>,

    /// Print machine-readable JSON instead of text
    #[arg(long, global = true)]
    pub json: bool,
}

impl Connection {
    /// A client for `--url` with its key (`--token`, `FAAS_TOKEN`, or the
    /// credentials file) and `--cacert`.
    pub fn client(&self) -> anyhow::Result<Client> {
        let options = ClientOptions {
            token: self.key(),
            ca_cert: self.cacert.clone(),
        };
        Ok(Client::with_options(&self.url, &options)?)
    }
}

impl Connection {
    /// The key to send: `--token`, `FAAS_TOKEN`, or the one saved for
    /// `--url` in the credentials file.
    pub fn key(&self) -> Option<String> {
        self.token
            .clone()
            .filter(|t| !t.trim().is_empty())
            .or_else(|| faas_client::credentials::token_for(&self.url))
    }
}
