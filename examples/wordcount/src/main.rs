//! A JSON function: counts the words of a text and lists the most frequent.
//!
//! Input: `{"text": "...", "top": 3}` (`top` optional, 10 by default) or just
//! a JSON string. Output: `{"words": N, "unique": M, "top": [["the", 3], ...]}`,
//! the most frequent words first, ties in alphabetical order, so the output
//! is deterministic. Words are runs of letters, digits and inner
//! apostrophes, compared in lower case.

use faas_guest::{Map, Value};
use std::collections::BTreeMap;

const DEFAULT_TOP: usize = 10;

fn wordcount(input: Value) -> Result<Value, String> {
    let (text, top) = match &input {
        Value::String(text) => (text.as_str(), DEFAULT_TOP),
        Value::Object(fields) => {
            let text = fields["text"].as_str().ok_or_else(|| {
                format!("\"text\" must be a string, got {}", fields["text"].kind())
            })?;
            let top = match fields.get("top") {
                None | Some(Value::Null) => DEFAULT_TOP,
                Some(n) => n
                    .as_u64()
                    .ok_or_else(|| format!("\"top\" must be a non-negative integer, got {}", n))?
                    as usize,
            };
            (text, top)
        }
        other => {
            return Err(format!(
                "expected {{\"text\": \"...\"}} or a JSON string, got {}",
                other.kind()
            ))
        }
    };

    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut words = 0u64;
    for word in text
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '\u{2019}'))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '\u{2019}'))
        .filter(|w| !w.is_empty())
    {
        words += 1;
        *counts.entry(word.to_lowercase()).or_insert(0) += 1;
    }

    let unique = counts.len();
    let mut ranked: Vec<(String, u64)> = counts.into_iter().collect();
    // Stable sort: equal counts keep the map's alphabetical order.
    ranked.sort_by(|a, b| b.1.cmp(&a.1));
    ranked.truncate(top);

    let mut out = Map::new();
    out.insert("words", words);
    out.insert("unique", unique);
    out.insert(
        "top",
        ranked
            .into_iter()
            .map(|(word, n)| Value::from(vec![Value::from(word), Value::from(n)]))
            .collect::<Value>(),
    );
    Ok(out.into())
}

faas_guest::json_main!(wordcount);
