//! The `faas/1` wire protocol between a dispatcher and its workers: the
//! message types and their framing into ZeroMQ multipart messages
//! (`docs/protocol.md` is the specification).
//!
//! This crate only encodes and decodes, messages and (in [`curve`]) the
//! worker port's CURVE keys and key files' text. It owns no sockets or
//! files and must not trust its input: every malformed message is a
//! `ProtocolError`, every malformed key a `KeyError`, never a panic.

pub mod budget;
pub mod curve;
pub mod pace;

/// What a run used, as the REST API shows it.
pub use faas_contract::Usage;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Frame 0 of every message.
pub const TAG: &[u8] = b"faas/1";
/// Cap on a whole message, set as `ZMQ_MAXMSGSIZE` on every socket.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// Cap on a worker's id and name in a `PULL`.
pub const MAX_NAME_BYTES: usize = 255;
/// Cap on the JSON body frame.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// One attempt of one task, echoed back unchanged by workers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TaskRef {
    pub task_id: Uuid,
    pub attempt: u32,
    pub receipt: String,
}

/// What a worker needs to load a function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionInfo {
    pub name: String,
    pub entry: String,
    pub module_hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskMessage {
    #[serde(flatten)]
    pub task: TaskRef,
    pub function_id: Uuid,
    pub function: FunctionInfo,
    pub payload: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultMessage {
    #[serde(flatten)]
    pub task: TaskRef,
    /// "COMPLETED" or "FAILED".
    pub status: String,
    pub result: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// What the guest logged (the last bytes, up to the worker's cap).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub logs: String,
    /// What the run used; absent for a task that did not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Microseconds from the task's arrival at the worker to its result:
    /// the dispatcher takes it from the time since it sent the task to
    /// learn the link's round trip, and holds that much more work ahead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_us: Option<u64>,
}

/// Messages a worker sends.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerMessage {
    Register {
        worker: String,
        slots: u32,
        running: Vec<TaskRef>,
        /// Push mode: it takes `TASKS` (many tasks in one message).
        batch: bool,
    },
    Heartbeat {
        running: u32,
    },
    Result(ResultMessage),
    /// Push mode: many results in one message, sent only to a dispatcher
    /// whose `WELCOME` said `batch`.
    Results(Vec<ResultMessage>),
    NeedModule {
        task: TaskRef,
        function_id: Uuid,
    },
    Bye {
        returned: Vec<TaskRef>,
    },
    /// Pull mode's one request: answered with exactly one `TASKS` (or
    /// `ERROR`).
    Pull(PullRequest),
}

/// Messages a dispatcher sends.
#[derive(Debug, Clone, PartialEq)]
pub enum DispatcherMessage {
    /// `batch`: the dispatcher takes `RESULTS`.
    Welcome {
        heartbeat_ms: u64,
        batch: bool,
    },
    Task {
        task: TaskMessage,
        module: Option<Vec<u8>>,
    },
    Reregister,
    /// Pull mode's answer to a `PULL`; in push mode, many tasks at once to
    /// a worker that registered with `batch`.
    Tasks(TasksReply),
    /// Pull mode's answer to a request it could not read, so that a REQ
    /// peer is not left waiting.
    Error {
        message: String,
    },
    /// Push mode: these tasks were cancelled; stop them and report each
    /// (a `RESULT` failing it as cancelled) as if it had ended.
    Cancel {
        tasks: Vec<TaskRef>,
    },
}

