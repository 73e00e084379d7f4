//! The entry function's calling convention and signature, and the conversion
//! of JSON payloads to wasm arguments and of wasm results back to JSON.
//!
//! This module has no wasmtime types in its public API, so a server can check
//! a task's arguments before it queues the task, from a stored signature.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// A wasm value type the sandbox can pass across the JSON boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValType {
    I32,
    I64,
    F32,
    F64,
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
        })
    }
}

/// Parameter and result types of a typed export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    pub params: Vec<ValType>,
    pub results: Vec<ValType>,
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |types: &[ValType]| {
            types
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(f, "({}) -> ({})", list(&self.params), list(&self.results))
    }
}

/// How a task's payload reaches the function and how its result comes back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Convention {
    /// An exported function called with numbers; the payload is a JSON array.
    Typed(Signature),
    /// A WASI command (`_start`, or a `wasi:cli/command` component): the
    /// payload is stdin, stdout is the result.
    WasiCommand,
    /// A `faas:function/handler` component: `handle` gets the payload's
    /// JSON text and returns the result's (or an error message).
    Handler,
}

/// One argument, already checked against its parameter type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arg {
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
}

/// A payload checked against a convention, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub enum Args {
    Typed(Vec<Arg>),
    Stdin(Vec<u8>),
    /// A handler's payload, as JSON text.
    Json(String),
}

