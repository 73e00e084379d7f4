//! The listings' cells and flags: ages, sizes and durations read short,
//! column widths, and the `--limit` and `--status` parsers
//! (`faas functions`, `faas tasks`, `faas keys`).

use faas_client::TaskStatus;

/// Most rows the server returns for one listing.
const MAX_LIMIT: usize = 1000;

/// `850us`, `12.3ms`, `4.1s`.
pub fn duration_text(us: u64) -> String {
    match us {
        0..1_000 => format!("{us}us"),
        1_000..1_000_000 => format!("{:.1}ms", us as f64 / 1e3),
        _ => format!("{:.1}s", us as f64 / 1e6),
    }
}

/// The width of a column: its longest cell or its header.
pub fn column_width<'a>(header: &str, cells: impl Iterator<Item = &'a str>) -> usize {
    cells
        .map(|c| c.chars().count())
        .chain([header.len()])
        .max()
        .unwrap_or(0)
}

/// `512 B`, `40.2 KiB`, `3.1 MiB`.
pub fn size_text(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{:.1} MiB", b / (KIB * KIB))
    }
}

/// How long ago: `5s`, `12m`, `3h`, `2d` (`-` when the time is unknown).
pub fn age_text(then_ms: u64, now_ms: u64) -> String {
    if then_ms == 0 {
        return "-".to_string();
    }
    let secs = now_ms.saturating_sub(then_ms) / 1000;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// clap parser for `--limit`: 1 to 1000.
pub fn parse_limit(s: &str) -> Result<usize, String> {
    s.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| format!("`{s}` is not a number from 1 to {MAX_LIMIT}"))
}

/// clap parser for `--status`: a status word in any case.
pub fn parse_status(s: &str) -> Result<TaskStatus, String> {
    TaskStatus::parse(&s.trim().to_ascii_uppercase())
        .ok_or_else(|| format!("`{s}` is not a status; use queued, running, completed or failed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_statuses_parse() {
        assert_eq!(parse_limit("1"), Ok(1));
        assert_eq!(parse_limit(" 1000 "), Ok(1000));
        for bad in ["0", "1001", "-1", "x", ""] {
            assert!(parse_limit(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_status("failed"), Ok(TaskStatus::Failed));
        assert_eq!(parse_status("QUEUED"), Ok(TaskStatus::Queued));
        let err = parse_status("done").expect_err("not a status");
        assert!(err.contains("completed"), "{err}");
    }

    #[test]
    fn ages_and_sizes_read_short() {
        let now = 10_000_000_000;
        assert_eq!(age_text(now - 5_000, now), "5s");
        assert_eq!(age_text(now - 120_000, now), "2m");
        assert_eq!(age_text(now - 7_200_000, now), "2h");
        assert_eq!(age_text(now - 3 * 86_400_000, now), "3d");
        assert_eq!(age_text(now + 5_000, now), "0s");
        assert_eq!(age_text(0, now), "-");
        assert_eq!(size_text(41), "41 B");
        assert_eq!(size_text(2048), "2.0 KiB");
        assert_eq!(size_text(3 * 1024 * 1024), "3.0 MiB");
    }
}
