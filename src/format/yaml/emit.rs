//! Writing YAML: the canonical spelling of a decrypted value in a given style, and the
//! `sops` metadata block in the layout SOPS 3.11 writes (4-space indentation).

use regex::Regex;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::LazyLock;

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

/// Whether a plain scalar `s` is read back as a string by every common YAML reader: not a
/// number, boolean, null or time for yaml.v3 (so SOPS), nor for a YAML 1.1 reader.
fn resolves_to_string(s: &str) -> bool {
    !yaml11_typed(s) && matches!(resolve::plain(Cow::Borrowed(s)), Scalar::Str(_))
}

/// The words YAML 1.1 readers (PyYAML, go-yaml v2, SnakeYAML, Psych) or YAML 1.2 readers
/// resolve to a boolean or null, compared without case (quoting more is harmless).
const TYPED_WORDS: [&str; 9] = ["y", "n", "yes", "no", "on", "off", "true", "false", "null"];

/// Numbers and times as any of those readers resolves them: YAML 1.1 integers (binary
/// `0b`, octal `0…` and YAML 1.2's `0o`, hex, `_` separators, Psych's `,` separators,
/// sexagesimal `1:30`), floats (`1.`, `.5`, `1e3`, sexagesimal `1:30.5`, `.inf`, `.nan`)
/// and timestamps (a date, or a date and a time with an optional zone).
static TYPED_NUMBER_OR_TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^(?:
          [-+]?(?:
            0b[01_]+
            |0o?[0-7_]+
            |0x[0-9a-f_]+
            |[0-9][0-9_,]*(?::[0-5]?[0-9])*
            |(?:[0-9][0-9_,]*)?\.[0-9_]*(?:e[-+]?[0-9]+)?
            |[0-9][0-9_,]*e[-+]?[0-9]+
            |[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
            |\.(?:inf|nan)
          )
          |[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}
           (?:(?:t|[\ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?
              (?:[\ \t]*(?:z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?
        )$",
    )
    .expect("valid regex")
});

/// Whether a YAML 1.1 or 1.2 reader resolves the plain scalar `s` to something other than
/// a string: a boolean or null word (`y`, `No`, `OFF`, `~`…), a number or time of
/// [`TYPED_NUMBER_OR_TIME`], or YAML 1.1's merge key `<<` and value key `=`.
pub fn yaml11_typed(s: &str) -> bool {
    match s.as_bytes().first() {
        None => true,
        Some(b'0'..=b'9' | b'+' | b'-' | b'.') => TYPED_NUMBER_OR_TIME.is_match(s),
        Some(b'~' | b'<' | b'=') => matches!(s, "~" | "<<" | "="),
        Some(_) => s.len() <= 5 && TYPED_WORDS.iter().any(|w| w.eq_ignore_ascii_case(s)),
    }
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
    if s.chars().any(needs_escape) {
        return false;
    }
    !(in_flow && s.contains([',', '[', ']', '{', '}']))
}

/// Whether a YAML writer must escape `c` (in a double-quoted scalar): control characters
/// (line breaks included), the YAML 1.1 line breaks U+0085, U+2028 and U+2029 (yaml.v3, so
/// SOPS, reads them as line breaks, folding or dropping them), a byte order mark and the
/// non-characters U+FFFE/U+FFFF (which yaml.v3 refuses as raw text).
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{feff}' | '\u{fffe}' | '\u{ffff}' | '\u{2028}' | '\u{2029}'
        )
}

/// A double-quoted scalar with YAML's short escapes.
pub fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_double_quoted(s, &mut out);
    out
}

/// Appends `s` as a double-quoted scalar with YAML's short escapes (the one quoting
/// function of every YAML writer in sealed: decrypted values, `set`, `--output-type yaml`,
/// metadata). Every character a YAML reader could take as a line break, or drop, is escaped.
pub fn push_double_quoted(s: &str, out: &mut String) {
    crate::format::quote::push_double_quoted(s, out, |c, out| {
        let short = match c {
            '\0' => "\\0",
            '\u{7}' => "\\a",
            '\u{b}' => "\\v",
            '\u{1b}' => "\\e",
            '\u{85}' => "\\N",
            '\u{a0}' => "\\_",
            '\u{2028}' => "\\L",
            '\u{2029}' => "\\P",
            c if (c as u32) < 0x20 || ('\u{7f}'..='\u{9f}').contains(&c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
                return true;
            }
            '\u{feff}' | '\u{fffe}' | '\u{ffff}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
                return true;
            }
            _ => return false,
        };
        out.push_str(short);
        true
    });
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
        Style::SingleQuoted if !s.chars().any(needs_escape) => {
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
                emit_entry(k, val, indent, lines, prefix, &pad(indent), false);
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
                            emit_entry(k, val, indent + 2, lines, prefix, &lead, true);
                        }
                    }
                    other => lines.push(format!("{}- {}", pad(indent), scalar_text(other))),
                }
            }
        }
        other => lines.push(format!("{}{}", pad(indent), scalar_text(other))),
    }
}

