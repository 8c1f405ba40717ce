//! SOPS's flattened metadata (`stores.FlattenMetadata` / `UnflattenMetadata`), shared by
//! the syntaxes that keep metadata as flat `key = value` entries (dotenv's `sops_…` lines,
//! INI's `[sops]` section): nested maps and lists become `__map_`/`__list_N` key suffixes.

use serde_json::{Map, Value};

/// Separator of a map key in a flattened metadata key.
pub const MAP_SEP: &str = "__map_";
/// Separator of a list index in a flattened metadata key.
pub const LIST_SEP: &str = "__list_";
/// Largest list index accepted in a flattened metadata key.
const MAX_LIST_INDEX: usize = 10_000;

/// The metadata tree `meta` as flat `(key, value)` pairs, sorted by key; empty maps and
/// lists vanish, nulls are skipped, scalars are written as SOPS writes them.
pub fn flatten(meta: &Value) -> Vec<(String, String)> {
    let mut flat = Vec::new();
    if let Value::Object(map) = meta {
        for (k, v) in map {
            flatten_into(&mut flat, k.clone(), v);
        }
    }
    flat.sort_by(|a, b| a.0.cmp(&b.0));
    flat
}

fn flatten_into(out: &mut Vec<(String, String)>, key: String, value: &Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten_into(out, format!("{key}{MAP_SEP}{k}"), v);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten_into(out, format!("{key}{LIST_SEP}{i}"), v);
            }
        }
        Value::Null => {}
        Value::Bool(b) => out.push((key, b.to_string())),
        Value::Number(n) => {
            let text = if n.is_i64() || n.is_u64() {
                n.to_string()
            } else {
                n.as_f64().map_or_else(|| n.to_string(), |f| format!("{f}"))
            };
            out.push((key, text));
        }
        Value::String(s) => out.push((key, s.clone())),
    }
}

/// Why a flat entry could not be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlatError {
    /// The key does not split into map keys and list indexes.
    BadKey,
    /// The same key twice, or a scalar where a collection is.
    Conflict,
    /// `shamir_threshold` is not an integer.
    BadThreshold,
}

/// Stores the flat entry `key = raw` under `root` (SOPS's `DecodeNewLines`,
/// `DecodeNonStrings` and `Unflatten`).
pub fn insert_flat(root: &mut Value, key: &str, raw: &str) -> Result<(), FlatError> {
    let value = match key {
        "mac_only_encrypted" => Value::Bool(raw == "true"),
        "shamir_threshold" => Value::from(raw.parse::<u64>().map_err(|_| FlatError::BadThreshold)?),
        _ => Value::String(raw.replace("\\n", "\n")),
    };
    let tokens = tokenize(key).ok_or(FlatError::BadKey)?;
    insert(root, &tokens, value).ok_or(FlatError::Conflict)
}

/// One segment of a flattened metadata key.
enum Token {
    /// A map key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// SOPS's `tokenize`: splits a flattened key at `__map_` and `__list_` separators.
fn tokenize(path: &str) -> Option<Vec<Token>> {
    #[derive(Clone, Copy)]
    enum State {
        Normal,
        Map,
        List,
    }
    let mut tokens = Vec::new();
    let mut state = State::Normal;
    let mut last = 0;
    let mut i = 0;
    let finish = |state: State, last: usize, i: usize, tokens: &mut Vec<Token>| -> Option<()> {
        tokens.push(match state {
            State::Normal => Token::Key(path[last..i].to_string()),
            State::Map => Token::Key(path[last + MAP_SEP.len()..i].to_string()),
            State::List => {
                let n: usize = path[last + LIST_SEP.len()..i].parse().ok()?;
                if n > MAX_LIST_INDEX {
                    return None;
                }
                Token::Index(n)
            }
        });
        Some(())
    };
    while i < path.len() {
        if path[i..].starts_with(MAP_SEP) {
            finish(state, last, i, &mut tokens)?;
            last = i;
            state = State::Map;
            i += MAP_SEP.len();
        } else if path[i..].starts_with(LIST_SEP) {
            finish(state, last, i, &mut tokens)?;
            last = i;
            state = State::List;
            i += LIST_SEP.len();
        } else {
            i += path[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    finish(state, last, i, &mut tokens)?;
    Some(tokens)
}

/// Stores `value` at `tokens` under `node`, creating maps and lists on the way (SOPS's
/// `Unflatten`). `None` when the keys conflict.
fn insert(node: &mut Value, tokens: &[Token], value: Value) -> Option<()> {
    let Some((first, rest)) = tokens.split_first() else {
        *node = value;
        return Some(());
    };
    let child = match first {
        Token::Key(k) => {
            if node.is_null() {
                *node = Value::Object(Map::new());
            }
            node.as_object_mut()?
                .entry(k.clone())
                .or_insert(Value::Null)
        }
        Token::Index(n) => {
            if node.is_null() {
                *node = Value::Array(Vec::new());
            }
            let list = node.as_array_mut()?;
            if list.len() <= *n {
                list.resize(*n + 1, Value::Null);
            }
            &mut list[*n]
        }
    };
    if rest.is_empty() && !child.is_null() {
        return None;
    }
    insert(child, rest, value)
}
