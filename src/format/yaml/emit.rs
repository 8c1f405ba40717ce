//! Writing YAML: the canonical spelling of a decrypted value in a given style, and the
//! `sops` metadata block in the layout SOPS 3.11 writes (4-space indentation).

use serde_json::Value;
use std::borrow::Cow;

use super::resolve;
use crate::codec::value::go_float;
use crate::format::{Scalar, Style};

/// Can `s` be written as a plain scalar and read back as the same string?
pub fn plain_safe(s: &str, in_flow: bool) -> bool {
    let layout = if s.is_ascii() {
        ascii_plain_safe(s.as_bytes(), in_flow)
    } else {
        chars_plain_safe(s, in_flow)
    };
    layout && resolves_to_string(s)
}

/// [`chars_plain_safe`] for ASCII text, in one pass over its bytes (every value of a
/// big file goes through it when decrypting).
fn ascii_plain_safe(b: &[u8], in_flow: bool) -> bool {
    let blank = |c: u8| matches!(c, b'\t'..=b'\r' | b' ');
    let flow_indicator = |c: u8| matches!(c, b',' | b'[' | b']' | b'{' | b'}');
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return false;
    };
    if blank(first) || blank(last) || last == b':' {
        return false;
    }
    if b"-?:,[]{}#&*!|>'\"%@`".contains(&first) {
        let indicator_ok = matches!(first, b'-' | b'?' | b':')
            && b.get(1)
                .is_some_and(|&c| !(blank(c) || in_flow && flow_indicator(c)));
        if !indicator_ok {
            return false;
        }
    }
    for (i, &c) in b.iter().enumerate() {
        let next = b.get(i + 1).copied();
        if c < 0x20
            || c == 0x7f
            || c == b':' && next == Some(b' ')
            || c == b' ' && next == Some(b'#')
            || in_flow && flow_indicator(c)
        {
            return false;
        }
    }
    true
}

/// Whether a plain scalar `s` is read back as a string (not a number, boolean, null or
/// time, nor a YAML 1.1 boolean).
fn resolves_to_string(s: &str) -> bool {
    // YAML 1.1 readers (PyYAML's resolver, older tools) take these words as booleans.
    const YAML11_BOOLS: [&str; 12] = [
        "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
    ];
    !YAML11_BOOLS.contains(&s) && matches!(resolve::plain(Cow::Borrowed(s)), Scalar::Str(_))
}

/// The layout part of [`plain_safe`], for any text.
fn chars_plain_safe(s: &str, in_flow: bool) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if first.is_whitespace() || s.ends_with(char::is_whitespace) {
        return false;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        let second = s[first.len_utf8()..].chars().next();
        let indicator_ok = matches!(first, '-' | '?' | ':')
            && second.is_some_and(|c| !(c.is_whitespace() || in_flow && ",[]{}".contains(c)));
        if !indicator_ok {
            return false;
        }
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') || s.contains('\t') {
        return false;
    }
    if s.chars().any(|c| {
        c.is_control() || c == '\u{feff}' || c == '\u{2028}' || c == '\u{2029}' || c == '\u{85}'
    }) {
        return false;
    }
    !(in_flow && s.contains([',', '[', ']', '{', '}']))
}

/// A double-quoted scalar with YAML's short escapes.
pub fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{a0}' => out.push_str("\\_"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            '\u{feff}' => out.push_str("\\ufeff"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn plain_typed(value: &Scalar) -> Option<String> {
    Some(match value {
        Scalar::Null => "null".into(),
        Scalar::Int(i) => i.to_string(),
        Scalar::Bool(b) => b.to_string(),
        Scalar::Float(f) if f.is_nan() => ".nan".into(),
        Scalar::Float(f) if f.is_infinite() => (if *f > 0.0 { ".inf" } else { "-.inf" }).into(),
        Scalar::Float(f) => {
            let s = go_float(*f);
            if s.contains(['.', 'e', 'E']) {
                s
            } else {
                format!("{s}.0")
            }
        }
        Scalar::Time(t) => t.to_string(),
        Scalar::Str(_) => return None,
    })
}

