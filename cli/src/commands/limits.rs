//! `faas limits TENANT`: a tenant's limits and usage, or set some of its
//! limits (needs an admin key).

use std::process::ExitCode;

use anyhow::Context;
use faas_contract::LimitOverrides;

use crate::connection::Connection;
use crate::output::print_stdout;

/// `faas limits TENANT [--max-active-tasks N] ...`: shows a tenant's
/// limits and usage, or sets some of its limits (needs an admin key).
#[derive(clap::Args, Debug)]
pub struct LimitsArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// The tenant
    pub tenant: String,
    /// Most of its tasks queued or running at once
    #[arg(long)]
    pub max_active_tasks: Option<u64>,
    /// Tasks it may submit per second, sustained (0: no limit)
    #[arg(long)]
    pub submit_rate: Option<u64>,
    /// Tasks it may submit at once after a quiet spell
    #[arg(long)]
    pub submit_burst: Option<u64>,
    /// Module bytes it may register in all
    #[arg(long)]
    pub max_module_bytes: Option<u64>,
}

pub async fn limits(args: LimitsArgs) -> anyhow::Result<ExitCode> {
    let client = args.conn.client()?;
    let set = LimitOverrides {
        max_active_tasks: args.max_active_tasks,
        submit_rate: args.submit_rate,
        submit_burst: args.submit_burst,
        max_module_bytes: args.max_module_bytes,
    };
    let info = if set == LimitOverrides::default() {
        client.tenant(&args.tenant).await
    } else {
        client.set_limits(&args.tenant, &set).await
    }
    .with_context(|| format!("tenant {}", args.tenant))?;
    let out = if args.conn.json {
        format!("{}\n", serde_json::to_string(&info)?)
    } else {
        let limits = &info.limits;
        format!(
            "tenant {}\n  active tasks      {} of {}\n  module bytes      {} of {}\n  submit rate       {}/s (burst {})\n",
            args.tenant,
            info.active_tasks,
            limits.max_active_tasks,
            info.module_bytes,
            limits.max_module_bytes,
            limits.submit_rate,
            limits.submit_burst,
        )
    };
    print_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}
