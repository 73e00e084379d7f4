//! `faas functions`: the registered functions, newest first, as a table or
//! the server's JSON.

use std::process::ExitCode;

use anyhow::Context;
use faas_client::FunctionInfo;
use serde_json::json;

use crate::connection::Connection;
use crate::output::print_stdout;
use crate::table::{age_text, column_width, now_ms, parse_limit, size_text};

/// `faas functions`: registered functions, newest first.
#[derive(clap::Args, Debug, Clone)]
pub struct FunctionsArgs {
    #[command(flatten)]
    pub conn: Connection,

    /// Show at most this many (1 to 1000) [default: 100]
    #[arg(long, short = 'n', value_parser = parse_limit)]
    pub limit: Option<usize>,
}

/// Prints the functions table (or, with --json, the server's `{"functions": [...]}`).
pub async fn functions(args: FunctionsArgs) -> anyhow::Result<ExitCode> {
    let client = args.conn.client()?;
    let functions = client
        .functions(args.limit)
        .await
        .context("cannot list functions")?;
    let out = if args.conn.json {
        format!("{}\n", json!({ "functions": functions }))
    } else {
        functions_table(&functions, now_ms())
    };
    print_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}

fn functions_table(functions: &[FunctionInfo], now_ms: u64) -> String {
    if functions.is_empty() {
        return "no functions\n".to_string();
    }
    let name_width = column_width("NAME", functions.iter().map(|f| f.name.as_str()));
    let entry_width = column_width("ENTRY", functions.iter().map(|f| f.entry.as_str()));
    let mut text = format!(
        "{:<36}  {:<name_width$}  {:<entry_width$}  {:>9}  {:>5}\n",
        "FUNCTION ID", "NAME", "ENTRY", "SIZE", "AGE"
    );
    for f in functions {
        text.push_str(&format!(
            "{:<36}  {:<name_width$}  {:<entry_width$}  {:>9}  {:>5}\n",
            f.function_id,
            f.name,
            f.entry,
            size_text(f.module_size),
            age_text(f.created_at_ms, now_ms)
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn tables_align_on_the_longest_cell() {
        let f = |name: &str| FunctionInfo {
            function_id: Uuid::nil(),
            name: name.into(),
            entry: "add".into(),
            module_hash: String::new(),
            module_size: 41,
            created_at_ms: 1_000,
            tenant: "t".into(),
            kind: "typed".into(),
            invocations: 0,
            failures: 0,
        };
        let table = functions_table(&[f("add"), f("a-longer-name")], 6_000);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("FUNCTION ID"), "{table}");
        assert!(lines[2].contains("a-longer-name  add"), "{table}");
        assert!(lines[1].contains("add            add"), "{table}");
        assert!(lines[1].ends_with("41 B     5s"), "{table}");
        assert_eq!(functions_table(&[], 0), "no functions\n");
    }
}