/// Why a payload does not fit the function's convention.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    #[error("this function takes {expected} argument(s) {signature}, so the payload must be a JSON array of numbers, got {got}")]
    NotAnArray {
        expected: usize,
        signature: String,
        got: &'static str,
    },
    #[error("this function takes {expected} argument(s) {signature}, got {got}")]
    Arity {
        expected: usize,
        got: usize,
        signature: String,
    },
    #[error("argument {index} must be {ty}: {reason}")]
    Type {
        index: usize,
        ty: ValType,
        reason: String,
    },
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Convention {
    /// Checks a JSON payload against this convention.
    ///
    /// Typed exports take an array with one number per parameter. Integers
    /// must be exact (no fractional part, no float rounding: i64 values beyond
    /// 2^53 survive); an i32 accepts -2^31..2^32-1 and an i64 -2^63..2^64-1,
    /// values above the signed range being taken as their unsigned bit
    /// pattern, since wasm integers have no sign. A handler takes any JSON.
    /// WASI commands take a string
    /// as stdin; `null` is empty stdin and any other JSON value is passed as
    /// its JSON text.
    pub fn parse_args(&self, payload: &Value) -> Result<Args, ArgError> {
        match self {
            Convention::Handler => Ok(Args::Json(payload.to_string())),
            Convention::WasiCommand => Ok(Args::Stdin(match payload {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Null => Vec::new(),
                other => other.to_string().into_bytes(),
            })),
            Convention::Typed(sig) => {
                let items = match payload {
                    Value::Array(items) => items,
                    other => {
                        return Err(ArgError::NotAnArray {
                            expected: sig.params.len(),
                            signature: sig.to_string(),
                            got: json_kind(other),
                        })
                    }
                };
                if items.len() != sig.params.len() {
                    return Err(ArgError::Arity {
                        expected: sig.params.len(),
                        got: items.len(),
                        signature: sig.to_string(),
                    });
                }
                items
                    .iter()
                    .zip(&sig.params)
                    .enumerate()
                    .map(|(index, (value, ty))| {
                        parse_arg(value, *ty).map_err(|reason| ArgError::Type {
                            index,
                            ty: *ty,
                            reason,
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Args::Typed)
            }
        }
    }
}

fn parse_arg(value: &Value, ty: ValType) -> Result<Arg, String> {
    let Value::Number(n) = value else {
        return Err(format!("got {}", json_kind(value)));
    };
    let integer = || -> Result<i128, String> {
        if let Some(i) = n.as_i64() {
            Ok(i128::from(i))
        } else if let Some(u) = n.as_u64() {
            Ok(i128::from(u))
        } else {
            Err(format!("{n} is not an integer"))
        }
    };
    match ty {
        ValType::I32 => {
            let i = integer()?;
            if i < i128::from(i32::MIN) || i > i128::from(u32::MAX) {
                return Err(format!("{n} is out of range"));
            }
            // Values above i32::MAX are the unsigned reading of the same bits.
            Ok(Arg::I32(i as u32 as i32))
        }
        ValType::I64 => {
            let i = integer()?;
            if i < i128::from(i64::MIN) || i > i128::from(u64::MAX) {
                return Err(format!("{n} is out of range"));
            }
            Ok(Arg::I64(i as u64 as i64))
        }
        ValType::F32 => n
            .as_f64()
            .map(|f| Arg::F32(f as f32))
            .ok_or_else(|| format!("{n} is not a number")),
        ValType::F64 => n
            .as_f64()
            .map(Arg::F64)
            .ok_or_else(|| format!("{n} is not a number")),
    }
}

/// Converts an f64 result to JSON. JSON has no NaN or infinities, so those
/// become the strings "NaN", "Infinity" and "-Infinity".
pub(crate) fn float_to_json(f: f64) -> Value {
    serde_json::Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or_else(|| {
            Value::String(
                if f.is_nan() {
                    "NaN"
                } else if f > 0.0 {
                    "Infinity"
                } else {
                    "-Infinity"
                }
                .to_string(),
            )
        })
}

/// Shapes a typed call's results: one value itself, several as an array,
/// none as null.
pub(crate) fn results_to_json(mut values: Vec<Value>) -> Value {
    match values.len() {
        0 => Value::Null,
        1 => values.pop().unwrap_or(Value::Null),
        _ => Value::Array(values),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn typed(params: &[ValType]) -> Convention {
        Convention::Typed(Signature {
            params: params.to_vec(),
            results: vec![],
        })
    }

    #[test]
    fn i64_beyond_2_pow_53_is_exact() {
        let payload: Value =
            serde_json::from_str("[9007199254740993, -9223372036854775808]").unwrap();
        let args = typed(&[ValType::I64, ValType::I64])
            .parse_args(&payload)
            .unwrap();
        assert_eq!(
            args,
            Args::Typed(vec![Arg::I64(9007199254740993), Arg::I64(i64::MIN)])
        );
    }

    #[test]
    fn unsigned_range_is_accepted_as_bits() {
        let args = typed(&[ValType::I32])
            .parse_args(&json!([4294967295u64]))
            .unwrap();
        assert_eq!(args, Args::Typed(vec![Arg::I32(-1)]));
        let args = typed(&[ValType::I64])
            .parse_args(&json!([u64::MAX]))
            .unwrap();
        assert_eq!(args, Args::Typed(vec![Arg::I64(-1)]));
    }

    #[test]
    fn out_of_range_and_fractions_are_rejected() {
        let conv = typed(&[ValType::I32]);
        let err = conv.parse_args(&json!([4294967296u64])).unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
        let err = conv.parse_args(&json!([1.5])).unwrap_err();
        assert!(err.to_string().contains("not an integer"), "{err}");
        let err = conv.parse_args(&json!(["1"])).unwrap_err();
        assert!(err.to_string().contains("got a string"), "{err}");
    }

    #[test]
    fn arity_and_shape_errors_name_the_signature() {
        let conv = typed(&[ValType::I32, ValType::F64]);
        let err = conv.parse_args(&json!([1])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "this function takes 2 argument(s) (i32, f64) -> (), got 1"
        );
        let err = conv.parse_args(&json!({"a": 1})).unwrap_err();
        assert!(err.to_string().contains("must be a JSON array"), "{err}");
    }

    #[test]
    fn floats_accept_integers() {
        let args = typed(&[ValType::F32, ValType::F64])
            .parse_args(&json!([1, 2.5]))
            .unwrap();
        assert_eq!(args, Args::Typed(vec![Arg::F32(1.0), Arg::F64(2.5)]));
    }

    #[test]
    fn wasi_payloads_become_stdin() {
        let conv = Convention::WasiCommand;
        assert_eq!(
            conv.parse_args(&json!("hi")).unwrap(),
            Args::Stdin(b"hi".to_vec())
        );
        assert_eq!(conv.parse_args(&Value::Null).unwrap(), Args::Stdin(vec![]));
        assert_eq!(
            conv.parse_args(&json!({"a": [1]})).unwrap(),
            Args::Stdin(br#"{"a":[1]}"#.to_vec())
        );
    }

    #[test]
    fn non_finite_floats_become_strings() {
        assert_eq!(float_to_json(f64::NAN), json!("NaN"));
        assert_eq!(float_to_json(f64::NEG_INFINITY), json!("-Infinity"));
        assert_eq!(float_to_json(1.5), json!(1.5));
    }
}