/// A pull worker's request: results to record, tasks it wants, and what
/// it holds. Every field but `worker` has a default, so the smallest
/// request is `{"worker": "w1", "free": 1}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PullRequest {
    /// Unique per worker process; the dispatcher keys its state on it.
    pub worker: String,
    /// For logs and `GET /workers`; defaults to `worker`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Slots of the worker (for `GET /workers`); at least `free`.
    #[serde(default)]
    pub slots: u32,
    /// Tasks it wants now (0: a report or heartbeat, answered at once).
    #[serde(default)]
    pub free: u32,
    /// Echoed in the answer.
    #[serde(default)]
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<ResultMessage>,
    /// Every task the worker holds, when present (at least once per
    /// heartbeat interval); absent means "not listed this time".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<Vec<TaskRef>>,
    /// Functions whose module the worker lacks, for tasks it holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub need_modules: Vec<Uuid>,
    /// Tasks it received but will not start (it is stopping).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub returned: Vec<TaskRef>,
    /// The worker is stopping: it asks for nothing more.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bye: bool,
}

/// The answer to a `PULL`: tasks (maybe none) and modules, one extra frame
/// per entry of `modules`, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TasksReply {
    pub seq: u64,
    pub tasks: Vec<TaskMessage>,
    pub modules: Vec<(Uuid, Vec<u8>)>,
    /// Longest gap between a worker's requests before it is declared dead
    /// is a few of these.
    pub heartbeat_ms: u64,
    /// Longest the dispatcher holds a `PULL` that finds no work.
    pub hold_ms: u64,
    /// Tasks the worker holds that were cancelled, as in `CANCEL`.
    pub cancel: Vec<TaskRef>,
}

#[derive(Serialize, Deserialize)]
struct TasksBody {
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    tasks: Vec<TaskMessage>,
    /// Function ids of the module frames 3, 4, ...
    #[serde(default)]
    modules: Vec<Uuid>,
    #[serde(default)]
    heartbeat_ms: u64,
    #[serde(default)]
    hold_ms: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    cancel: Vec<TaskRef>,
}

#[derive(Serialize, Deserialize)]
struct CancelBody {
    tasks: Vec<TaskRef>,
}

