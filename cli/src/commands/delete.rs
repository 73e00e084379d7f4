//! `faas delete FUNCTION...`: delete functions. Their tasks already
//! running finish; queued ones end FAILED (`missing_function`).

use crate::connection::Connection;
use crate::output::print_stdout;
use anyhow::Context;
use faas_client::ClientError;
use serde_json::json;
use std::process::ExitCode;
use uuid::Uuid;

#[derive(clap::Args, Debug, Clone)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub conn: Connection,

    /// Function ids, as printed by `faas deploy` or `faas functions`
    #[arg(required = true)]
    pub functions: Vec<Uuid>,
}

/// Deletes each function in turn and prints what became of it; exit code
/// 0 only if every one was deleted.
pub async fn delete(args: DeleteArgs) -> anyhow::Result<ExitCode> {
    let client = args.conn.client()?;
    let mut out = String::new();
    let mut deleted = Vec::new();
    for &id in &args.functions {
        match client.delete_function(id).await {
            Ok(_) => {
                deleted.push(id);
                out.push_str(&format!("{id} deleted\n"));
            }
            Err(ClientError::Http { status: 404, .. }) => {
                out.push_str(&format!("{id} not found\n"))
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot delete function {id}"));
            }
        }
    }
    if args.conn.json {
        out = format!("{}\n", json!({ "deleted": deleted }));
    }
    print_stdout(&out)?;
    Ok(if deleted.len() == args.functions.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
