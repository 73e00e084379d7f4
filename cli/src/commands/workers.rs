//! `faas workers`: the live workers of every dispatcher.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;

use crate::connection::Connection;
use crate::output::print_stdout;

#[derive(clap::Args, Debug)]
pub struct WorkersArgs {
    #[command(flatten)]
    pub conn: Connection,
}

pub async fn workers(args: WorkersArgs) -> anyhow::Result<ExitCode> {
    let client = args.conn.client()?;
    let workers = client.workers().await.context("cannot list workers")?;
    let out = if args.conn.json {
        format!("{}\n", json!({ "workers": workers }))
    } else if workers.is_empty() {
        "no live workers\n".to_string()
    } else {
        let mut text = format!(
            "{:<40} {:<6} {:>5} {:>7} {:>14}\n",
            "WORKER", "MODE", "SLOTS", "RUNNING", "LAST HEARTBEAT"
        );
        for w in &workers {
            text.push_str(&format!(
                "{:<40} {:<6} {:>5} {:>7} {:>11} ms\n",
                w.name, w.mode, w.slots, w.running, w.last_heartbeat_ms_ago
            ));
        }
        text
    };
    print_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}
