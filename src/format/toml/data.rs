//! The TOML data reader: a decrypted document as the typed tree ([`tree::Node`]), for
//! `exec`, `--extract` and `--output-type`. Strings are their decoded content; integers,
//! floats and booleans keep their spelling in the file (`0x10`, `1_000`, `1.50`) next to
//! their value; datetimes are strings holding their spelling (no other syntax has a
//! datetime type). Tables, arrays of tables and inline tables are mappings and lists.

use serde_json::Number;
use toml_edit::{Item as TItem, Table, Value as TValue};
use zeroize::Zeroizing;

use super::super::tree::{self, DataError, Kind, Node, Scalar};
use super::parse_doc;

/// Reads `src` as the typed tree.
pub fn load(src: &str) -> Result<Node, DataError> {
    let doc = parse_doc(src).map_err(|e| DataError::Syntax {
        offset: e.offset,
        msg: e.msg,
    })?;
    let base = super::bom_len(src);
    Ok(table(doc.as_table(), &src[base..]))
}

fn table(t: &Table, src: &str) -> Node {
    let mut members = Vec::with_capacity(t.len());
    for (k, item) in t.iter() {
        let node = match item {
            TItem::None => continue,
            TItem::Value(v) => value(v, src),
            TItem::Table(sub) => table(sub, src),
            TItem::ArrayOfTables(a) => Node::List(a.iter().map(|t| table(t, src)).collect()),
        };
        members.push((k.to_string(), node));
    }
    Node::Map(members)
}

fn value(v: &TValue, src: &str) -> Node {
    let written = || {
        v.span()
            .and_then(|r| src.get(r))
            .map_or_else(String::new, |s| s.trim().to_string())
    };
    let scalar = |kind: Kind, text: String| {
        Node::Scalar(Scalar {
            kind,
            text: Zeroizing::new(text),
        })
    };
    match v {
        TValue::String(s) => Node::Scalar(tree::Scalar::string(s.value().as_str())),
        TValue::Integer(i) => scalar(Kind::Number((*i.value()).into()), written()),
        TValue::Float(f) => match Number::from_f64(*f.value()) {
            Some(n) => scalar(Kind::Number(n), written()),
            // inf and nan are no JSON numbers: their spelling, as a string.
            None => scalar(Kind::Str, written()),
        },
        TValue::Boolean(b) => scalar(Kind::Bool(*b.value()), written()),
        TValue::Datetime(_) => scalar(Kind::Str, written()),
        TValue::Array(a) => Node::List(a.iter().map(|x| value(x, src)).collect()),
        TValue::InlineTable(t) => Node::Map(
            t.iter()
                .map(|(k, x)| (k.to_string(), value(x, src)))
                .collect(),
        ),
    }
}
