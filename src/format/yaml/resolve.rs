//! How Go's yaml.v3 (and so SOPS 3.11) types a plain scalar: null, bool, int (Go
//! `ParseInt` with base 0 after removing `_`), unsigned int, float, timestamp, else string.
//! [`classify`] is sealed's one YAML scalar typer: the engine's outline ([`plain`]) and the
//! typed tree of decrypted data ([`super::typing`]) both map its answer to their types.

use crate::format::Scalar;
use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

/// The layouts yaml.v3 accepts (`allowedTimestampFormats`): a date; a date, `T`/`t`, a
/// time and a zone (`Z` or `±hh:mm`); a date, a space and a time without a zone.
static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:(?:[Tt]([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:\.([0-9]+))?(Z|[-+][0-9]{2}:[0-9]{2}))|(?: ([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:\.([0-9]+))?))?$",
    )
    .unwrap()
});

/// Go's `time.Format(time.RFC3339)` of a YAML timestamp (no fractional seconds; a missing
/// zone is UTC).
fn timestamp(s: &str) -> Option<String> {
    let c = TIMESTAMP.captures(s)?;
    let num = |i: usize| {
        c.get(i)
            .map_or(0, |m| m.as_str().parse::<u32>().unwrap_or(0))
    };
    let (y, mo, d) = (num(1), num(2), num(3));
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let spaced = c.get(9).is_some();
    let (h, mi, se) = if spaced {
        (num(9), num(10), num(11))
    } else {
        (num(4), num(5), num(6))
    };
    if h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let zone = match c.get(8).map(|m| m.as_str()) {
        None | Some("Z") => "Z".to_string(),
        Some(z) => {
            let sign = &z[..1];
            let rest: String = z[1..].chars().filter(|c| *c != ':').collect();
            let (hh, mm) = if rest.len() <= 2 {
                (rest.parse::<u32>().ok()?, 0)
            } else {
                (
                    rest[..rest.len() - 2].parse().ok()?,
                    rest[rest.len() - 2..].parse().ok()?,
                )
            };
            if hh == 0 && mm == 0 {
                "Z".to_string()
            } else {
                format!("{sign}{hh:02}:{mm:02}")
            }
        }
    };
    Some(format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{se:02}{zone}"
    ))
}

/// The first raw YAML 1.1 line break (U+0085, U+2028 or U+2029) in `src`, and a message
/// for it. yaml.v3 (so sops) reads these characters as line breaks, anywhere: in a plain
/// scalar (`a: x` + U+2028 is `x` for sops), a block scalar, around folded quoted text, or
/// in a comment (whatever follows on the line becomes YAML). YAML 1.2, which sealed's
/// parser follows, reads them as characters, so sealed would encrypt other data than sops
/// reads: such a file is refused. Written as escapes in double quotes (`\N`, `\L`, `\P`)
/// they mean the same to both.
pub fn yaml11_break(src: &str) -> Option<(usize, &'static str)> {
    let b = src.as_bytes();
    memchr::memchr2_iter(0xC2, 0xE2, b).find_map(|i| match b.get(i..i + 3) {
        Some([0xE2, 0x80, 0xA8]) => Some((
            i,
            "a raw U+2028 (line separator): sops reads it as a line break; write it as \\L in double quotes",
        )),
        Some([0xE2, 0x80, 0xA9]) => Some((
            i,
            "a raw U+2029 (paragraph separator): sops reads it as a line break; write it as \\P in double quotes",
        )),
        _ if b.get(i..i + 2) == Some(&[0xC2, 0x85]) => Some((
            i,
            "a raw U+0085 (next line): sops reads it as a line break; write it as \\N in double quotes",
        )),
        _ => None,
    })
}

