//! The `faas/1` wire protocol between a dispatcher and its workers: the
//! message types and their framing into ZeroMQ multipart messages
//! (`docs/protocol.md` is the specification).
//!
//! This crate only encodes and decodes. It owns no sockets and must not
//! trust its input: every malformed message is a `ProtocolError`, never a
//! panic.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Frame 0 of every message.
pub const TAG: &[u8] = b"faas/1";
/// Cap on a whole message, set as `ZMQ_MAXMSGSIZE` on every socket.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
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
}

/// Messages a worker sends.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerMessage {
    Register {
        worker: String,
        slots: u32,
        running: Vec<TaskRef>,
    },
    Heartbeat {
        running: u32,
    },
    Result(ResultMessage),
    NeedModule {
        task: TaskRef,
        function_id: Uuid,
    },
    Bye {
        returned: Vec<TaskRef>,
    },
}

/// Messages a dispatcher sends.
#[derive(Debug, Clone, PartialEq)]
pub enum DispatcherMessage {
    Welcome { heartbeat_ms: u64 },
    Task { task: TaskMessage, module: Option<Vec<u8>> },
    Reregister,
}

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("expected 3 or 4 frames, got {0}")]
    FrameCount(usize),
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
}

fn frames(kind: &str, body: &impl Serialize, extra: Option<Vec<u8>>) -> Vec<Vec<u8>> {
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
            WorkerMessage::NeedModule { .. } => "NEED_MODULE",
            WorkerMessage::Bye { .. } => "BYE",
        }
    }

    pub fn encode(&self) -> Vec<Vec<u8>> {
        let kind = self.kind();
        match self {
            WorkerMessage::Register { worker, slots, running } => frames(
                kind,
                &RegisterBody {
                    worker: worker.clone(),
                    slots: *slots,
                    running: running.clone(),
                },
                None,
            ),
            WorkerMessage::Heartbeat { running } => frames(kind, &HeartbeatBody { running: *running }, None),
            WorkerMessage::Result(result) => frames(kind, result, None),
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
        }
    }

    pub fn decode(frames: &[Vec<u8>]) -> Result<Self, ProtocolError> {
        let (kind, body, extra) = split(frames)?;
        if extra.is_some() {
            return Err(ProtocolError::UnexpectedModule("a worker message"));
        }
        Ok(match kind {
            "REGISTER" => {
                let b: RegisterBody = parse("REGISTER", body)?;
                WorkerMessage::Register {
                    worker: b.worker,
                    slots: b.slots,
                    running: b.running,
                }
            }
            "HEARTBEAT" => WorkerMessage::Heartbeat {
                running: parse::<HeartbeatBody>("HEARTBEAT", body)?.running,
            },
            "RESULT" => WorkerMessage::Result(parse("RESULT", body)?),
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
        }
    }

    pub fn encode(&self) -> Vec<Vec<u8>> {
        let kind = self.kind();
        match self {
            DispatcherMessage::Welcome { heartbeat_ms } => frames(
                kind,
                &WelcomeBody {
                    heartbeat_ms: *heartbeat_ms,
                    max_message_bytes: MAX_MESSAGE_BYTES,
                },
                None,
            ),
            DispatcherMessage::Task { task, module } => frames(kind, task, module.clone()),
            DispatcherMessage::Reregister => frames(kind, &serde_json::json!({}), None),
        }
    }

    pub fn decode(frames: &[Vec<u8>]) -> Result<Self, ProtocolError> {
        let (kind, body, extra) = split(frames)?;
        Ok(match kind {
            "WELCOME" => DispatcherMessage::Welcome {
                heartbeat_ms: parse::<WelcomeBody>("WELCOME", body)?.heartbeat_ms,
            },
            "TASK" => DispatcherMessage::Task {
                task: parse("TASK", body)?,
                module: extra.map(<[u8]>::to_vec),
            },
            "REREGISTER" => DispatcherMessage::Reregister,
            other => return Err(ProtocolError::UnknownType(other.to_string())),
        })
    }
}

fn split(frames: &[Vec<u8>]) -> Result<(&str, &[u8], Option<&[u8]>), ProtocolError> {
    if !(3..=4).contains(&frames.len()) {
        return Err(ProtocolError::FrameCount(frames.len()));
    }
    if frames[0] != TAG {
        return Err(ProtocolError::Tag(String::from_utf8_lossy(&frames[0]).chars().take(32).collect()));
    }
    let kind = std::str::from_utf8(&frames[1])
        .map_err(|_| ProtocolError::UnknownType(String::from_utf8_lossy(&frames[1]).chars().take(32).collect()))?;
    if frames[2].len() > MAX_BODY_BYTES {
        return Err(ProtocolError::Body {
            kind: "message",
            reason: format!("body of {} bytes is over the cap", frames[2].len()),
        });
    }
    Ok((kind, &frames[2], frames.get(3).map(Vec::as_slice)))
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
            },
            WorkerMessage::Heartbeat { running: 3 },
            WorkerMessage::Result(ResultMessage {
                task: task_ref(),
                status: "FAILED".into(),
                result: json!("boom"),
                kind: Some("trap".into()),
            }),
            WorkerMessage::NeedModule {
                task: task_ref(),
                function_id: Uuid::new_v4(),
            },
            WorkerMessage::Bye { returned: vec![] },
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
            DispatcherMessage::Welcome { heartbeat_ms: 1000 },
            DispatcherMessage::Task {
                task: task.clone(),
                module: Some(b"\0asm".to_vec()),
            },
            DispatcherMessage::Task { task, module: None },
            DispatcherMessage::Reregister,
        ] {
            assert_eq!(DispatcherMessage::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn the_wire_form_is_the_documented_one() {
        let frames = WorkerMessage::Heartbeat { running: 1 }.encode();
        assert_eq!(frames, vec![b"faas/1".to_vec(), b"HEARTBEAT".to_vec(), br#"{"running":1}"#.to_vec()]);
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
        })
        .encode();
        let body: Value = serde_json::from_slice(&frames[2]).unwrap();
        assert_eq!(
            body,
            json!({"task_id": "00000000-0000-0000-0000-000000000000", "attempt": 1, "receipt": "r", "status": "COMPLETED", "result": 5})
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
            vec![TAG.to_vec(), b"REGISTER".to_vec(), b"{\"slots\": -1}".to_vec()],
            vec![TAG.to_vec(), b"HEARTBEAT".to_vec(), b"{}".to_vec(), b"module".to_vec()],
            vec![TAG.to_vec(), b"RESULT".to_vec(), b"[]".to_vec()],
        ];
        for frames in cases {
            assert!(WorkerMessage::decode(&frames).is_err(), "{frames:?}");
        }
        // Unknown fields are ignored (forward compatibility).
        let frames = vec![TAG.to_vec(), b"HEARTBEAT".to_vec(), br#"{"running": 2, "new": true}"#.to_vec()];
        assert_eq!(WorkerMessage::decode(&frames).unwrap(), WorkerMessage::Heartbeat { running: 2 });
    }
}
