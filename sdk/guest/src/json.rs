//! JSON values: the `Value` and `Map` types, a strict parser (RFC 8259) with
//! positioned errors, and a compact or pretty serializer.
//!
//! Numbers are `f64`, as in JavaScript: integers are exact up to 2^53 and are
//! printed without a fractional part. Objects keep their keys in insertion
//! order, so output is deterministic; a key given twice keeps its first
//! position and its last value.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::ops::Index;
use std::str::FromStr;

/// How deep arrays and objects may nest before the parser gives up (a
/// guest's stack is small; a hostile payload must not overflow it).
pub const MAX_DEPTH: usize = 128;

/// A JSON value.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    /// Every JSON number, as an `f64`.
    Number(f64),
    String(String),
    Array(Vec<Value>),
    Object(Map),
}

static NULL: Value = Value::Null;

impl Value {
    /// Parses JSON text (the whole text must be one value, surrounded by
    /// whitespace at most).
    pub fn parse(text: &str) -> Result<Value, ParseError> {
        parse(text)
    }

    /// A short name of this value's kind for messages: "null", "a boolean",
    /// "a number", "a string", "an array" or "an object".
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The number as an `i64`, if it is an integer within `i64`'s range.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            // -2^63 and 2^63 are exact as f64; the range is [-2^63, 2^63).
            Value::Number(n)
                if n.fract() == 0.0 && *n >= i64::MIN as f64 && *n < -(i64::MIN as f64) =>
            {
                Some(*n as i64)
            }
            _ => None,
        }
    }

    /// The number as a `u64`, if it is a non-negative integer within range.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            // `u64::MAX as f64` rounds up to 2^64, just out of range.
            Value::Number(n) if n.fract() == 0.0 && *n >= 0.0 && *n < u64::MAX as f64 => {
                Some(*n as u64)
            }
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The member `key` of an object; `None` if this is not an object or has
    /// no such key. (`value["key"]` does the same but gives `Null` instead.)
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|m| m.get(key))
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.as_object_mut().and_then(|m| m.get_mut(key))
    }

    /// Replaces this value with `Null` and returns it.
    pub fn take(&mut self) -> Value {
        std::mem::take(self)
    }

    /// Compact JSON text (the same as `to_string()`).
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        write_value(&mut out, self, None, 0);
        out
    }

    /// JSON text indented by two spaces (the same as `format!("{:#}", value)`).
    pub fn to_json_pretty(&self) -> String {
        let mut out = String::new();
        write_value(&mut out, self, Some(2), 0);
        out
    }
}

/// `Display` writes compact JSON; the alternate form (`{:#}`) writes it
/// indented. NaN and infinities, which JSON cannot represent, are written as
/// `null`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_value(
            &mut out,
            self,
            if f.alternate() { Some(2) } else { None },
            0,
        );
        f.write_str(&out)
    }
}

impl FromStr for Value {
    type Err = ParseError;
    fn from_str(text: &str) -> Result<Value, ParseError> {
        parse(text)
    }
}