/// What yaml.v3's `resolve` makes of an untagged plain scalar (decoding into
/// `interface{}`, as SOPS does).
#[derive(Debug, Clone, PartialEq)]
pub enum Plain {
    /// `""`, `~`, `null`, `Null`, `NULL`.
    Null,
    /// `true`/`True`/`TRUE`, `false`/`False`/`FALSE` (`yes`, `on`… are strings).
    Bool(bool),
    /// Go's `strconv.ParseInt(s, 0, 64)` after removing `_`: decimal, `0x`, `0o`, `0b`, a
    /// leading `0` meaning octal, optional sign.
    Int(i64),
    /// Go's `strconv.ParseUint(s, 0, 64)` of what `ParseInt` refused: 2^63 to 2^64−1.
    Uint(u64),
    /// A float: `.inf`, `.nan` and their spellings, or a finite float (`^[-+]?(\.[0-9]+|
    /// [0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$` after removing `_`; a text starting with
    /// `.` as Go's `ParseFloat` reads it, without `_`). A spelling beyond a 64-bit
    /// float's range is a string (Go's `ParseFloat` fails with `ErrRange`).
    Float(f64),
    /// A timestamp in one of yaml.v3's layouts, as Go's `time.Format(time.RFC3339)`.
    Time(String),
    /// Anything else.
    Str,
}

/// yaml.v3's resolution of an untagged plain scalar: the one YAML scalar typer.
pub fn classify(s: &str) -> Plain {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Plain::Null,
        "true" | "True" | "TRUE" => return Plain::Bool(true),
        "false" | "False" | "FALSE" => return Plain::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Plain::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Plain::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Plain::Float(f64::NAN),
        _ => {}
    }
    match s.as_bytes()[0] {
        b'.' => {
            // yaml.v3 tries strconv.ParseFloat on the text as is: Go accepts a `_` only
            // between two digits (`.1_0` is 0.1; `._5`, `.5_` and `.1__0` are strings).
            if !go_underscores_ok(s) {
                return Plain::Str;
            }
            let s = &s.replace('_', "");
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
                && let Some(f) = finite_float(s)
            {
                return Plain::Float(f);
            }
            Plain::Str
        }
        first @ (b'0'..=b'9' | b'+' | b'-') => {
            // A timestamp starts with a four-digit year and `-` (checked before the regex,
            // which is built only when a text gets that far).
            if first.is_ascii_digit()
                && s.len() >= 8
                && s.as_bytes()[..4].iter().all(u8::is_ascii_digit)
                && s.as_bytes()[4] == b'-'
                && let Some(t) = timestamp(s)
            {
                return Plain::Time(t);
            }
            let plain = s.replace('_', "");
            if let Some(i) = go_parse_int(&plain) {
                return Plain::Int(i);
            }
            if let Some(u) = go_parse_uint(&plain) {
                return Plain::Uint(u);
            }
            if is_yaml_style_float(&plain)
                && let Some(f) = finite_float(&plain)
            {
                return Plain::Float(f);
            }
            Plain::Str
        }
        _ => Plain::Str,
    }
}

/// Go's `underscoreOK` for a decimal number: every `_` stands between two digits.
fn go_underscores_ok(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().all(|(i, &c)| {
        c != b'_'
            || (i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit))
    })
}

/// A finite float, or `None` (overflow: Go's ParseFloat fails with ErrRange; underflow
/// is 0).
fn finite_float(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|f| f.is_finite())
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

