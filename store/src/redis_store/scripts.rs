//! The Redis store's Lua scripts: their texts (one file each in `src/lua/`,
//! each opening with what it reads, writes and returns), how a script is
//! put together from them, and the `Script` objects the store invokes.
//!
//! A script is the flags line (if it may run at `maxmemory`), a prelude
//! (`P`, the key prefix, is KEYS[1]; `CLUSTER`, whether the keys live on
//! Redis Cluster), the shared functions it calls (quota.lua, retire.lua,
//! tally.lua), then its own file.

use crate::layout::Layout;
use faas_contract::STATS_RETENTION_SECONDS;
use redis::Script;

/// The store's scripts, made once per store for its layout.
pub(super) struct Scripts {
    pub submit: Script,
    pub admit: Script,
    pub put_function: Script,
    pub delete_function: Script,
    pub put_key: Script,
    pub touch_keys: Script,
    pub claim: Script,
    pub finish: Script,
    pub sweep: Script,
    pub renew: Script,
    pub release: Script,
    pub cancel: Script,
    pub trim: Script,
    pub unread: Script,
}

impl Scripts {
    pub fn new(layout: &Layout) -> Scripts {
        let tally = tally_lua();
        Scripts {
            submit: script(layout, false, &[QUOTA_LUA, &tally, SUBMIT_LUA]),
            admit: script(layout, false, &[QUOTA_LUA, ADMIT_LUA]),
            put_function: script(layout, false, &[PUT_FUNCTION_LUA]),
            delete_function: script(layout, true, &[DELETE_FUNCTION_LUA]),
            put_key: script(layout, false, &[PUT_KEY_LUA]),
            touch_keys: script(layout, false, &[TOUCH_KEYS_LUA]),
            claim: script(layout, true, &[RETIRE_LUA, &tally, CLAIM_LUA]),
            finish: script(layout, true, &[RETIRE_LUA, &tally, FINISH_LUA]),
            sweep: script(layout, true, &[SWEEP_LUA]),
            renew: script(layout, true, &[RENEW_LUA]),
            release: script(layout, true, &[RETIRE_LUA, &tally, RELEASE_LUA]),
            cancel: script(layout, true, &[RETIRE_LUA, &tally, CANCEL_LUA]),
            trim: script(layout, true, &[TRIM_LUA]),
            unread: script(layout, false, &[UNREAD_LUA]),
        }
    }
}

/// A script's text: the Redis 7 flags line if `allow_oom`, then what every
/// script starts with (`P`, the prefix of the keys it touches, is KEYS[1],
/// which also routes it to its shard on Redis Cluster), then `parts`.
fn script(layout: &Layout, allow_oom: bool, parts: &[&str]) -> Script {
    let mut text = String::new();
    if allow_oom {
        text.push_str(ALLOW_OOM);
    }
    text.push_str(&format!(
        "local P = KEYS[1]\nlocal CLUSTER = {}\n",
        layout.is_cluster()
    ));
    for part in parts {
        text.push_str(part);
    }
    Script::new(&text)
}

const SUBMIT_LUA: &str = include_str!("../lua/submit.lua");

/// A tenant's quotas (the function `admit`), shared by SUBMIT_LUA (one
/// Redis) and ADMIT_LUA (Redis Cluster).
const QUOTA_LUA: &str = include_str!("../lua/quota.lua");

/// Redis Cluster: a submission's checks, on the shared keys, before its
/// tasks are written to their partitions. The tenant's active tasks and
/// the queue's length are summed over the partitions by the caller just
/// before: submissions of one tenant racing each other may together go
/// past `max_active_tasks` by what they ask between that read and this
/// script (the rate and the function's existence are checked atomically).
const ADMIT_LUA: &str = include_str!("../lua/admit.lua");

const PUT_FUNCTION_LUA: &str = include_str!("../lua/put_function.lua");

/// Deletes a function (see `Store::delete_function`).
const DELETE_FUNCTION_LUA: &str = include_str!("../lua/delete_function.lua");

const PUT_KEY_LUA: &str = include_str!("../lua/put_key.lua");

const TOUCH_KEYS_LUA: &str = include_str!("../lua/touch_keys.lua");

/// The first line of the scripts that move tasks already accepted along
/// (claim, renew, finish, release, cancel) or free memory (sweep, trim,
/// delete a function): they run even when Redis is at `maxmemory` with
/// `noeviction`, where a submission is refused (Redis 7's script flags).
const ALLOW_OOM: &str = "#!lua flags=allow-oom\n";

