//! Byte budgets of the worker port's batches: how many tasks go in one
//! `TASKS`, how many results in one `RESULTS` or `PULL`, measured in the
//! bytes they add to the message, so that no batch is over the body cap
//! ([`MAX_BODY_BYTES`]) and dropped as malformed.
//!
//! Sizes are computed from the values, not by serialising them: a walk
//! over a JSON value that counts what `serde_json` would write (escapes
//! included) costs a fraction of writing it, and the message is still
//! serialised exactly once, when it is sent.

use crate::{ResultMessage, TaskMessage, MAX_BODY_BYTES, MAX_MESSAGE_BYTES};
use serde_json::{Number, Value};

/// Bytes of items (task entries and the module frames that ride with
/// them, or results) one message is filled to; the next item that would
/// pass it goes in the next message. A quarter of the 16 MiB body cap: a
/// batch of small items is never near the cap, the rest of the body (at
/// least 12 MiB) is room for everything else in it (a `PULL`'s `running`
/// list of a few thousand task refs is well under 1 MiB), and a worker on
/// a slow link is not held up behind one huge message. Hundreds of no-op
/// tasks (about 300 bytes each) still go in one message.
pub const BATCH_BUDGET: usize = 4 * 1024 * 1024;

/// The largest one task entry or one result may be: it goes alone in its
/// message, over [`BATCH_BUDGET`] if it must, but the body keeps
/// [`BATCH_BUDGET`] of room for the rest of it. A task or result over this
/// can never be sent: its task fails with [`TOO_LARGE`].
pub const MAX_ITEM_BYTES: usize = MAX_BODY_BYTES - BATCH_BUDGET;

/// The largest module frame (a frame over `ZMQ_MAXMSGSIZE` is refused by
/// the receiving socket). Registration caps modules at most at it (64 MiB
/// by default).
pub const MAX_MODULE_FRAME_BYTES: usize = MAX_MESSAGE_BYTES;

/// The failure kind of a task whose payload or result cannot be sent over
/// the worker port.
pub const TOO_LARGE: &str = "too_large";

/// The message of a [`TOO_LARGE`] failure: `what` (its payload, its
/// result) is `bytes` long as JSON, over [`MAX_ITEM_BYTES`].
pub fn too_large(what: &str, bytes: usize) -> String {
    format!(
        "too large for the worker port: {what} is {bytes} bytes as JSON, and one task's \
         message may be at most {MAX_ITEM_BYTES} bytes ({} MiB); run it in local mode, or send less",
        MAX_ITEM_BYTES / (1024 * 1024)
    )
}

/// Fills one message: items are taken while they fit in
/// [`BATCH_BUDGET`]; the first is always taken (it is checked against
/// [`MAX_ITEM_BYTES`] before).
#[derive(Debug, Default, Clone, Copy)]
pub struct Budget {
    bytes: usize,
    items: usize,
}

impl Budget {
    /// Whether an item of `bytes` goes in this message.
    pub fn fits(&self, bytes: usize) -> bool {
        self.items == 0 || self.bytes.saturating_add(bytes) <= BATCH_BUDGET
    }

    /// Counts an item of `bytes` in.
    pub fn take(&mut self, bytes: usize) {
        self.bytes = self.bytes.saturating_add(bytes);
        self.items += 1;
    }

    pub fn items(&self) -> usize {
        self.items
    }
}

/// Bytes of a task's fields other than its payload and strings: the keys,
/// punctuation, two UUIDs, the attempt and the separating comma (counted
/// generously; the unit tests check it is never short).
const TASK_FIXED: usize = 192;
/// The same for a result without its value and strings.
const RESULT_FIXED: usize = 128;

impl TaskMessage {
    /// At least the bytes this task adds to a `TASK` or `TASKS` body,
    /// computed without serialising it.
    pub fn wire_size(&self) -> usize {
        TASK_FIXED
            + string_len(&self.task.receipt)
            + string_len(&self.function.name)
            + string_len(&self.function.entry)
            + string_len(&self.function.module_hash)
            + json_len(&self.payload)
    }
}

impl ResultMessage {
    /// At least the bytes this result adds to a `RESULT`, `RESULTS` or
    /// `PULL` body, computed without serialising it.
    pub fn wire_size(&self) -> usize {
        RESULT_FIXED
            + string_len(&self.task.receipt)
            + string_len(&self.status)
            + self.kind.as_deref().map_or(0, string_len)
            + json_len(&self.result)
            + if self.logs.is_empty() {
                0
            } else {
                10 + string_len(&self.logs)
            }
            + self
                .usage
                .as_ref()
                .map_or(0, |u| USAGE_FIXED + string_len(&u.executor))
            + self.held_us.map_or(0, |_| HELD_FIXED)
    }
}

/// `,"held_us":` and a number of at most 20 digits.
const HELD_FIXED: usize = 32;

/// A usage's bytes but its executor's name: the field names and four
/// numbers of at most 20 digits.
const USAGE_FIXED: usize = 160;