/// Types a plain (unquoted, untagged) scalar as yaml.v3 does, for SOPS's typed plaintext
/// ([`classify`]). An integer from 2^63 to 2^64−1 (an unsigned integer to yaml.v3, which
/// SOPS cannot encrypt) is a float.
pub fn plain(text: Cow<'_, str>) -> Scalar<'_> {
    match classify(&text) {
        Plain::Null => Scalar::Null,
        Plain::Bool(b) => Scalar::Bool(b),
        Plain::Int(i) => Scalar::Int(i),
        Plain::Uint(u) => Scalar::Float(u as f64),
        Plain::Float(f) => Scalar::Float(f),
        Plain::Time(t) => Scalar::Time(t.into()),
        Plain::Str => Scalar::Str(text),
    }
}

/// Types a scalar with an explicit tag (`!!str`, `!!int`, …); unknown tags give strings.
pub fn tagged<'s>(suffix: &str, text: Cow<'s, str>) -> Scalar<'s> {
    let value: &str = &text;
    match suffix {
        "str" => Scalar::Str(text),
        "null" => Scalar::Null,
        "int" | "float" | "bool" | "timestamp" => match plain(text.clone()) {
            Scalar::Null => Scalar::Str(text),
            Scalar::Int(i) if suffix == "float" => Scalar::Float(i as f64),
            v => v,
        },
        "binary" => {
            use base64::Engine as _;
            let compact: String = value.split_whitespace().collect();
            match base64::engine::general_purpose::STANDARD.decode(compact) {
                Ok(bytes) => Scalar::Str(String::from_utf8_lossy(&bytes).into_owned().into()),
                Err(_) => Scalar::Str(text),
            }
        }
        _ => Scalar::Str(text),
    }
}

