//! `faas dashboard`: the address of the server's web dashboard, with this
//! machine's key for it in the fragment (`/ui#token=...`), which a browser
//! never sends to a server; the page keeps it in that tab and takes it out
//! of the address.

use crate::connection::Connection;
use crate::output::print_stdout;
use std::process::ExitCode;

#[derive(clap::Args, Debug, Clone)]
pub struct DashboardArgs {
    #[command(flatten)]
    pub conn: Connection,
}

pub fn dashboard(args: DashboardArgs) -> anyhow::Result<ExitCode> {
    let base = args.conn.url.trim_end_matches('/');
    let url = match args.conn.key() {
        Some(key) => format!("{base}/ui#token={key}"),
        None => format!("{base}/ui"),
    };
    print_stdout(&format!("{url}\n"))?;
    Ok(ExitCode::SUCCESS)
}