/// The canonical spelling of `value` where a scalar of `style` stood.
pub fn render(style: &Style, in_flow: bool, value: &Scalar) -> String {
    if let Some(typed) = plain_typed(value) {
        return typed;
    }
    let Scalar::Str(s) = value else {
        unreachable!("non-strings handled above")
    };
    match style {
        Style::Plain if plain_safe(s, in_flow) => s.to_string(),
        Style::SingleQuoted if !s.contains(['\n', '\r']) && !s.chars().any(char::is_control) => {
            format!("'{}'", s.replace('\'', "''"))
        }
        Style::Block(b) => {
            let (indent, literal, eol) = (&b.indent, &b.literal, b.eol);
            let content = s.trim_end_matches('\n');
            if !*literal && content.contains('\n') {
                // Folding is not reproduced canonically; the original spelling is kept.
                return String::new();
            }
            content
                .split('\n')
                .map(|l| {
                    if l.is_empty() {
                        String::new()
                    } else {
                        format!("{indent}{l}")
                    }
                })
                .collect::<Vec<_>>()
                .join(eol)
        }
        _ => double_quoted(s),
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) if plain_safe(s, false) => s.clone(),
        Value::String(s) => double_quoted(s),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn emit(v: &Value, indent: usize, lines: &mut Vec<String>, prefix: &str) {
    let pad = |n: usize| format!("{prefix}{}", " ".repeat(n));
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                emit_entry(k, val, indent, lines, prefix, &pad(indent));
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(m) if !m.is_empty() => {
                        let mut first = true;
                        for (k, val) in m {
                            let lead = if first {
                                format!("{}- ", pad(indent))
                            } else {
                                pad(indent + 2)
                            };
                            first = false;
                            emit_entry(k, val, indent + 2, lines, prefix, &lead);
                        }
                    }
                    other => lines.push(format!("{}- {}", pad(indent), scalar_text(other))),
                }
            }
        }
        other => lines.push(format!("{}{}", pad(indent), scalar_text(other))),
    }
}

fn emit_entry(
    k: &str,
    val: &Value,
    indent: usize,
    lines: &mut Vec<String>,
    prefix: &str,
    lead: &str,
) {
    let key = scalar_text(&Value::String(k.to_string()));
    match val {
        Value::Object(m) if !m.is_empty() => {
            lines.push(format!("{lead}{key}:"));
            emit(val, indent + 4, lines, prefix);
        }
        Value::Array(a) if !a.is_empty() => {
            lines.push(format!("{lead}{key}:"));
            emit(val, indent + 4, lines, prefix);
        }
        Value::Object(_) => lines.push(format!("{lead}{key}: {{}}")),
        Value::Array(_) => lines.push(format!("{lead}{key}: []")),
        Value::String(s) if s.contains('\n') && !s.contains('\r') && !s.starts_with(' ') => {
            let header = if s.ends_with('\n') { "|" } else { "|-" };
            lines.push(format!("{lead}{key}: {header}"));
            let body = s.strip_suffix('\n').unwrap_or(s);
            for l in body.split('\n') {
                if l.is_empty() {
                    lines.push(String::new());
                } else {
                    lines.push(format!("{prefix}{}{l}", " ".repeat(indent + 2)));
                }
            }
        }
        other => lines.push(format!("{lead}{key}: {}", scalar_text(other))),
    }
}

/// The `sops:` entry as block YAML at `member_indent`, lines joined by `eol`, no final
/// line break. `lastmodified` is quoted, as SOPS writes it.
pub fn metadata_block(meta: &Value, member_indent: &str, eol: &str) -> String {
    let mut lines = vec![format!("{member_indent}sops:")];
    emit(meta, 4, &mut lines, member_indent);
    lines.join(eol)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ascii_pass_agrees_with_the_char_pass() {
        let pieces = [
            "", "a", " ", "\t", "\r", "\x0b", ":", ": ", " #", "#", "-", "- ", "-a", "?", "?x",
            ",", "[", "]", "{", "}", "&", "*", "!", "|", ">", "'", "\"", "%", "@", "`", "x y",
            "\x01", "\x7f", "1", "yes", "~", "a:b", "a:", "#a",
        ];
        for a in pieces {
            for b in pieces {
                for c in ["", "z", " ", ":", "#"] {
                    let s = format!("{a}{b}{c}");
                    for in_flow in [false, true] {
                        assert_eq!(
                            ascii_plain_safe(s.as_bytes(), in_flow),
                            chars_plain_safe(&s, in_flow),
                            "{s:?} in_flow={in_flow}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn plain_safety() {
        assert!(plain_safe("hunter2", false));
        assert!(!plain_safe("true", false));
        assert!(!plain_safe("5432", false));
        assert!(!plain_safe("a: b", false));
        assert!(!plain_safe("a,b", true));
        assert!(plain_safe("3.11.0", false));
        assert!(!plain_safe("2026-11-23T04:29:21Z", false));
    }

    #[test]
    fn block_metadata_layout() {
        let v: Value = serde_json::json!({
            "age": [{"recipient": "age1x", "enc": "-----BEGIN AGE ENCRYPTED FILE-----\nabc\n-----END AGE ENCRYPTED FILE-----\n"}],
            "lastmodified": "2026-11-23T04:29:21Z",
            "version": "3.11.0"
        });
        let text = metadata_block(&v, "", "\n");
        assert_eq!(
            text,
            "sops:\n    age:\n        - recipient: age1x\n          enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----\n            abc\n            -----END AGE ENCRYPTED FILE-----\n    lastmodified: \"2026-11-23T04:29:21Z\"\n    version: 3.11.0"
        );
    }
}