/// `value["key"]`: the member, or `Null` if there is none or this is not an
/// object.
impl Index<&str> for Value {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

/// `value[i]`: the element, or `Null` if out of range or not an array.
impl Index<usize> for Value {
    type Output = Value;
    fn index(&self, i: usize) -> &Value {
        self.as_array().and_then(|a| a.get(i)).unwrap_or(&NULL)
    }
}

macro_rules! from_number {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            /// Integers beyond 2^53 lose precision: JSON numbers are `f64` here.
            fn from(n: $t) -> Value {
                Value::Number(n as f64)
            }
        }
    )*};
}
from_number!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64);

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Value {
        Value::String(s.clone())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl From<char> for Value {
    fn from(c: char) -> Value {
        Value::String(c.to_string())
    }
}

impl From<Map> for Value {
    fn from(m: Map) -> Value {
        Value::Object(m)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Value {
        Value::Array(items.into_iter().map(Into::into).collect())
    }
}

impl<T: Clone + Into<Value>> From<&[T]> for Value {
    fn from(items: &[T]) -> Value {
        Value::Array(items.iter().cloned().map(Into::into).collect())
    }
}

/// `None` is `null`.
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// Collects values into an array.
impl<T: Into<Value>> FromIterator<T> for Value {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Value {
        Value::Array(iter.into_iter().map(Into::into).collect())
    }
}

/// A JSON object: string keys in insertion order, each key once.
///
/// Lookups are linear, which is fast for the small objects functions
/// usually exchange; building one from many entries (parsing,
/// `collect()`) stays `O(n log n)`.
#[derive(Debug, Clone, Default)]
pub struct Map {
    entries: Vec<(String, Value)>,
}

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key` to `value`. A new key goes last; an existing one keeps its
    /// place, and its old value is returned.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        let key = key.into();
        let value = value.into();
        match self.get_mut(&key) {
            Some(slot) => Some(std::mem::replace(slot, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// Removes `key`, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(i).1)
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> + '_ {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    pub fn values(&self) -> impl Iterator<Item = &Value> + '_ {
        self.entries.iter().map(|(_, v)| v)
    }

    /// Builds a map from entries that may repeat keys: first position, last
    /// value.
    fn from_entries(entries: Vec<(String, Value)>) -> Map {
        if entries.len() <= 16 {
            let mut map = Map::new();
            for (k, v) in entries {
                map.insert(k, v);
            }
            return map;
        }
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        let mut out: Vec<(String, Value)> = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            match index.get(&k) {
                Some(&i) => out[i].1 = v,
                None => {
                    index.insert(k.clone(), out.len());
                    out.push((k, v));
                }
            }
        }
        Map { entries: out }
    }
}

/// Objects are equal when they have the same keys with equal values, in
/// any order.
impl PartialEq for Map {
    fn eq(&self, other: &Map) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl Index<&str> for Map {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Map {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Map {
        Map::from_entries(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl<K: Into<String>, V: Into<Value>> Extend<(K, V)> for Map {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl IntoIterator for Map {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

/// Why a text is not JSON, and where (1-based line and column, the column
/// counted in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    message: String,
    offset: usize,
    line: usize,
    column: usize,
}

impl ParseError {
    /// What is wrong, without the position.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Byte offset into the text.
    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn line(&self) -> usize {
        self.line
    }

    pub fn column(&self) -> usize {
        self.column
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {}, column {}",
            self.message, self.line, self.column
        )
    }
}

impl std::error::Error for ParseError {}

/// So that `?` works on parse errors in handlers returning `Result<_, String>`.
impl From<ParseError> for String {
    fn from(e: ParseError) -> String {
        e.to_string()
    }
}

/// Parses JSON text: exactly one value, optionally surrounded by whitespace.
pub fn parse(text: &str) -> Result<Value, ParseError> {
    let mut p = Parser {
        src: text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    p.skip_ws();
    let value = p.value()?;
    p.skip_ws();
    if p.pos < p.bytes.len() {
        return Err(p.error(format!(
            "trailing characters after the JSON value: {}",
            p.found()
        )));
    }
    Ok(value)
}

/// Parses JSON from bytes, which must be UTF-8.
pub fn parse_bytes(bytes: &[u8]) -> Result<Value, ParseError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(text),
        Err(e) => {
            let valid = e.valid_up_to();
            // The prefix is valid UTF-8, so it can place the error.
            let prefix = std::str::from_utf8(&bytes[..valid]).unwrap_or("");
            let (line, column) = position(prefix, valid);
            Err(ParseError {
                message: "invalid UTF-8".to_string(),
                offset: valid,
                line,
                column,
            })
        }
    }
}

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn error_at(&self, offset: usize, message: impl Into<String>) -> ParseError {
        let (line, column) = position(self.src, offset);
        ParseError {
            message: message.into(),
            offset,
            line,
            column,
        }
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        self.error_at(self.pos, message)
    }

    /// Describes what is at the current position, for messages.
    fn found(&self) -> String {
        match self.src[self.pos..].chars().next() {
            None => "end of input".to_string(),
            Some(c) if c.is_control() => format!("{:?}", c),
            Some(c) => format!("'{}'", c),
        }
    }

    fn expected(&self, what: &str) -> ParseError {
        if self.pos >= self.bytes.len() {
            self.error(format!("unexpected end of input, expected {}", what))
        } else {
            self.error(format!("expected {}, found {}", what, self.found()))
        }
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ if self.src[self.pos..].starts_with(char::is_alphabetic) => Err(self.bare_word(None)),
            _ => Err(self.expected("a JSON value")),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, ParseError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            return Ok(value);
        }
        Err(self.bare_word(Some(word)))
    }

    /// The error for a bare word at the current position: a broken literal
    /// (`tru`), or text that was not sent as a JSON string (`the cat`).
    fn bare_word(&self, literal: Option<&str>) -> ParseError {
        let rest = &self.src[self.pos..];
        let end = rest
            .char_indices()
            .find(|&(_, c)| !c.is_alphanumeric())
            .map_or(rest.len(), |(i, _)| i);
        let bare = &rest[..end];
        match literal {
            Some(word) if word.starts_with(bare) => {
                self.error(format!("invalid literal `{}`, expected `{}`", bare, word))
            }
            _ => {
                let shown: String = bare.chars().take(20).collect();
                let more = if shown.len() < bare.len() { "..." } else { "" };
                self.error(format!(
                    "expected a JSON value, found `{}{}` (text must be quoted as a JSON string)",
                    shown, more
                ))
            }
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("nesting deeper than {} levels", MAX_DEPTH)));
        }
        Ok(())
    }

    fn array(&mut self) -> Result<Value, ParseError> {
        self.enter()?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.expected("',' or ']' after an array element")),
            }
        }
        self.depth -= 1;
        Ok(Value::Array(items))
    }

    fn object(&mut self) -> Result<Value, ParseError> {
        self.enter()?;
        self.pos += 1; // '{'
        let mut entries = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Object(Map::new()));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.expected("a string key"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.expected("':' after an object key"));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value()?;
            entries.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.expected("',' or '}' after an object member")),
            }
        }
        self.depth -= 1;
        Ok(Value::Object(Map::from_entries(entries)))
    }

    fn string(&mut self) -> Result<String, ParseError> {
        let open = self.pos;
        self.pos += 1; // '"'
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // Stopped at an ASCII byte or the end: a char boundary.
            out.push_str(&self.src[start..self.pos]);
            match self.peek() {
                None => return Err(self.error_at(open, "unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => self.escape(&mut out)?,
                Some(_) => {
                    return Err(self.error(format!(
                        "control character {} in a string (it must be escaped)",
                        self.found()
                    )))
                }
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), ParseError> {
        let backslash = self.pos;
        self.pos += 1;
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let unit = self.hex4(backslash)?;
                let c = match unit {
                    0xD800..=0xDBFF => {
                        if !self.bytes[self.pos..].starts_with(b"\\u") {
                            return Err(self.error_at(
                                backslash,
                                format!("unpaired surrogate \\u{:04X}: a high surrogate must be followed by a \\u escape of a low one", unit),
                            ));
                        }
                        let second = self.pos;
                        self.pos += 2;
                        let low = self.hex4(second)?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(self.error_at(
                                second,
                                format!("unpaired surrogate \\u{:04X}: expected a low surrogate (\\uDC00-\\uDFFF), found \\u{:04X}", unit, low),
                            ));
                        }
                        let code = 0x10000
                            + ((u32::from(unit) - 0xD800) << 10)
                            + (u32::from(low) - 0xDC00);
                        char::from_u32(code)
                    }
                    0xDC00..=0xDFFF => {
                        return Err(self.error_at(
                            backslash,
                            format!(
                            "unpaired surrogate \\u{:04X}: a low surrogate must follow a high one",
                            unit
                        ),
                        ))
                    }
                    _ => char::from_u32(u32::from(unit)),
                };
                // Every non-surrogate code unit and every valid pair is a char.
                out.push(c.unwrap_or('\u{FFFD}'));
                return Ok(());
            }
            None => return Err(self.error("unexpected end of input in an escape sequence")),
            Some(_) => {
                return Err(self.error_at(
                    backslash,
                    format!("invalid escape \\{}", self.found().trim_matches('\'')),
                ))
            }
        };
        self.pos += 1;
        out.push(c);
        Ok(())
    }

    /// Reads the four hex digits of a `\u` escape starting at `self.pos`.
    fn hex4(&mut self, escape_start: usize) -> Result<u16, ParseError> {
        let digits = self.bytes.get(self.pos..self.pos + 4);
        let value = digits.and_then(|d| {
            d.iter().try_fold(0u16, |acc, &b| {
                let v = (b as char).to_digit(16)?;
                Some(acc * 16 + v as u16)
            })
        });
        match value {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => {
                Err(self.error_at(escape_start, "invalid \\u escape: expected four hex digits"))
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(
                        self.error_at(start, "invalid number: leading zeros are not allowed")
                    );
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.expected("a digit after '-'")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.expected("a digit after the decimal point"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.expected("a digit in the exponent"));
            }
        }
        let text = &self.src[start..self.pos];
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Value::Number(n)),
            _ => Err(self.error_at(start, format!("number out of range: {}", text))),
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn position(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn write_value(out: &mut String, value: &Value, indent: Option<usize>, level: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, *n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, level + 1);
                write_value(out, item, indent, level + 1);
            }
            newline(out, indent, level);
            out.push(']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, level + 1);
                write_string(out, key);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_value(out, item, indent, level + 1);
            }
            newline(out, indent, level);
            out.push('}');
        }
    }
}

fn newline(out: &mut String, indent: Option<usize>, level: usize) {
    if let Some(width) = indent {
        out.push('\n');
        for _ in 0..width * level {
            out.push(' ');
        }
    }
}

/// Shortest text that reads back as the same `f64`: integers without a
/// fractional part, plain notation from 1e-7 to 1e21 (as JavaScript does),
/// exponent notation beyond. NaN and infinities become `null`.
fn write_number(out: &mut String, n: f64) {
    if !n.is_finite() {
        out.push_str("null");
        return;
    }
    let magnitude = n.abs();
    // Writing to a String cannot fail.
    let _ = if magnitude == 0.0 || (1e-7..1e21).contains(&magnitude) {
        write!(out, "{}", n)
    } else {
        write!(out, "{:e}", n)
    };
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f | 0x7f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Value {
        parse(text).unwrap_or_else(|e| panic!("{:?} should parse: {}", text, e))
    }

    fn err(text: &str) -> ParseError {
        match parse(text) {
            Ok(v) => panic!("{:?} should not parse, got {:?}", text, v),
            Err(e) => e,
        }
    }

    #[test]
    fn scalars() {
        assert_eq!(p("null"), Value::Null);
        assert_eq!(p(" true "), Value::Bool(true));
        assert_eq!(p("\n\tfalse\r\n"), Value::Bool(false));
        assert_eq!(p("\"hi\""), Value::from("hi"));
        assert_eq!(p("0"), Value::Number(0.0));
        assert_eq!(p("-12"), Value::Number(-12.0));
    }

    #[test]
    fn round_trips_compact() {
        for text in [
            "null",
            "[]",
            "{}",
            "[1,2.5,-3,\"x\",true,false,null]",
            "{\"a\":{\"b\":[{},[]]},\"c\":\"d\"}",
            "{\"z\":1,\"a\":2,\"m\":3}",
            "\"tab\\tquote\\\"backslash\\\\nl\\nctl\\u0001\"",
            "\"ünïcødé ☃ 😀\"",
            "[1e21,1.5e-8,0.1,123456789,-0.5]",
        ] {
            let value = p(text);
            assert_eq!(value.to_string(), text, "compact form of {}", text);
            assert_eq!(p(&value.to_string()), value);
            assert_eq!(p(&value.to_json_pretty()), value);
        }
    }

    #[test]
    fn keeps_insertion_order_and_dedups() {
        let v = p(r#"{"b":1,"a":2,"b":3}"#);
        assert_eq!(v.to_string(), r#"{"b":3,"a":2}"#);
        let many: String = (0..40).map(|i| format!("\"k{}\":{},", i % 20, i)).collect();
        let v = p(&format!("{{{}\"k0\":\"last\"}}", many));
        let map = v.as_object().unwrap();
        assert_eq!(map.len(), 20);
        assert_eq!(map.keys().next(), Some("k0"));
        assert_eq!(map["k0"], Value::from("last"));
        assert_eq!(map["k19"], Value::from(39));
    }

    #[test]
    fn object_equality_ignores_order() {
        assert_eq!(p(r#"{"a":1,"b":[2]}"#), p(r#"{"b":[2],"a":1}"#));
        assert_ne!(p(r#"{"a":1}"#), p(r#"{"a":1,"b":2}"#));
        assert_ne!(p("[1,2]"), p("[2,1]"));
    }

    #[test]
    fn pretty() {
        let v = p(r#"{"a":[1,{"b":null}],"c":{},"d":[]}"#);
        assert_eq!(
            v.to_json_pretty(),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ],\n  \"c\": {},\n  \"d\": []\n}"
        );
        assert_eq!(format!("{:#}", v), v.to_json_pretty());
    }

    #[test]
    fn escapes() {
        assert_eq!(
            p(r#""\"\\\/\b\f\n\r\t""#),
            Value::from("\"\\/\u{8}\u{c}\n\r\t")
        );
        assert_eq!(p(r#""\u0041\u00e9\u2603""#), Value::from("Aé☃"));
        assert_eq!(p(r#""\uD83D\uDE00""#), Value::from("😀"));
        assert_eq!(p(r#""\ud83d\ude00x""#), Value::from("😀x"));
        // Serializing escapes only what JSON requires (and DEL).
        assert_eq!(
            Value::from("a\u{0}b\u{1f}\u{7f}é😀/").to_string(),
            r#""a\u0000b\u001f\u007fé😀/""#
        );
        assert_eq!(Value::from("\u{8}\u{c}").to_string(), r#""\b\f""#);
    }

    #[test]
    fn surrogate_errors() {
        assert!(err(r#""\uD83D""#)
            .message()
            .contains("unpaired surrogate \\uD83D"));
        assert!(err(r#""\uD83Dx""#).message().contains("unpaired surrogate"));
        assert!(err(r#""\uD83D\u0041""#)
            .message()
            .contains("expected a low surrogate"));
        assert!(err(r#""\uDE00""#)
            .message()
            .contains("low surrogate must follow"));
        assert!(err(r#""\u12""#).message().contains("four hex digits"));
        assert!(err(r#""\u12G4""#).message().contains("four hex digits"));
        assert!(err(r#""\x""#).message().contains("invalid escape \\x"));
    }

    #[test]
    fn numbers() {
        assert_eq!(p("1.5e3"), Value::Number(1500.0));
        assert_eq!(p("-0.25E-2"), Value::Number(-0.0025));
        assert_eq!(p("1E+2"), Value::Number(100.0));
        assert_eq!(p("9007199254740993").as_f64(), Some(9007199254740992.0));
        // Integers print without a fractional part.
        assert_eq!(Value::from(3.0).to_string(), "3");
        assert_eq!(Value::from(-42).to_string(), "-42");
        assert_eq!(Value::from(1e20).to_string(), "100000000000000000000");
        assert_eq!(
            Value::from(9007199254740992u64).to_string(),
            "9007199254740992"
        );
        assert_eq!(Value::from(1e21).to_string(), "1e21");
        assert_eq!(Value::from(0.1).to_string(), "0.1");
        assert_eq!(Value::from(1e-7).to_string(), "0.0000001");
        assert_eq!(Value::from(1.5e-8).to_string(), "1.5e-8");
        assert_eq!(Value::from(-2.5e300).to_string(), "-2.5e300");
        assert_eq!(Value::from(0.1 + 0.2).to_string(), "0.30000000000000004");
        assert_eq!(Value::from(f64::NAN).to_string(), "null");
        assert_eq!(Value::from(f64::INFINITY).to_string(), "null");
        for n in [
            0.1,
            1.0 / 3.0,
            123.456,
            5e-324,
            1.7976931348623157e308,
            -1e-300,
            2f64.powi(60),
        ] {
            assert_eq!(p(&Value::from(n).to_string()), Value::Number(n), "{}", n);
        }
    }

    #[test]
    fn integer_accessors() {
        assert_eq!(p("42").as_i64(), Some(42));
        assert_eq!(p("-42").as_u64(), None);
        assert_eq!(p("4.5").as_i64(), None);
        assert_eq!(p("1e30").as_i64(), None);
        assert_eq!(p("-9223372036854775808").as_i64(), Some(i64::MIN));
        assert_eq!(p("9223372036854775808").as_i64(), None);
        assert_eq!(p("9223372036854775808").as_u64(), Some(1 << 63));
        assert_eq!(p("\"1\"").as_i64(), None);
        assert_eq!(
            p("18446744073709549568").as_u64(),
            Some(18446744073709549568)
        );
        assert_eq!(p("18446744073709551615").as_u64(), None);
    }

    #[test]
    fn number_errors() {
        assert!(err("01").message().contains("leading zeros"));
        assert!(err("-").message().contains("expected a digit after '-'"));
        assert!(err("-x").message().contains("found 'x'"));
        assert!(err("1.").message().contains("after the decimal point"));
        assert!(err("1.e5").message().contains("after the decimal point"));
        assert!(err("1e").message().contains("exponent"));
        assert!(err("1e+").message().contains("exponent"));
        assert!(err("+1")
            .message()
            .contains("expected a JSON value, found '+'"));
        assert!(err(".5").message().contains("expected a JSON value"));
        assert!(err("1e400").message().contains("number out of range"));
        assert!(err("NaN")
            .message()
            .contains("expected a JSON value, found `NaN`"));
    }

    #[test]
    fn structure_errors() {
        assert_eq!(
            err("").message(),
            "unexpected end of input, expected a JSON value"
        );
        assert_eq!(
            err("   ").to_string(),
            "unexpected end of input, expected a JSON value at line 1, column 4"
        );
        assert!(err("[1,]")
            .message()
            .contains("expected a JSON value, found ']'"));
        assert!(err("[1 2]").message().contains("expected ',' or ']'"));
        assert!(err("[1")
            .message()
            .contains("unexpected end of input, expected ',' or ']'"));
        assert!(err("{\"a\" 1}").message().contains("expected ':'"));
        assert!(err("{a:1}")
            .message()
            .contains("expected a string key, found 'a'"));
        assert!(err("{\"a\":1,}")
            .message()
            .contains("expected a string key, found '}'"));
        assert!(err("{\"a\":1").message().contains("expected ',' or '}'"));
        assert!(err("\"abc").message().contains("unterminated string"));
        assert!(err("\"a\nb\"")
            .message()
            .contains("control character '\\n'"));
        assert_eq!(
            err("tru").message(),
            "invalid literal `tru`, expected `true`"
        );
        assert_eq!(
            err("[nul]").message(),
            "invalid literal `nul`, expected `null`"
        );
        assert_eq!(
            err("fals e").message(),
            "invalid literal `fals`, expected `false`"
        );
        assert_eq!(
            err("the cat").message(),
            "expected a JSON value, found `the` (text must be quoted as a JSON string)"
        );
        assert_eq!(
            err("[1, hello]").message(),
            "expected a JSON value, found `hello` (text must be quoted as a JSON string)"
        );
        assert_eq!(
            err("élan").message(),
            "expected a JSON value, found `élan` (text must be quoted as a JSON string)"
        );
        assert!(err("nonexistentbutverylongword")
            .message()
            .contains("`nonexistentbutverylo...`"));
        assert_eq!(
            err("trueish").message(),
            "trailing characters after the JSON value: 'i'"
        );
        assert!(err("1 2").message().contains("trailing characters"));
        assert!(err("{} x")
            .message()
            .contains("trailing characters after the JSON value: 'x'"));
    }

    #[test]
    fn error_positions() {
        let e = err("{\n  \"a\": [1,\n  2,,]\n}");
        assert_eq!((e.line(), e.column()), (3, 5));
        assert_eq!(
            e.to_string(),
            "expected a JSON value, found ',' at line 3, column 5"
        );
        // Columns count characters, not bytes.
        let e = err("[\"é😀\" x]");
        assert_eq!((e.line(), e.column()), (1, 7));
        assert_eq!(e.offset(), 10);
        let e = err("\"abc");
        assert_eq!((e.line(), e.column()), (1, 1));
    }

    #[test]
    fn depth_limit() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(err(&deep).message().contains("nesting deeper than 128"));
        let deep = "{\"a\":".repeat(100_000);
        assert!(err(&deep).message().contains("nesting deeper"));
    }

    #[test]
    fn invalid_utf8() {
        let e = parse_bytes(b"[\"ok\", \"\xff\"]").unwrap_err();
        assert_eq!(e.message(), "invalid UTF-8");
        assert_eq!((e.offset(), e.column()), (8, 9));
        assert_eq!(parse_bytes(b"[1]").unwrap(), Value::from(vec![1]));
    }

    #[test]
    fn accessors_and_builders() {
        let v = p(r#"{"text":"hi","n":[1,2,{"x":true}]}"#);
        assert_eq!(v["text"].as_str(), Some("hi"));
        assert_eq!(v["n"][2]["x"], Value::Bool(true));
        assert_eq!(v["missing"], Value::Null);
        assert_eq!(v["n"][9], Value::Null);
        assert_eq!(v[0], Value::Null);
        assert_eq!(v.get("n").and_then(Value::as_array).map(Vec::len), Some(3));
        assert_eq!(v.kind(), "an object");

        let mut m: Map = vec![("b", Value::from(1)), ("a", Value::from("x"))]
            .into_iter()
            .collect();
        assert_eq!(m.insert("b", 2), Some(Value::from(1)));
        m.insert("c", vec![Some(1), None]);
        m.extend([("d", true)]);
        assert_eq!(m.remove("a"), Some(Value::from("x")));
        assert_eq!(
            Value::from(m).to_string(),
            r#"{"b":2,"c":[1,null],"d":true}"#
        );
        let arr: Value = (1..=3).map(|i| i * i).collect();
        assert_eq!(arr.to_string(), "[1,4,9]");
        assert_eq!("[1]".parse::<Value>(), Ok(Value::from(vec![1.0])));
        let s: String = parse("[").map_err(String::from).unwrap_err();
        assert!(s.ends_with("at line 1, column 2"));
    }
}