#[derive(Serialize, Deserialize)]
struct ErrorBody {
    message: String,
}

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("expected 3 or 4 frames (TASKS: 3 or more), got {0}")]
    FrameCount(usize),
    #[error("TASKS lists {listed} modules but carries {frames} module frames")]
    ModuleFrames { listed: usize, frames: usize },
    #[error("not a faas/1 message (tag {0:?})")]
    Tag(String),
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    #[error("bad {kind} body: {reason}")]
    Body { kind: &'static str, reason: String },
    #[error("{0} does not carry a module frame")]
    UnexpectedModule(&'static str),
}

#[derive(Serialize, Deserialize)]
struct RegisterBody {
    worker: String,
    slots: u32,
    #[serde(default)]
    running: Vec<TaskRef>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    batch: bool,
}

#[derive(Serialize, Deserialize)]
struct ResultsBody {
    results: Vec<ResultMessage>,
}

#[derive(Serialize, Deserialize)]
struct HeartbeatBody {
    #[serde(default)]
    running: u32,
}

#[derive(Serialize, Deserialize)]
struct NeedModuleBody {
    #[serde(flatten)]
    task: TaskRef,
    function_id: Uuid,
}

#[derive(Serialize, Deserialize)]
struct ByeBody {
    #[serde(default)]
    returned: Vec<TaskRef>,
}

#[derive(Serialize, Deserialize)]
struct WelcomeBody {
    heartbeat_ms: u64,
    #[serde(default)]
    max_message_bytes: usize,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    batch: bool,
}

fn frames(
    kind: &str,
    body: &impl Serialize,
    extra: impl IntoIterator<Item = Vec<u8>>,
) -> Vec<Vec<u8>> {
    // Serializing these plain structs cannot fail.
    let body = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut out = vec![TAG.to_vec(), kind.as_bytes().to_vec(), body];
    out.extend(extra);
    out
}

impl WorkerMessage {
    pub fn kind(&self) -> &'static str {
        match self {
            WorkerMessage::Register { .. } => "REGISTER",
            WorkerMessage::Heartbeat { .. } => "HEARTBEAT",
            WorkerMessage::Result(_) => "RESULT",
            WorkerMessage::Results(_) => "RESULTS",
            WorkerMessage::NeedModule { .. } => "NEED_MODULE",
            WorkerMessage::Bye { .. } => "BYE",
            WorkerMessage::Pull(_) => "PULL",
        }
    }

    pub fn encode(&self) -> Vec<Vec<u8>> {
        let kind = self.kind();
        match self {
            WorkerMessage::Register {
                worker,
                slots,
                running,
                batch,
            } => frames(
                kind,
                &RegisterBody {
                    worker: worker.clone(),
                    slots: *slots,
                    running: running.clone(),
                    batch: *batch,
                },
                None,
            ),
            WorkerMessage::Heartbeat { running } => {
                frames(kind, &HeartbeatBody { running: *running }, None)
            }
            WorkerMessage::Result(result) => frames(kind, result, None),
            WorkerMessage::Results(results) => frames(
                kind,
                &ResultsBody {
                    results: results.clone(),
                },
                None,
            ),
            WorkerMessage::NeedModule { task, function_id } => frames(
                kind,
                &NeedModuleBody {
                    task: task.clone(),
                    function_id: *function_id,
                },
                None,
            ),
            WorkerMessage::Bye { returned } => frames(
                kind,
                &ByeBody {
                    returned: returned.clone(),
                },
                None,
            ),
            WorkerMessage::Pull(request) => frames(kind, request, None),
        }
    }

    pub fn decode(frames: &[Vec<u8>]) -> Result<Self, ProtocolError> {
        let (kind, body, extra) = split(frames, 4)?;
        if !extra.is_empty() {
            return Err(ProtocolError::UnexpectedModule("a worker message"));
        }
        Ok(match kind {
            "REGISTER" => {
                let b: RegisterBody = parse("REGISTER", body)?;
                WorkerMessage::Register {
                    worker: b.worker,
                    slots: b.slots,
                    running: b.running,
                    batch: b.batch,
                }
            }
            "HEARTBEAT" => WorkerMessage::Heartbeat {
                running: parse::<HeartbeatBody>("HEARTBEAT", body)?.running,
            },
            "RESULT" => WorkerMessage::Result(parse("RESULT", body)?),
            "RESULTS" => WorkerMessage::Results(parse::<ResultsBody>("RESULTS", body)?.results),
            "NEED_MODULE" => {
                let b: NeedModuleBody = parse("NEED_MODULE", body)?;
                WorkerMessage::NeedModule {
                    task: b.task,
                    function_id: b.function_id,
                }
            }
            "BYE" => WorkerMessage::Bye {
                returned: parse::<ByeBody>("BYE", body)?.returned,
            },
            "PULL" => {
                let mut request: PullRequest = parse("PULL", body)?;
                if request.worker.is_empty()
                    || request.worker.len() > MAX_NAME_BYTES
                    || request.name.len() > MAX_NAME_BYTES
                {
                    return Err(ProtocolError::Body {
                        kind: "PULL",
                        reason: format!("`worker` must be 1 to {MAX_NAME_BYTES} bytes, `name` at most {MAX_NAME_BYTES}"),
                    });
                }
                if request.name.is_empty() {
                    request.name = request.worker.clone();
                }
                WorkerMessage::Pull(request)
            }
            other => return Err(ProtocolError::UnknownType(other.to_string())),
        })
    }
}

