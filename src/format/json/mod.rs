//! JSON (RFC 8259) as an [`Outline`].
//!
//! The scanner is hand-written because sealed needs the byte span of every value, which
//! `serde_json` does not give. It is strict: it accepts exactly RFC 8259's grammar (every
//! `y_` file of JSONTestSuite whose top level is an object, and none of its `n_` files),
//! with two deliberate limits: the top level must be an object (SOPS's rule), and escapes
//! that decode to a lone UTF-16 surrogate are rejected (a Rust `String` cannot hold one,
//! and `serde_json` rejects them too). A leading UTF-8 byte order mark is allowed.
//!
//! It is iterative (an explicit stack, no recursion) and refuses documents nested more than
//! [`MAX_DEPTH`] containers deep, so hostile input cannot overflow the stack. Error messages
//! are fixed descriptions with a byte offset; they never quote source text, which may be a
//! secret.

use super::*;

pub mod data;
mod scan;

use scan::Parser;

/// The deepest container nesting accepted (the top-level object counts as one level).
pub const MAX_DEPTH: usize = 1000;

/// The JSON syntax.
pub struct Json;

impl Format for Json {
    fn parse_detail<'s>(&self, src: &'s str, detail: Detail) -> Result<Outline<'s>, SyntaxError> {
        Parser::new(src, detail).run()
    }

    fn load_tree(&self, src: &str) -> Result<tree::Node, tree::DataError> {
        data::load(src)
    }

    fn token_affixes<'l>(&self, _leaf: &'l Leaf) -> (&'l str, &'static str, Style) {
        // A token holds only base64 and ASCII punctuation: no escaping is needed.
        ("\"", "\"", Style::JsonString)
    }

    fn spelled_canonically(&self, style: &Style, f: bool, value: &Scalar, original: &str) -> bool {
        match value {
            Scalar::Str(s) if needs_no_escape(s) => {
                original.len() == s.len() + 2
                    && original.starts_with('"')
                    && original.ends_with('"')
                    && &original[1..original.len() - 1] == s
            }
            _ => super::renders_as(self, style, f, value, original),
        }
    }

    fn render_str_into(&self, style: &Style, f: bool, s: &str, out: &mut Zeroizing<String>) {
        if needs_no_escape(s) {
            crate::codec::wipe::reserve_str(out, s.len() + 2);
            out.push('"');
            out.push_str(s);
            out.push('"');
        } else {
            super::push_rendered(self, style, f, &Scalar::Str(Cow::Borrowed(s)), out);
        }
    }

    fn render(&self, _style: &Style, _in_flow: bool, value: &Scalar) -> String {
        match value {
            Scalar::Null => "null".to_string(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => render_float(*f),
            Scalar::Str(s) | Scalar::Time(s) => json_string(s),
        }
    }

    fn metadata_text(&self, meta: &serde_json::Value, outline: &Outline, doc: &Document) -> String {
        if doc.indent_unit.is_empty() {
            // One-line (minified) document: keep it on one line.
            let compact = serde_json::to_string(meta).unwrap_or_else(|_| "{}".to_string());
            return format!("\"sops\":{compact}");
        }
        let pretty = pretty_json(meta, &doc.indent_unit);
        let sep = format!("{}{}", outline.eol, doc.member_indent);
        let mut out = String::with_capacity(pretty.len() + 16);
        out.push_str(&sep);
        out.push_str("\"sops\": ");
        for (i, line) in pretty.split('\n').enumerate() {
            if i > 0 {
                out.push_str(&sep);
            }
            out.push_str(line);
        }
        out
    }
}

/// A float as Go's `strconv.FormatFloat(f, 'f', -1, 64)` writes it (shortest round-trip
/// decimal, no exponent); infinities and NaN are not JSON numbers and become the strings
/// `"+Inf"`, `"-Inf"`, `"NaN"`.
fn render_float(f: f64) -> String {
    if f.is_nan() {
        "\"NaN\"".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "\"+Inf\"" } else { "\"-Inf\"" }.to_string()
    } else {
        format!("{f}")
    }
}

/// Whether `json_string` writes `s` between quotes unchanged (serde_json escapes only
/// `"`, `\\` and control characters).
fn needs_no_escape(s: &str) -> bool {
    s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\')
}

/// `s` as a JSON string literal ([`push_string`]).
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_string(s, &mut out);
    out
}

/// Appends `s` as a JSON string literal, spelled as `serde_json` spells it (`\"`, `\\`,
/// `\n`, `\r`, `\t`, `\b`, `\f`, other control characters as `\u00xx`, everything else
/// as is): the one JSON string writer of every JSON sealed writes (values, `set`,
/// `--output-type json`). Writes straight into `out`: no unwiped copy of a value.
pub fn push_string(s: &str, out: &mut String) {
    super::quote::push_double_quoted(s, out, |c, out| {
        if (c as u32) >= 0x20 {
            return false;
        }
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.push_str("\\u00");
        out.push(HEX[(c as usize) >> 4] as char);
        out.push(HEX[(c as usize) & 0xf] as char);
        true
    });
}

/// `value` pretty-printed with `indent` per level, lines joined by `\n`.
fn pretty_json(value: &serde_json::Value, indent: &str) -> String {
    use serde::Serialize;
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    if value.serialize(&mut ser).is_err() {
        return "{}".to_string();
    }
    String::from_utf8(buf).unwrap_or_else(|_| "{}".to_string())
}

#[cfg(test)]
mod tests;
