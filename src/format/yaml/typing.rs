//! How a scalar is typed when YAML is loaded as data: Go's `gopkg.in/yaml.v3` decoding into
//! `interface{}` (what SOPS does). See [`super::value`] for the rules. A string is always
//! the scalar's own text, so the result is a [`Kind`] and the caller keeps the text.

use saphyr_parser::{ScalarStyle, Tag};
use serde_json::Number;

use super::resolve::{Plain, classify};
use crate::format::tree::Kind;

/// The type of a scalar (a string's content is its text).
pub(super) fn resolve_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
) -> Result<Kind, &'static str> {
    if let Some(tag) = tag {
        let core = if tag.handle == "tag:yaml.org,2002:" {
            Some(tag.suffix.as_str())
        } else if tag.handle.is_empty() || tag.handle == "!" {
            // Verbatim `!<tag:yaml.org,2002:int>` arrives with the full tag as the suffix.
            tag.suffix.strip_prefix("tag:yaml.org,2002:")
        } else {
            None
        };
        return match core {
            Some("null") => match resolve_plain(text) {
                Kind::Null => Ok(Kind::Null),
                _ => Err("value does not match its !!null tag"),
            },
            Some("bool") => match resolve_plain(text) {
                v @ Kind::Bool(_) => Ok(v),
                _ => Err("value does not match its !!bool tag"),
            },
            Some("int") => match resolve_plain(text) {
                Kind::Number(n) if !n.is_f64() => Ok(Kind::Number(n)),
                _ => Err("value does not match its !!int tag"),
            },
            Some("float") => match resolve_plain(text) {
                Kind::Number(n) => Ok(n
                    .as_f64()
                    .and_then(Number::from_f64)
                    .map_or(Kind::Number(n), Kind::Number)),
                Kind::Str if is_special_float(text) => Ok(Kind::Str),
                _ => Err("value does not match its !!float tag"),
            },
            _ => Ok(Kind::Str),
        };
    }
    match style {
        ScalarStyle::Plain => Ok(resolve_plain(text)),
        _ => Ok(Kind::Str),
    }
}

/// `.inf`, `.nan` and their spellings: floats to YAML, which JSON cannot hold.
fn is_special_float(s: &str) -> bool {
    matches!(classify(s), Plain::Float(f) if !f.is_finite())
}

/// yaml.v3's resolution of an untagged plain scalar ([`classify`]) as a tree scalar's
/// type: a float JSON cannot hold (`.inf`, `.nan`) stays a string, and a timestamp a
/// string with its RFC 3339 form beside it, their text as written.
pub(super) fn resolve_plain(s: &str) -> Kind {
    match classify(s) {
        Plain::Null => Kind::Null,
        Plain::Bool(b) => Kind::Bool(b),
        Plain::Int(i) => Kind::Number(i.into()),
        Plain::Uint(u) => Kind::Number(u.into()),
        Plain::Float(f) => Number::from_f64(f).map_or(Kind::Str, Kind::Number),
        Plain::Time(t) => Kind::Time(t),
        Plain::Str => Kind::Str,
    }
}