impl DispatcherMessage {
    pub fn kind(&self) -> &'static str {
        match self {
            DispatcherMessage::Welcome { .. } => "WELCOME",
            DispatcherMessage::Task { .. } => "TASK",
            DispatcherMessage::Reregister => "REREGISTER",
            DispatcherMessage::Tasks(_) => "TASKS",
            DispatcherMessage::Error { .. } => "ERROR",
            DispatcherMessage::Cancel { .. } => "CANCEL",
        }
    }

    pub fn encode(&self) -> Vec<Vec<u8>> {
        let kind = self.kind();
        match self {
            DispatcherMessage::Welcome {
                heartbeat_ms,
                batch,
            } => frames(
                kind,
                &WelcomeBody {
                    heartbeat_ms: *heartbeat_ms,
                    max_message_bytes: MAX_MESSAGE_BYTES,
                    batch: *batch,
                },
                None,
            ),
            DispatcherMessage::Task { task, module } => frames(kind, task, module.clone()),
            DispatcherMessage::Reregister => frames(kind, &serde_json::json!({}), None),
            DispatcherMessage::Tasks(reply) => frames(
                kind,
                &TasksBody {
                    seq: reply.seq,
                    tasks: reply.tasks.clone(),
                    modules: reply.modules.iter().map(|(id, _)| *id).collect(),
                    heartbeat_ms: reply.heartbeat_ms,
                    hold_ms: reply.hold_ms,
                    cancel: reply.cancel.clone(),
                },
                reply.modules.iter().map(|(_, bytes)| bytes.clone()),
            ),
            DispatcherMessage::Error { message } => frames(
                kind,
                &ErrorBody {
                    message: message.clone(),
                },
                None,
            ),
            DispatcherMessage::Cancel { tasks } => frames(
                kind,
                &CancelBody {
                    tasks: tasks.clone(),
                },
                None,
            ),
        }
    }

    pub fn decode(frames: &[Vec<u8>]) -> Result<Self, ProtocolError> {
        if frames.get(1).is_some_and(|kind| kind == b"TASKS") {
            let (_, body, extra) = split(frames, usize::MAX)?;
            let body: TasksBody = parse("TASKS", body)?;
            if body.modules.len() != extra.len() {
                return Err(ProtocolError::ModuleFrames {
                    listed: body.modules.len(),
                    frames: extra.len(),
                });
            }
            return Ok(DispatcherMessage::Tasks(TasksReply {
                seq: body.seq,
                tasks: body.tasks,
                modules: body
                    .modules
                    .into_iter()
                    .zip(extra.iter().cloned())
                    .collect(),
                heartbeat_ms: body.heartbeat_ms,
                hold_ms: body.hold_ms,
                cancel: body.cancel,
            }));
        }
        let (kind, body, extra) = split(frames, 4)?;
        let extra = extra.first().map(Vec::as_slice);
        Ok(match kind {
            "WELCOME" => {
                let b: WelcomeBody = parse("WELCOME", body)?;
                DispatcherMessage::Welcome {
                    heartbeat_ms: b.heartbeat_ms,
                    batch: b.batch,
                }
            }
            "TASK" => DispatcherMessage::Task {
                task: parse("TASK", body)?,
                module: extra.map(<[u8]>::to_vec),
            },
            "REREGISTER" => DispatcherMessage::Reregister,
            "ERROR" => DispatcherMessage::Error {
                message: parse::<ErrorBody>("ERROR", body)?.message,
            },
            "CANCEL" => DispatcherMessage::Cancel {
                tasks: parse::<CancelBody>("CANCEL", body)?.tasks,
            },
            other => return Err(ProtocolError::UnknownType(other.to_string())),
        })
    }
}

/// A message's type, body and extra frames.
type Parts<'a> = (&'a str, &'a [u8], &'a [Vec<u8>]);

/// The parts of a message of 3 to `max_frames` frames.
fn split(frames: &[Vec<u8>], max_frames: usize) -> Result<Parts<'_>, ProtocolError> {
    if frames.len() < 3 || frames.len() > max_frames {
        return Err(ProtocolError::FrameCount(frames.len()));
    }
    if frames[0] != TAG {
        return Err(ProtocolError::Tag(
            String::from_utf8_lossy(&frames[0])
                .chars()
                .take(32)
                .collect(),
        ));
    }
    let kind = std::str::from_utf8(&frames[1]).map_err(|_| {
        ProtocolError::UnknownType(
            String::from_utf8_lossy(&frames[1])
                .chars()
                .take(32)
                .collect(),
        )
    })?;
    if frames[2].len() > MAX_BODY_BYTES {
        return Err(ProtocolError::Body {
            kind: "message",
            reason: format!("body of {} bytes is over the cap", frames[2].len()),
        });
    }
    Ok((kind, &frames[2], &frames[3..]))
}

