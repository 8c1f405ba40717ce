//! How a scalar is typed when YAML is loaded as data: Go's `gopkg.in/yaml.v3` decoding into
//! `interface{}` (what SOPS does). See [`super::value`] for the rules. A string is always
//! the scalar's own text, so the result is a [`Kind`] and the caller keeps the text.

use saphyr_parser::{ScalarStyle, Tag};
use serde_json::Number;

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

fn is_special_float(s: &str) -> bool {
    matches!(
        s,
        ".nan"
            | ".NaN"
            | ".NAN"
            | ".inf"
            | ".Inf"
            | ".INF"
            | "+.inf"
            | "+.Inf"
            | "+.INF"
            | "-.inf"
            | "-.Inf"
            | "-.INF"
    )
}

/// yaml.v3's resolution of an untagged plain scalar.
pub(super) fn resolve_plain(s: &str) -> Kind {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Kind::Null,
        "true" | "True" | "TRUE" => return Kind::Bool(true),
        "false" | "False" | "FALSE" => return Kind::Bool(false),
        _ => {}
    }
    if is_special_float(s) {
        return Kind::Str;
    }
    match s.as_bytes().first() {
        Some(b'.') => {
            // yaml.v3 tries strconv.ParseFloat on the text as is.
            let digits = &s[1..];
            let (mantissa, exp) = match digits.find(['e', 'E']) {
                Some(i) => (&digits[..i], Some(&digits[i + 1..])),
                None => (digits, None),
            };
            let exp_ok = exp.is_none_or(|e| {
                let e = e.strip_prefix(['+', '-']).unwrap_or(e);
                !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
            });
            if !mantissa.is_empty()
                && mantissa.bytes().all(|b| b.is_ascii_digit())
                && exp_ok
                && let Some(v) = finite_float(s)
            {
                return v;
            }
            Kind::Str
        }
        Some(b'0'..=b'9' | b'+' | b'-') => {
            let plain = s.replace('_', "");
            if let Some(i) = go_parse_int(&plain) {
                return Kind::Number(i.into());
            }
            if let Some(u) = go_parse_uint(&plain) {
                return Kind::Number(u.into());
            }
            if is_yaml_style_float(&plain)
                && let Some(v) = finite_float(&plain)
            {
                return v;
            }
            Kind::Str
        }
        _ => Kind::Str,
    }
}

/// A float that JSON can hold, or `None` (overflow: Go's ParseFloat fails with ErrRange).
fn finite_float(s: &str) -> Option<Kind> {
    let f: f64 = s.parse().ok()?;
    Number::from_f64(f).map(Kind::Number)
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Splits Go's base-0 integer syntax (after the sign) into radix and digits.
fn go_radix(s: &str) -> (u32, &str) {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b'0' {
        match b[1] {
            b'x' | b'X' => return (16, &s[2..]),
            b'b' | b'B' => return (2, &s[2..]),
            b'o' | b'O' => return (8, &s[2..]),
            _ => return (8, &s[1..]),
        }
    }
    (10, s)
}

/// Go's `strconv.ParseUint(s, 0, 64)` (no sign allowed).
fn go_parse_uint(s: &str) -> Option<u64> {
    let (radix, digits) = go_radix(s);
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
fn go_parse_int(s: &str) -> Option<i64> {
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = go_parse_uint(rest)?;
    if negative {
        if magnitude == 1u64 << 63 {
            Some(i64::MIN)
        } else {
            i64::try_from(magnitude).ok().map(|m| -m)
        }
    } else {
        i64::try_from(magnitude).ok()
    }
}
