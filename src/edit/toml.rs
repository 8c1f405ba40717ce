//! `set` and `unset` in a TOML document, through `toml_edit`'s format-preserving
//! `DocumentMut` (what `cargo add` uses): the value at the path is replaced keeping its
//! surrounding spacing and comment; a new key goes at the end of its table (a new table
//! becomes an inline table inside an inline one, else a `[table]` of its own); an index
//! past an array's end appends. The result is verified by the caller like every edit.

use serde_json::Value;
use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value as TValue};
use zeroize::Zeroizing;

use super::{EditError, display_path};
use crate::format::Step;

const NO_NULL: &str = "TOML has no null value";
const SHAPE: &str = "the path goes through a value that is not a table or an array";

/// Where the walk along a path stands.
enum Cur<'a> {
    Table(&'a mut Table),
    Inline(&'a mut InlineTable),
    Array(&'a mut Array),
    Tables(&'a mut ArrayOfTables),
    Scalar,
}

fn of_item(item: &mut Item) -> Cur<'_> {
    match item {
        Item::Table(t) => Cur::Table(t),
        Item::ArrayOfTables(a) => Cur::Tables(a),
        Item::Value(v) => of_value(v),
        Item::None => Cur::Scalar,
    }
}

fn of_value(v: &mut TValue) -> Cur<'_> {
    match v {
        TValue::InlineTable(t) => Cur::Inline(t),
        TValue::Array(a) => Cur::Array(a),
        _ => Cur::Scalar,
    }
}

/// One step of the walk; with `create`, a missing key is added (an array when the next
/// step is an index, else a table: inline inside an inline table).
fn step<'a>(cur: Cur<'a>, step: &Step, create: Option<bool>) -> Option<Cur<'a>> {
    match (cur, step) {
        (Cur::Table(t), Step::Key(k)) => {
            if let (false, Some(index)) = (t.contains_key(k), create) {
                let fresh = if index {
                    Item::Value(TValue::Array(Array::new()))
                } else {
                    Item::Table(Table::new())
                };
                t.insert(k, fresh);
            }
            t.get_mut(k).map(of_item)
        }
        (Cur::Inline(t), Step::Key(k)) => {
            if let (false, Some(index)) = (t.contains_key(k), create) {
                let fresh = if index {
                    TValue::Array(Array::new())
                } else {
                    TValue::InlineTable(InlineTable::new())
                };
                t.insert(k, fresh);
            }
            t.get_mut(k).map(of_value)
        }
        (Cur::Array(a), Step::Index(n)) => a.get_mut(*n).map(of_value),
        (Cur::Tables(a), Step::Index(n)) => a.get_mut(*n).map(Cur::Table),
        _ => None,
    }
}

/// `src` with the value at `steps` set to `value`.
pub fn set(src: &str, steps: &[Step], value: &Value) -> Result<Zeroizing<String>, EditError> {
    let mut doc = parse(src)?;
    let (last, parents) = steps.split_last().ok_or(EditError::Unsupported(SHAPE))?;
    let new = to_value(value)?;
    let mut cur = Cur::Table(doc.as_table_mut());
    for (i, s) in parents.iter().enumerate() {
        let index = matches!(steps[i + 1], Step::Index(_));
        cur = step(cur, s, Some(index)).ok_or(EditError::Unsupported(SHAPE))?;
    }
    match (cur, last) {
        (Cur::Table(t), Step::Key(k)) => put_in_table(t, k, new),
        (Cur::Inline(t), Step::Key(k)) => match t.get_mut(k) {
            Some(old) => replace(old, new),
            None => {
                t.insert(k, new);
            }
        },
        (Cur::Array(a), Step::Index(n)) => match a.get_mut(*n) {
            Some(old) => replace(old, new),
            None => a.push(new),
        },
        (Cur::Tables(a), Step::Index(n)) => {
            let TValue::InlineTable(t) = new else {
                return Err(EditError::Unsupported(
                    "an item of an array of tables must be a table",
                ));
            };
            let t = t.into_table();
            match a.get_mut(*n) {
                Some(old) => *old = t,
                None => a.push(t),
            }
        }
        _ => return Err(EditError::Unsupported(SHAPE)),
    }
    Ok(Zeroizing::new(doc.to_string()))
}

/// `src` without the value at `steps` (and its key).
pub fn unset(src: &str, steps: &[Step]) -> Result<Zeroizing<String>, EditError> {
    let mut doc = parse(src)?;
    let not_found = || EditError::NotFound {
        path: display_path(steps),
    };
    let (last, parents) = steps.split_last().ok_or_else(not_found)?;
    let mut cur = Cur::Table(doc.as_table_mut());
    for s in parents {
        cur = step(cur, s, None).ok_or_else(not_found)?;
    }
    let removed = match (cur, last) {
        (Cur::Table(t), Step::Key(k)) => t.remove(k).is_some(),
        (Cur::Inline(t), Step::Key(k)) => t.remove(k).is_some(),
        (Cur::Array(a), Step::Index(n)) if *n < a.len() => {
            a.remove(*n);
            true
        }
        (Cur::Tables(a), Step::Index(n)) if *n < a.len() => {
            a.remove(*n);
            true
        }
        _ => false,
    };
    if !removed {
        return Err(not_found());
    }
    Ok(Zeroizing::new(doc.to_string()))
}

fn parse(src: &str) -> Result<DocumentMut, EditError> {
    src.parse::<DocumentMut>().map_err(|_| EditError::Verify)
}

/// Puts `new` at `k` of a table, keeping the old value's spacing and comment.
fn put_in_table(t: &mut Table, k: &str, new: TValue) {
    match t.get_mut(k) {
        Some(Item::Value(old)) => replace(old, new),
        Some(slot) => *slot = Item::Value(new),
        None => {
            t.insert(k, Item::Value(new));
        }
    }
}

/// Replaces `old` by `new`, keeping `old`'s decoration (the spaces and comment around it).
fn replace(old: &mut TValue, mut new: TValue) {
    *new.decor_mut() = old.decor().clone();
    *old = new;
}

/// A JSON value as a TOML value.
fn to_value(v: &Value) -> Result<TValue, EditError> {
    Ok(match v {
        Value::Null => return Err(EditError::Unsupported(NO_NULL)),
        Value::Bool(b) => TValue::from(*b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => TValue::from(i),
            (None, Some(f)) => TValue::from(f),
            _ => return Err(EditError::Unsupported("a number TOML cannot hold")),
        },
        Value::String(s) => TValue::from(s.as_str()),
        Value::Array(a) => {
            let mut out = Array::new();
            for x in a {
                out.push(to_value(x)?);
            }
            TValue::Array(out)
        }
        Value::Object(m) => {
            let mut out = InlineTable::new();
            for (k, x) in m {
                out.insert(k, to_value(x)?);
            }
            TValue::InlineTable(out)
        }
    })
}