/// One `key: value` entry whose key is at column `indent`. As yaml.v3 (indent 4) does, a
/// collection value is indented 4 from where its parent starts: the key, or the `- ` of
/// the list item the key is in (`in_item`), so 2 from such a key (`key_groups` entries).
fn emit_entry(
    k: &str,
    val: &Value,
    indent: usize,
    lines: &mut Vec<String>,
    prefix: &str,
    lead: &str,
    in_item: bool,
) {
    let key = scalar_text(&Value::String(k.to_string()));
    let child = if in_item { indent + 2 } else { indent + 4 };
    match val {
        Value::Object(m) if !m.is_empty() => {
            lines.push(format!("{lead}{key}:"));
            emit(val, child, lines, prefix);
        }
        Value::Array(a) if !a.is_empty() => {
            lines.push(format!("{lead}{key}:"));
            emit(val, child, lines, prefix);
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
    fn strings_a_yaml_1_1_or_1_2_reader_types_are_quoted() {
        let typed = [
            "10:00",
            "1:30",
            "10:00:00",
            "-1:30",
            "190:20:30.15",
            "1_000",
            "1,000",
            "y",
            "Y",
            "n",
            "N",
            "yes",
            "Yes",
            "YES",
            "no",
            "NO",
            "on",
            "On",
            "off",
            "OFF",
            "oFf",
            "true",
            "False",
            "null",
            "NULL",
            "~",
            ".inf",
            "-.Inf",
            "+.INF",
            ".nan",
            ".NaN",
            "0o17",
            "017",
            "0x1F",
            "0X1f",
            "0b1",
            "-0b1_0",
            "1.",
            ".5",
            "1e3",
            "1E+3",
            "6.8523015e+5",
            "2001-12-14",
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14 21:59:43.10 -5",
            "2001-12-15 2:59:43.10",
            "<<",
            "=",
            "",
            "1e400",
            "08",
            "+12",
            "0",
        ];
        for s in typed {
            assert!(
                yaml11_typed(s) || !resolves_to_string(s),
                "{s:?} not seen as typed"
            );
            assert!(!plain_safe(s, false), "{s:?} would be written plain");
            // Written double-quoted wherever a plain scalar stood.
            let out = render(&Style::Plain, false, &Scalar::Str(s.into()));
            assert!(out.starts_with('"'), "{s:?} written as {out}");
        }
        let strings = [
            "hunter2",
            "3.11.0",
            "1.2.3",
            "10:60",
            "yess",
            "nope",
            "x:1",
            "a<<",
            "==",
            "-",
            "v1.0",
            "2001-12-14 notes",
            "age1abc",
            "ENC[AES256_GCM,data:x]",
            "x_1",
            "0.1.2",
        ];
        for s in strings {
            assert!(!yaml11_typed(s), "{s:?} seen as typed");
        }
        assert!(plain_safe("3.11.0", false) && plain_safe("hunter2", false));
    }

    #[test]
    fn line_breaks_of_yaml_1_1_and_raw_text_sops_refuses_are_escaped() {
        for (c, esc) in [
            ('\u{2028}', "\\L"),
            ('\u{2029}', "\\P"),
            ('\u{85}', "\\N"),
            ('\u{80}', "\\x80"),
            ('\u{9f}', "\\x9f"),
            ('\u{7f}', "\\x7f"),
            ('\u{fffe}', "\\ufffe"),
            ('\u{feff}', "\\ufeff"),
        ] {
            let s = format!("x{c}");
            assert!(!plain_safe(&s, false));
            assert_eq!(double_quoted(&s), format!("\"x{esc}\""));
            for style in [Style::Plain, Style::SingleQuoted, Style::DoubleQuoted] {
                assert_eq!(
                    render(&style, false, &Scalar::Str(s.as_str().into())),
                    double_quoted(&s)
                );
            }
        }
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

    #[test]
    fn key_groups_layout_is_yaml_v3s() {
        // As sops 3.11 writes it: a collection inside a list item is indented 4 from the
        // item's `- `, so 2 from its key.
        let v: Value = serde_json::json!({
            "shamir_threshold": 2,
            "key_groups": [{"pgp": [{"created_at": "t", "enc": "-----BEGIN PGP MESSAGE-----\n\nabc", "fp": "AB"}],
                            "hc_vault": [], "age": [{"recipient": "age1x", "enc": "E\n"}]}],
        });
        let text = metadata_block(&v, "", "\n");
        assert_eq!(
            text,
            "sops:\n    shamir_threshold: 2\n    key_groups:\n        - pgp:\n            - created_at: t\n              enc: |-\n                -----BEGIN PGP MESSAGE-----\n\n                abc\n              fp: AB\n          hc_vault: []\n          age:\n            - recipient: age1x\n              enc: |\n                E"
        );
    }
}
