//! `faas keys`: API keys (create, list, revoke) through the REST API with
//! an admin key, and `faas keys worker`, a CURVE key pair for a worker
//! (the worker port's keys, see `port_keys.rs`).

use crate::connection::Connection;
use crate::output::print_stdout;
use crate::port_keys::write_new_private;
use crate::table::{age_text, column_width, now_ms};
use anyhow::{bail, Context};
use faas_contract::{KeyList, KeyRow, NewKey};
use faas_protocol::curve::KeyPair;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct KeysArgs {
    #[command(flatten)]
    pub conn: Connection,
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum KeysCommand {
    /// Make an API key for a tenant (needs an admin key); prints the key, shown only this once
    Create {
        /// The tenant the key acts for (letters, digits, `.`, `_`, `-`)
        #[arg(long)]
        tenant: String,
        /// An admin key: sees and manages every tenant's functions, tasks and keys
        #[arg(long)]
        admin: bool,
        /// Write the key straight into this Redis instead of asking a
        /// server: for an operator who holds the store's credentials, say
        /// when every admin key is lost
        #[arg(long, value_name = "URL")]
        redis: Option<String>,
        /// PEM CA certificate(s) to trust for a rediss:// URL
        #[arg(long, value_name = "PEM", requires = "redis")]
        redis_cacert: Option<PathBuf>,
    },
    /// List API keys: prefix, tenant, admin, created, last used (never the keys themselves)
    List,
    /// Revoke a key by its prefix (faas_XXXXXXXXXXXX); it stops working at once on every server
    Revoke {
        /// The prefix `faas keys list` shows
        prefix: String,
    },
    /// Make a CURVE key pair for a worker: prints it (or writes it with
    /// --out and prints the public key), to put on the dispatcher's
    /// allow-list
    Worker(WorkerKeyArgs),
}

#[derive(clap::Args, Debug)]
pub struct WorkerKeyArgs {
    /// Write the key pair to this file (mode 0600; never overwritten) and
    /// print only the public key
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// A note for the file's comment (e.g. the worker's host)
    #[arg(long)]
    pub name: Option<String>,
}

pub async fn keys(args: KeysArgs) -> anyhow::Result<ExitCode> {
    // Only the API-key commands talk to a server.
    let client = || args.conn.client();
    match args.command {
        KeysCommand::Worker(worker_args) => return worker(worker_args),
        KeysCommand::Create {
            tenant,
            admin,
            redis,
            redis_cacert,
        } => {
            let made = match redis {
                Some(url) => create_in_store(&url, redis_cacert.as_deref(), &tenant, admin).await?,
                None => client()?
                    .create_key(&tenant, admin)
                    .await
                    .context("cannot create a key")?,
            };
            if args.conn.json {
                print_stdout(&format!("{}\n", serde_json::to_string(&made)?))?;
            } else {
                // Only the key on stdout, so `KEY=$(faas keys create ...)` works.
                print_stdout(&format!("{}\n", made.key))?;
                eprintln!(
                    "created {}key {} for tenant {tenant}; it is shown only now: give it to its user \
                     (FAAS_TOKEN=<key>, or --token)",
                    if admin { "an admin " } else { "" },
                    made.prefix,
                );
            }
        }
        KeysCommand::List => {
            let keys = client()?.list_keys().await.context("cannot list keys")?;
            let out = if args.conn.json {
                format!("{}\n", serde_json::to_string(&KeyList { keys })?)
            } else {
                keys_table(&keys, now_ms())
            };
            print_stdout(&out)?;
        }
        KeysCommand::Revoke { prefix } => {
            let revoked = client()?
                .revoke_key(&prefix)
                .await
                .with_context(|| format!("cannot revoke {prefix}"))?;
            if args.conn.json {
                print_stdout(&format!("{}\n", serde_json::to_string(&revoked)?))?;
            } else {
                eprintln!("revoked {}", revoked.revoked);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A new key written into the Redis at `url` itself, as `POST /keys`
/// would (servers read keys from the store, so every one accepts it).
async fn create_in_store(
    url: &str,
    ca_cert: Option<&std::path::Path>,
    tenant: &str,
    admin: bool,
) -> anyhow::Result<NewKey> {
    if !faas_store::valid_tenant(tenant) {
        bail!("a tenant name is 1 to 64 letters, digits, `.`, `_` or `-`, got {tenant:?}");
    }
    let store =
        crate::daemons::connect(Some(url), ca_cert, faas_store::StoreConfig::default()).await?;
    let key = faas_server::mint(tenant, admin).map_err(|e| anyhow::anyhow!(e.detail))?;
    store
        .put_key(&key.record, false)
        .await
        .context("cannot store the key")?;
    Ok(NewKey {
        key: key.token,
        prefix: faas_server::key_prefix(&key.record.id),
        tenant: key.record.tenant,
        admin: key.record.admin,
        created_at_ms: key.record.created_at_ms,
    })
}

fn worker(args: WorkerKeyArgs) -> anyhow::Result<ExitCode> {
    let pair = KeyPair::generate()?;
    let what = match &args.name {
        Some(name) => format!("faas worker {name}"),
        None => "faas worker".to_string(),
    };
    match args.out {
        None => print!("{}", pair.to_file(&what)),
        Some(path) => {
            if !write_new_private(&path, &pair.to_file(&what))? {
                bail!("{} exists; not overwriting it", path.display());
            }
            println!("{}", pair.public);
            eprintln!(
                "wrote {}. Allow the worker on the dispatcher's host:\n  echo '{} # {}' >> {}\n\
                 and start it with: faas worker push|pull SLOTS tcp://HOST:PORT --key-file {} --server-key <the dispatcher's public key>",
                path.display(),
                pair.public,
                args.name.as_deref().unwrap_or("worker"),
                faas_client::credentials::config_dir()
                    .join(crate::port_keys::ALLOW_LIST)
                    .display(),
                path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn keys_table(keys: &[KeyRow], now_ms: u64) -> String {
    if keys.is_empty() {
        return "no keys\n".to_string();
    }
    let tenant_width = column_width("TENANT", keys.iter().map(|k| k.tenant.as_str()));
    let mut out = format!(
        "{:<17}  {:<tenant_width$}  {:<5}  {:>7}  {:>9}\n",
        "PREFIX", "TENANT", "ADMIN", "CREATED", "LAST USED"
    );
    for k in keys {
        out.push_str(&format!(
            "{:<17}  {:<tenant_width$}  {:<5}  {:>7}  {:>9}\n",
            k.prefix,
            k.tenant,
            if k.admin { "yes" } else { "no" },
            age_text(k.created_at_ms, now_ms),
            age_text(k.last_used_ms.unwrap_or(0), now_ms),
        ));
    }
    out
}