/// Ending a task's record, shared by the scripts that write a final state.
/// A key with an expiry costs Redis on every access to it (HMGET of a
/// finished task was half again as slow with 24 h PEXPIREs, and Redis
/// spent 15-25% more CPU per task), so a record is instead listed under
/// the second its retention ends, `faas:expiring:<second>` (the seconds in
/// the sorted set `faas:expiring`; one such index per partition on Redis
/// Cluster), and deleted by SWEEP_LUA, which the dispatchers run every
/// second.
const RETIRE_LUA: &str = include_str!("../lua/retire.lua");

/// Counts for `GET /stats` (see `throughput.rs`): a hash per second,
/// `s` submitted, `c` completed, `f` failed, `l0`..`l15` ended by latency
/// bucket (and `count_failure`, a function's failures). Its expiry is a
/// placeholder, `STATS_RETENTION`, replaced by `tally_lua`.
const TALLY_LUA: &str = include_str!("../lua/tally.lua");

/// TALLY_LUA with the stats retention (seconds) in place of its placeholder.
fn tally_lua() -> String {
    TALLY_LUA.replace("STATS_RETENTION", &STATS_RETENTION_SECONDS.to_string())
}

/// Deletes the records whose retention has ended (see RETIRE_LUA).
const SWEEP_LUA: &str = include_str!("../lua/sweep.lua");

const CLAIM_LUA: &str = include_str!("../lua/claim.lua");

const FINISH_LUA: &str = include_str!("../lua/finish.lua");

const RENEW_LUA: &str = include_str!("../lua/renew.lua");

const RELEASE_LUA: &str = include_str!("../lua/release.lua");

/// Cancels tasks (see `Store::cancel_many`). A queued task whose entry no
/// dispatcher has read is ended here and its entry deleted, so it is never
/// delivered; a running one is ended here too (its attempt's result, when
/// it comes, finds it FAILED and is dropped). A queued task whose entry a
/// dispatcher has read but not yet marked RUNNING cannot be ended here:
/// that claim's plain HSET (no script, see `claim_fresh`) would overwrite
/// the final state. It is flagged instead (`cancel`), and whichever script
/// ends it next (finish, claim, release) ends it as cancelled.
const CANCEL_LUA: &str = include_str!("../lua/cancel.lua");

/// Counts a stream's entries after an id, without sending them.
const UNREAD_LUA: &str = include_str!("../lua/unread.lua");

const TRIM_LUA: &str = include_str!("../lua/trim.lua");

#[cfg(test)]
mod tests {
    use super::*;

    const PARTS: [(&str, &str); 17] = [
        ("submit", SUBMIT_LUA),
        ("quota", QUOTA_LUA),
        ("admit", ADMIT_LUA),
        ("put_function", PUT_FUNCTION_LUA),
        ("delete_function", DELETE_FUNCTION_LUA),
        ("put_key", PUT_KEY_LUA),
        ("touch_keys", TOUCH_KEYS_LUA),
        ("retire", RETIRE_LUA),
        ("tally", TALLY_LUA),
        ("sweep", SWEEP_LUA),
        ("claim", CLAIM_LUA),
        ("finish", FINISH_LUA),
        ("renew", RENEW_LUA),
        ("release", RELEASE_LUA),
        ("cancel", CANCEL_LUA),
        ("unread", UNREAD_LUA),
        ("trim", TRIM_LUA),
    ];

    /// Parts are joined as they are: each must end its last line, or the
    /// next part's first line would run on from it (into a comment, say).
    #[test]
    fn every_part_ends_its_last_line_and_opens_with_its_header() {
        for (name, text) in PARTS {
            assert!(text.ends_with('\n'), "{name}.lua must end with a newline");
            assert!(
                text.starts_with(&format!("-- {name}.lua: ")),
                "{name}.lua must open with its header"
            );
            assert!(
                !text.lines().any(|line| line.starts_with("#!")),
                "{name}.lua: a flags line must come first, from `script`"
            );
        }
    }

    #[test]
    fn the_stats_retention_is_filled_in() {
        let tally = tally_lua();
        assert!(!tally.contains("STATS_RETENTION"));
        assert!(tally.contains(&format!("'EXPIRE', key, {STATS_RETENTION_SECONDS})")));
        assert_eq!(TALLY_LUA.matches("STATS_RETENTION").count(), 1);
    }
}
