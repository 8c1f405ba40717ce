//! How Go's yaml.v3 (and so SOPS 3.11) types a plain scalar: null, bool, int (Go
//! `ParseInt` with base 0 after removing `_`), float, timestamp, else string.

use crate::format::Scalar;
use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

static FLOAT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$").unwrap());
/// The layouts yaml.v3 accepts (`allowedTimestampFormats`): a date; a date, `T`/`t`, a
/// time and a zone (`Z` or `±hh:mm`); a date, a space and a time without a zone.
static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:(?:[Tt]([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:\.([0-9]+))?(Z|[-+][0-9]{2}:[0-9]{2}))|(?: ([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:\.([0-9]+))?))?$",
    )
    .unwrap()
});

/// Go's `strconv.ParseInt(s, 0, 64)`.
fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = if let Some(b) = lower.strip_prefix("0x") {
        (16, b)
    } else if let Some(b) = lower.strip_prefix("0o") {
        (8, b)
    } else if let Some(b) = lower.strip_prefix("0b") {
        (2, b)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(body, radix).ok()?;
    i64::try_from(if neg { -magnitude } else { magnitude }).ok()
}

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

/// Types a plain (unquoted, untagged) scalar as yaml.v3 does.
pub fn plain(text: Cow<'_, str>) -> Scalar<'_> {
    let s: &str = &text;
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return Scalar::Str(text);
    }
    let plain = s.replace('_', "");
    if let Some(i) = go_parse_int(&plain) {
        return Scalar::Int(i);
    }
    // Go's `ParseFloat` refuses a spelling beyond a 64-bit float's range (ErrRange), so
    // yaml.v3 reads `1e400` as a string where Rust's parser gives an infinity.
    if FLOAT.is_match(&plain)
        && let Ok(f) = plain.parse::<f64>()
        && f.is_finite()
    {
        return Scalar::Float(f);
    }
    if first.is_ascii_digit()
        && let Some(t) = timestamp(s)
    {
        return Scalar::Time(t.into());
    }
    Scalar::Str(text)
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