/// The length of `value` as compact JSON (`serde_json::to_vec`), counted
/// without writing it.
pub fn json_len(value: &Value) -> usize {
    match value {
        Value::Null => 4,
        Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        Value::Number(n) => number_len(n),
        Value::String(s) => string_len(s),
        Value::Array(items) => {
            2 + items.len().saturating_sub(1) + items.iter().map(json_len).sum::<usize>()
        }
        Value::Object(map) => {
            2 + map.len().saturating_sub(1)
                + map
                    .iter()
                    .map(|(k, v)| string_len(k) + 1 + json_len(v))
                    .sum::<usize>()
        }
    }
}

/// A string's length as a JSON string: quotes, and the escapes
/// `serde_json` writes (`\"`, `\\`, `\n` and the like, `\u00XX` for other
/// control characters).
fn string_len(s: &str) -> usize {
    2 + s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0x00..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

fn number_len(n: &Number) -> usize {
    if let Some(u) = n.as_u64() {
        digits(u)
    } else if let Some(i) = n.as_i64() {
        1 + digits(i.unsigned_abs())
    } else {
        // A float: its shortest form, as serde_json writes it, counted
        // by a writer that keeps nothing.
        let mut counter = Counter(0);
        let _ = std::fmt::Write::write_fmt(&mut counter, format_args!("{n}"));
        counter.0
    }
}

fn digits(mut n: u64) -> usize {
    let mut count = 1;
    while n >= 10 {
        n /= 10;
        count += 1;
    }
    count
}

struct Counter(usize);

impl std::fmt::Write for Counter {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FunctionInfo, TaskRef, TasksReply};
    use serde_json::json;
    use uuid::Uuid;

    fn samples() -> Vec<Value> {
        vec![
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(7),
            json!(-1),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1.5),
            json!(-0.000123),
            json!(1e300),
            json!(f64::MIN_POSITIVE),
            json!(""),
            json!("plain"),
            json!("quote \" backslash \\ newline \n tab \t cr \r bell \u{7} nul \u{0} del \u{7f}"),
            json!("non-ascii: é ✓ 🦀 \u{2028}"),
            json!([]),
            json!([1, [2, [3, []]], {"a": "b"}]),
            json!({}),
            json!({"k\"ey": [1.25, null, {"x": "\u{1f}"}], "second": false}),
        ]
    }

    #[test]
    fn json_len_is_what_serde_json_writes() {
        for value in samples() {
            let written = serde_json::to_vec(&value).unwrap().len();
            assert_eq!(json_len(&value), written, "{value}");
        }
    }

    fn task(payload: Value, receipt: &str) -> TaskMessage {
        TaskMessage {
            task: TaskRef {
                task_id: Uuid::new_v4(),
                attempt: u32::MAX,
                receipt: receipt.into(),
            },
            function_id: Uuid::new_v4(),
            function: FunctionInfo {
                name: "a \"name\"".into(),
                entry: "_start".into(),
                module_hash: "ab".repeat(32),
            },
            payload,
        }
    }

    #[test]
    fn task_and_result_sizes_cover_their_share_of_a_body() {
        for payload in samples() {
            let t = task(payload.clone(), "1700000000000-123.0123456789abcdef");
            // One entry, and its share of a TASKS body with two.
            let alone = serde_json::to_vec(&t).unwrap().len();
            assert!(t.wire_size() >= alone, "{payload}");
            let empty = crate::DispatcherMessage::Tasks(TasksReply::default()).encode()[2].len();
            let two = crate::DispatcherMessage::Tasks(TasksReply {
                tasks: vec![t.clone(), t.clone()],
                ..TasksReply::default()
            })
            .encode()[2]
                .len();
            assert!(2 * t.wire_size() >= two - empty, "{payload}");
            assert!(
                t.wire_size() <= alone + TASK_FIXED,
                "not wildly over: {payload}"
            );
            let r = ResultMessage {
                task: t.task.clone(),
                status: "FAILED".into(),
                result: payload.clone(),
                kind: Some("output_too_large".into()),
                logs: String::new(),
                usage: None,
                held_us: None,
            };
            let alone = serde_json::to_vec(&r).unwrap().len();
            assert!(r.wire_size() > alone, "{payload}");
            // With a log and the largest usage numbers.
            let r = ResultMessage {
                logs: "a line\n\u{1}\"quoted\"\n".repeat(50),
                usage: Some(crate::Usage {
                    run_us: u64::MAX,
                    peak_memory_bytes: u64::MAX,
                    output_bytes: u64::MAX,
                    log_bytes: u64::MAX,
                    executor: "slot \"0\"".into(),
                }),
                held_us: Some(u64::MAX),
                ..r
            };
            let alone = serde_json::to_vec(&r).unwrap().len();
            assert!(r.wire_size() > alone, "{payload}");
        }
    }

    #[test]
    fn a_budget_takes_the_first_item_whatever_its_size_then_what_fits() {
        let mut b = Budget::default();
        assert!(b.fits(MAX_ITEM_BYTES));
        b.take(BATCH_BUDGET / 2);
        assert!(b.fits(BATCH_BUDGET / 2));
        b.take(BATCH_BUDGET / 2);
        assert!(!b.fits(1));
        assert_eq!(b.items(), 2);
        let mut b = Budget::default();
        b.take(BATCH_BUDGET + 1);
        assert!(!b.fits(1), "an item over the budget goes alone");
    }
}
