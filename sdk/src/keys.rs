//! `faas keys`: key management. `faas keys worker` makes a CURVE key pair
//! for a worker (the worker port's keys, see `port_keys.rs`).

use crate::port_keys::write_new_private;
use anyhow::bail;
use faas_protocol::curve::KeyPair;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum KeysCommand {
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

pub async fn keys(command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Worker(args) => worker(args),
    }
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
                crate::credentials::config_dir()
                    .join(crate::port_keys::ALLOW_LIST)
                    .display(),
                path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