fn parse<T: DeserializeOwned>(kind: &'static str, body: &[u8]) -> Result<T, ProtocolError> {
    serde_json::from_slice(body).map_err(|e| ProtocolError::Body {
        kind,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task_ref() -> TaskRef {
        TaskRef {
            task_id: Uuid::new_v4(),
            attempt: 2,
            receipt: "1-0".into(),
        }
    }

    #[test]
    fn worker_messages_round_trip() {
        let messages = vec![
            WorkerMessage::Register {
                worker: "w1".into(),
                slots: 4,
                running: vec![task_ref()],
                batch: false,
            },
            WorkerMessage::Register {
                worker: "w2".into(),
                slots: 1,
                running: vec![],
                batch: true,
            },
            WorkerMessage::Heartbeat { running: 3 },
            WorkerMessage::Results(vec![
                ResultMessage {
                    task: task_ref(),
                    status: "COMPLETED".into(),
                    result: json!([1, 2]),
                    kind: None,
                    logs: String::new(),
                    usage: None,
                    held_us: None,
                },
                ResultMessage {
                    task: task_ref(),
                    status: "FAILED".into(),
                    result: json!("out of fuel"),
                    kind: Some("timeout".into()),
                    logs: String::new(),
                    usage: None,
                    held_us: None,
                },
            ]),
            WorkerMessage::Result(ResultMessage {
                task: task_ref(),
                status: "FAILED".into(),
                result: json!("boom"),
                kind: Some("trap".into()),
                logs: String::new(),
                usage: None,
                held_us: None,
            }),
            WorkerMessage::NeedModule {
                task: task_ref(),
                function_id: Uuid::new_v4(),
            },
            WorkerMessage::Bye { returned: vec![] },
            WorkerMessage::Pull(PullRequest {
                worker: "w1-abc".into(),
                name: "w1".into(),
                slots: 4,
                free: 2,
                seq: 7,
                results: vec![ResultMessage {
                    task: task_ref(),
                    status: "COMPLETED".into(),
                    result: json!(3),
                    kind: None,
                    logs: String::new(),
                    usage: None,
                    held_us: None,
                }],
                running: Some(vec![task_ref()]),
                need_modules: vec![Uuid::new_v4()],
                returned: vec![task_ref()],
                bye: true,
            }),
        ];
        for m in messages {
            assert_eq!(WorkerMessage::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn dispatcher_messages_round_trip() {
        let task = TaskMessage {
            task: task_ref(),
            function_id: Uuid::new_v4(),
            function: FunctionInfo {
                name: "add".into(),
                entry: "add".into(),
                module_hash: "ab".into(),
            },
            payload: json!([1, 2]),
        };
        for m in [
            DispatcherMessage::Welcome {
                heartbeat_ms: 1000,
                batch: false,
            },
            DispatcherMessage::Welcome {
                heartbeat_ms: 500,
                batch: true,
            },
            DispatcherMessage::Task {
                task: task.clone(),
                module: Some(b"\0asm".to_vec()),
            },
            DispatcherMessage::Task {
                task: task.clone(),
                module: None,
            },
            DispatcherMessage::Reregister,
            DispatcherMessage::Tasks(TasksReply::default()),
            DispatcherMessage::Tasks(TasksReply {
                seq: 3,
                tasks: vec![task.clone(), task],
                modules: vec![
                    (Uuid::new_v4(), b"\0asm1".to_vec()),
                    (Uuid::new_v4(), b"\0asm2".to_vec()),
                ],
                heartbeat_ms: 1000,
                hold_ms: 500,
                cancel: vec![task_ref()],
            }),
            DispatcherMessage::Error {
                message: "bad".into(),
            },
            DispatcherMessage::Cancel {
                tasks: vec![task_ref(), task_ref()],
            },
        ] {
            assert_eq!(DispatcherMessage::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn the_wire_form_is_the_documented_one() {
        let frames = WorkerMessage::Heartbeat { running: 1 }.encode();
        assert_eq!(
            frames,
            vec![
                b"faas/1".to_vec(),
                b"HEARTBEAT".to_vec(),
                br#"{"running":1}"#.to_vec()
            ]
        );
        let task = TaskRef {
            task_id: Uuid::nil(),
            attempt: 1,
            receipt: "r".into(),
        };
        let frames = WorkerMessage::Result(ResultMessage {
            task,
            status: "COMPLETED".into(),
            result: json!(5),
            kind: None,
            logs: String::new(),
            usage: None,
            held_us: None,
        })
        .encode();
        let body: Value = serde_json::from_slice(&frames[2]).unwrap();
        assert_eq!(
            body,
            json!({"task_id": "00000000-0000-0000-0000-000000000000", "attempt": 1, "receipt": "r", "status": "COMPLETED", "result": 5})
        );
    }

    #[test]
    fn the_smallest_pull_is_a_worker_and_a_count() {
        let frames = vec![
            TAG.to_vec(),
            b"PULL".to_vec(),
            br#"{"worker": "w", "free": 1}"#.to_vec(),
        ];
        let WorkerMessage::Pull(request) = WorkerMessage::decode(&frames).unwrap() else {
            panic!("not a PULL")
        };
        assert_eq!(
            (request.name.as_str(), request.free, request.running),
            ("w", 1, None)
        );
        let frames = vec![
            TAG.to_vec(),
            b"PULL".to_vec(),
            br#"{"worker": "", "free": 1}"#.to_vec(),
        ];
        assert!(WorkerMessage::decode(&frames).is_err());
        let long = format!(r#"{{"worker": "{}"}}"#, "w".repeat(MAX_NAME_BYTES + 1));
        let frames = vec![TAG.to_vec(), b"PULL".to_vec(), long.into_bytes()];
        assert!(WorkerMessage::decode(&frames).is_err());
        // Module frames must match the list.
        let mut frames = DispatcherMessage::Tasks(TasksReply {
            modules: vec![(Uuid::new_v4(), b"m".to_vec())],
            ..TasksReply::default()
        })
        .encode();
        frames.pop();
        assert_eq!(
            DispatcherMessage::decode(&frames),
            Err(ProtocolError::ModuleFrames {
                listed: 1,
                frames: 0
            })
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let cases: Vec<Vec<Vec<u8>>> = vec![
            vec![],
            vec![b"x".to_vec()],
            vec![b"faas/2".to_vec(), b"HEARTBEAT".to_vec(), b"{}".to_vec()],
            vec![TAG.to_vec(), b"NOPE".to_vec(), b"{}".to_vec()],
            vec![TAG.to_vec(), vec![0xff, 0xfe], b"{}".to_vec()],
            vec![TAG.to_vec(), b"REGISTER".to_vec(), b"not json".to_vec()],
            vec![
                TAG.to_vec(),
                b"REGISTER".to_vec(),
                b"{\"slots\": -1}".to_vec(),
            ],
            vec![
                TAG.to_vec(),
                b"HEARTBEAT".to_vec(),
                b"{}".to_vec(),
                b"module".to_vec(),
            ],
            vec![TAG.to_vec(), b"RESULT".to_vec(), b"[]".to_vec()],
        ];
        for frames in cases {
            assert!(WorkerMessage::decode(&frames).is_err(), "{frames:?}");
        }
        // Unknown fields are ignored (forward compatibility).
        let frames = vec![
            TAG.to_vec(),
            b"HEARTBEAT".to_vec(),
            br#"{"running": 2, "new": true}"#.to_vec(),
        ];
        assert_eq!(
            WorkerMessage::decode(&frames).unwrap(),
            WorkerMessage::Heartbeat { running: 2 }
        );
    }
}