/// Whether a `!!binary` value is base64 of UTF-8 text (or not base64 at all, which is then
/// read as the text it is).
pub fn binary_is_text(value: &str) -> bool {
    use base64::Engine as _;
    let compact: String = value.split_whitespace().collect();
    match base64::engine::general_purpose::STANDARD.decode(compact) {
        Ok(bytes) => std::str::from_utf8(&bytes).is_ok(),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_like_yaml_v3() {
        assert_eq!(plain("yes".into()), Scalar::Str("yes".into()));
        assert_eq!(plain("True".into()), Scalar::Bool(true));
        assert_eq!(plain("0x10".into()), Scalar::Int(16));
        assert_eq!(plain("007".into()), Scalar::Int(7));
        assert_eq!(plain("1e3".into()), Scalar::Float(1000.0));
        assert_eq!(plain("1_000".into()), Scalar::Int(1000));
        assert_eq!(plain("3.11.0".into()), Scalar::Str("3.11.0".into()));
        assert_eq!(
            plain("2024-01-01".into()),
            Scalar::Time("2024-01-01T00:00:00Z".into())
        );
        // yaml.v3 has no layout for a space-separated time with a zone: a string, as in sops.
        assert_eq!(
            plain("2001-12-14 21:59:43.10 -5".into()),
            Scalar::Str("2001-12-14 21:59:43.10 -5".into())
        );
        assert_eq!(
            plain("2001-12-14 21:59:43.10".into()),
            Scalar::Time("2001-12-14T21:59:43Z".into())
        );
        assert_eq!(
            plain("2001-12-14t21:59:43.10-05:00".into()),
            Scalar::Time("2001-12-14T21:59:43-05:00".into())
        );
        assert_eq!(
            plain("2001-12-14T21:59:43".into()),
            Scalar::Str("2001-12-14T21:59:43".into())
        );
        assert_eq!(plain("~".into()), Scalar::Null);
        assert_eq!(plain("99999999999999999999".into()), Scalar::Float(1e20));
        // Out of a float's range: a string, as Go's ParseFloat fails (underflow is 0).
        for big in ["1e400", "-1e400", "1e4_00", "+1.8e308"] {
            assert_eq!(plain(big.into()), Scalar::Str(big.into()));
        }
        assert_eq!(plain("1e-400".into()), Scalar::Float(0.0));
    }

    /// One table of plain scalars, each with what yaml.v3 decodes it to; the engine's
    /// typed plaintext ([`plain`]) and the data tree's type ([`super::super::typing`])
    /// must both follow [`classify`].
    #[test]
    fn one_typer_for_outline_and_tree() {
        use crate::format::tree::Kind;
        use serde_json::Number;
        let table: &[(&str, Plain)] = &[
            ("", Plain::Null),
            ("~", Plain::Null),
            ("NULL", Plain::Null),
            ("True", Plain::Bool(true)),
            ("FALSE", Plain::Bool(false)),
            ("yes", Plain::Str),
            ("0", Plain::Int(0)),
            ("-0", Plain::Int(0)),
            ("+7", Plain::Int(7)),
            ("1_000", Plain::Int(1000)),
            ("0x1F", Plain::Int(31)),
            ("0X1f", Plain::Int(31)),
            ("0o17", Plain::Int(15)),
            ("0O17", Plain::Int(15)),
            ("0b101", Plain::Int(5)),
            ("-0b101", Plain::Int(-5)),
            ("010", Plain::Int(8)),
            ("09", Plain::Float(9.0)),
            ("9223372036854775807", Plain::Int(i64::MAX)),
            ("-9223372036854775808", Plain::Int(i64::MIN)),
            ("9223372036854775808", Plain::Uint(1 << 63)),
            ("18446744073709551615", Plain::Uint(u64::MAX)),
            ("0xFFFFFFFFFFFFFFFF", Plain::Uint(u64::MAX)),
            ("18446744073709551616", Plain::Float(18446744073709551616.0)),
            ("-9223372036854775809", Plain::Float(-9223372036854775809.0)),
            ("0x10000000000000000", Plain::Str),
            ("1e3", Plain::Float(1000.0)),
            ("1.", Plain::Float(1.0)),
            ("+.5", Plain::Float(0.5)),
            (".5", Plain::Float(0.5)),
            (".5e-1", Plain::Float(0.05)),
            ("1_0.5", Plain::Float(10.5)),
            (".1_0", Plain::Float(0.1)),
            (".1_0e1_0", Plain::Float(1e9)),
            ("._5", Plain::Str),
            (".1__0", Plain::Str),
            (".5_", Plain::Str),
            (".e3", Plain::Str),
            ("1e400", Plain::Str),
            ("1e-400", Plain::Float(0.0)),
            (".inf", Plain::Float(f64::INFINITY)),
            ("-.Inf", Plain::Float(f64::NEG_INFINITY)),
            ("0x", Plain::Str),
            ("-", Plain::Str),
            ("+", Plain::Str),
            ("_1", Plain::Str),
            ("1.2.3", Plain::Str),
            ("0x1p3", Plain::Str),
            ("2024-01-01", Plain::Time("2024-01-01T00:00:00Z".into())),
            ("2024-13-01", Plain::Str),
        ];
        for (text, want) in table {
            assert_eq!(&classify(text), want, "{text:?}");
            let outline = match want {
                Plain::Null => Scalar::Null,
                Plain::Bool(b) => Scalar::Bool(*b),
                Plain::Int(i) => Scalar::Int(*i),
                Plain::Uint(u) => Scalar::Float(*u as f64),
                Plain::Float(f) => Scalar::Float(*f),
                Plain::Time(t) => Scalar::Time(t.clone().into()),
                Plain::Str => Scalar::Str((*text).into()),
            };
            assert_eq!(plain((*text).into()), outline, "outline: {text:?}");
            let tree = match want {
                Plain::Null => Kind::Null,
                Plain::Bool(b) => Kind::Bool(*b),
                Plain::Int(i) => Kind::Number((*i).into()),
                Plain::Uint(u) => Kind::Number((*u).into()),
                Plain::Float(f) if f.is_finite() => Kind::Number(Number::from_f64(*f).unwrap()),
                Plain::Time(t) => Kind::Time(t.clone()),
                Plain::Float(_) | Plain::Str => Kind::Str,
            };
            assert_eq!(
                super::super::typing::resolve_plain(text),
                tree,
                "tree: {text:?}"
            );
        }
    }

    #[test]
    fn yaml_1_1_line_breaks_are_found() {
        assert_eq!(yaml11_break("a: x\n# é ü\n"), None);
        for (src, at, esc) in [
            ("a: x\u{2028}\n", 4, "\\L"),
            ("a: 'é\u{2029}'\n", 6, "\\P"),
            ("# c\u{85}a: 1\n", 3, "\\N"),
        ] {
            let (off, msg) = yaml11_break(src).expect("found");
            assert_eq!(off, at, "{src:?}");
            assert!(msg.contains(esc), "{msg}");
        }
    }
}
