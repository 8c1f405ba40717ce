//! sealed's TOML metadata layout: a `[sops]` table at the end of the file, after one blank
//! line, holding the same fields as the YAML `sops:` block, one `key = value` line each
//! (collections as inline arrays and inline tables, strings as basic strings).

use serde_json::{Map, Number, Value};
use toml_edit::{Item as TItem, Table, Value as TValue};

use super::super::{SopsEntry, SyntaxError};
use super::{content_end, key_text, push_basic_string};

/// The `[sops]` table's text as the engine inserts it after a line break at the end of the
/// content: a blank line, the header, then one line per field (no final line break).
pub fn text(meta: &Value, eol: &str) -> String {
    let mut out = String::new();
    out.push_str(eol);
    out.push_str("[sops]");
    if let Value::Object(map) = meta {
        for (k, v) in map {
            if v.is_null() {
                continue;
            }
            out.push_str(eol);
            out.push_str(&key_text(k));
            out.push_str(" = ");
            inline(v, &mut out);
        }
    }
    out
}

/// `v` as an inline TOML value.
fn inline(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("\"\""),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let t = n.to_string();
            let float = n.is_f64() && !t.contains(['.', 'e', 'E']);
            out.push_str(&t);
            if float {
                out.push_str(".0");
            }
        }
        Value::String(s) => push_basic_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                inline(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let members: Vec<_> = m.iter().filter(|(_, v)| !v.is_null()).collect();
            if members.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push_str("{ ");
            for (i, (k, x)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&key_text(k));
                out.push_str(" = ");
                inline(x, out);
            }
            out.push_str(" }");
        }
    }
}

/// The document's `sops` entry: it must be a `[sops]` table (its own header) that holds
/// only inline values, the last table of the file. The removal takes back exactly what
/// [`text`] and the engine's insertion added (the two line breaks before the header
/// included).
pub fn entry(src: &str, base: usize, root: &Table, item: &TItem) -> Result<SopsEntry, SyntaxError> {
    let key_at = root
        .key("sops")
        .and_then(|k| k.span())
        .map_or(base, |s| base + s.start);
    let bad = |msg: &'static str| SyntaxError::new(key_at, msg);
    let TItem::Table(t) = item else {
        return Err(bad(
            "the top-level key sops is reserved for the [sops] metadata table",
        ));
    };
    if t.is_dotted() || t.is_implicit() {
        return Err(bad(
            "the top-level key sops is reserved for the [sops] metadata table",
        ));
    }
    let header = t.span().map_or(key_at, |s| base + s.start);
    let mut start = header;
    for _ in 0..2 {
        if src[..start].ends_with("\r\n") {
            start -= 2;
        } else if src[..start].ends_with('\n') {
            start -= 1;
        }
    }
    let value = table_json(t).ok_or_else(|| bad("the [sops] table holds a table header"))?;
    let after = root
        .iter()
        .filter(|(k, _)| *k != "sops")
        .find_map(|(_, item)| header_after(item, header - base));
    if let Some(at) = after {
        return Err(SyntaxError::new(
            base + at,
            "the [sops] metadata table must be the last table of the file",
        ));
    }
    Ok(SopsEntry {
        value,
        removal: start..content_end(src).max(start),
        restore: "",
    })
}

/// The offset of a table header in `item` that comes after `pos`.
fn header_after(item: &TItem, pos: usize) -> Option<usize> {
    let in_table = |t: &Table| {
        let own = t.span().map(|s| s.start).filter(|&s| s > pos);
        own.or_else(|| t.iter().find_map(|(_, i)| header_after(i, pos)))
    };
    match item {
        TItem::Table(t) => in_table(t),
        TItem::ArrayOfTables(a) => a.iter().find_map(in_table),
        _ => None,
    }
}

/// A table of inline values as JSON (None when it holds a table header of its own).
fn table_json(t: &Table) -> Option<Value> {
    let mut map = Map::new();
    for (k, item) in t.iter() {
        let v = match item {
            TItem::None => continue,
            TItem::Value(v) => value_json(v),
            TItem::Table(sub) if sub.is_dotted() => table_json(sub)?,
            _ => return None,
        };
        map.insert(k.to_string(), v);
    }
    Some(Value::Object(map))
}

/// A TOML value as JSON (datetimes as their text).
pub(super) fn value_json(v: &TValue) -> Value {
    match v {
        TValue::String(s) => Value::String(s.value().clone()),
        TValue::Integer(i) => Value::Number((*i.value()).into()),
        TValue::Float(f) => Number::from_f64(*f.value()).map_or(Value::Null, Value::Number),
        TValue::Boolean(b) => Value::Bool(*b.value()),
        TValue::Datetime(d) => Value::String(d.value().to_string()),
        TValue::Array(a) => Value::Array(a.iter().map(value_json).collect()),
        TValue::InlineTable(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.to_string(), value_json(v)))
                .collect(),
        ),
    }
}
