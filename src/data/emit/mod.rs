//! Writing a tree out: JSON, YAML, dotenv, or `export` lines for a POSIX shell.
//!
//! JSON and YAML keep the structure and the types (a number stays a number; its text is
//! kept when it is a valid JSON number, so `1.50` stays `1.50`, while YAML-only spellings
//! such as `0x10` are written as the number they mean). dotenv and `export` write the
//! variables of [`super::flatten`], so they name values exactly as `sealed exec` does.

mod dotenv;
mod export;
mod ini;
mod json;
mod yaml;

use zeroize::Zeroizing;

use super::{DataError, Kind, Node, Scalar};
use crate::format::Syntax;

/// The shapes `--output-type` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputType {
    /// JSON, tab-indented like SOPS's output.
    Json,
    /// YAML, block style, two-space indentation.
    Yaml,
    /// `NAME=value` lines, with the flattening of `sealed exec`.
    Dotenv,
    /// `export NAME='value'` lines for `eval` in a POSIX shell.
    Export,
    /// INI: sections of values, as sops's INI store writes them.
    Ini,
    /// sops's binary store: the top-level `data` string, as it is.
    Binary,
}

impl OutputType {
    /// The output type that writes the same syntax as `syntax`.
    pub fn of_syntax(syntax: Syntax) -> OutputType {
        match syntax {
            Syntax::Yaml => OutputType::Yaml,
            Syntax::Json => OutputType::Json,
            Syntax::Dotenv => OutputType::Dotenv,
            // No TOML writer: a TOML subtree is written as JSON.
            Syntax::Toml => OutputType::Json,
            Syntax::Ini => OutputType::Ini,
            Syntax::Binary => OutputType::Binary,
        }
    }

    /// The syntax this output type writes, when it is one of the three.
    pub fn syntax(self) -> Option<Syntax> {
        match self {
            OutputType::Yaml => Some(Syntax::Yaml),
            OutputType::Json => Some(Syntax::Json),
            OutputType::Dotenv => Some(Syntax::Dotenv),
            OutputType::Ini => Some(Syntax::Ini),
            OutputType::Binary => Some(Syntax::Binary),
            OutputType::Export => None,
        }
    }
}

/// Writes `node` (read from a document of `source` syntax) as `ty`. Ends with a line break
/// unless there is nothing to write.
pub fn emit(node: &Node, source: Syntax, ty: OutputType) -> Result<Zeroizing<String>, DataError> {
    emit_with(node, source, ty, &|_| true)
}

/// [`emit`], writing only the variables whose name `keep` accepts (dotenv and `export`).
pub fn emit_with(
    node: &Node,
    source: Syntax,
    ty: OutputType,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Zeroizing<String>, DataError> {
    match ty {
        OutputType::Json => Ok(json::emit(node)),
        OutputType::Yaml => Ok(yaml::emit(node)),
        OutputType::Dotenv => dotenv::emit(node, source, keep),
        OutputType::Export => export::emit(node, source, keep),
        OutputType::Ini => ini::emit(node),
        OutputType::Binary => crate::format::binary::unwrap(node),
    }
}

/// How a number is spelled in JSON or YAML output: its text when that is a JSON number
/// of the same kind (integer or not), else the number's canonical form.
fn number_text(n: &serde_json::Number, text: &str) -> String {
    let fractional = text.contains(['.', 'e', 'E']);
    if is_json_number(text) && fractional == n.is_f64() {
        text.to_string()
    } else {
        n.to_string()
    }
}

/// RFC 8259's number grammar.
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if b.first() == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// The JSON/YAML spelling of a non-string scalar.
fn typed_text(s: &Scalar) -> Option<String> {
    match &s.kind {
        Kind::Null => Some("null".into()),
        Kind::Bool(b) => Some(b.to_string()),
        Kind::Number(n) => Some(number_text(n, &s.text)),
        Kind::Str | Kind::Time(_) => None,
    }
}

/// The text a converted string scalar is written with: a YAML timestamp as sops writes
/// it in JSON and INI (RFC 3339, `2025-01-02T00:00:00Z`), any other string as it is.
fn converted_text(s: &Scalar) -> &str {
    match &s.kind {
        Kind::Time(rfc3339) => rfc3339,
        _ => s.value_text(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_numbers() {
        for ok in ["0", "-0", "12", "1.50", "1e3", "-1.5E-7"] {
            assert!(is_json_number(ok), "{ok}");
        }
        for bad in [
            "", "-", "01", "0x10", "+1", ".5", "1.", "1e", "1_000", "inf",
        ] {
            assert!(!is_json_number(bad), "{bad}");
        }
        let f = serde_json::Number::from_f64(1.0).unwrap();
        assert_eq!(number_text(&f, "1"), "1.0");
        assert_eq!(number_text(&16.into(), "0x10"), "16");
        assert_eq!(number_text(&f, "1.00"), "1.00");
    }
}
