//! YAML output: block style with two-space indentation, keys in document order. Strings
//! are plain when that is unambiguous for any YAML reader (they start with a letter, `_` or
//! `/`, hold no `: ` or ` #`, and no YAML 1.1 or 1.2 reader types them: not `null`, `y`,
//! `yes`, `on`… in any case);
//! multi-line strings are literal blocks (`|`, `|-` or `|+`) when they can be, and
//! everything else is double-quoted with escapes.

use zeroize::Zeroizing;

use super::typed_text;
use crate::data::{Node, Scalar};
use crate::format::yaml::{needs_escape, plain_safe, push_double_quoted};

/// Writes `node` as YAML.
pub fn emit(node: &Node) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    match node {
        Node::Map(e) if e.is_empty() => out.push_str("{}\n"),
        Node::List(l) if l.is_empty() => out.push_str("[]\n"),
        Node::Map(e) => write_map(e, 0, &mut out, false),
        Node::List(l) => write_list(l, 0, &mut out, false),
        Node::Scalar(s) => {
            let text = scalar(s, 2);
            out.push_str(text.trim_start_matches(' '));
        }
    }
    out
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn write_map(entries: &[(String, Node)], indent: usize, out: &mut String, inline: bool) {
    for (i, (k, v)) in entries.iter().enumerate() {
        if !(inline && i == 0) {
            pad(out, indent);
        }
        if is_plain(k) {
            out.push_str(k);
        } else {
            push_double_quoted(k, out);
        }
        out.push(':');
        write_value(v, indent, out);
    }
}

fn write_list(items: &[Node], indent: usize, out: &mut String, inline: bool) {
    for (i, v) in items.iter().enumerate() {
        if !(inline && i == 0) {
            pad(out, indent);
        }
        out.push('-');
        match v {
            Node::Map(e) if !e.is_empty() => {
                out.push(' ');
                write_map(e, indent + 2, out, true);
            }
            Node::List(l) if !l.is_empty() => {
                out.push(' ');
                write_list(l, indent + 2, out, true);
            }
            _ => write_value(v, indent, out),
        }
    }
}

/// The rest of a line after `key:` or `-`, and what follows it.
fn write_value(v: &Node, indent: usize, out: &mut String) {
    match v {
        Node::Map(e) if e.is_empty() => out.push_str(" {}\n"),
        Node::List(l) if l.is_empty() => out.push_str(" []\n"),
        Node::Map(e) => {
            out.push('\n');
            write_map(e, indent + 2, out, false);
        }
        Node::List(l) => {
            out.push('\n');
            write_list(l, indent + 2, out, false);
        }
        Node::Scalar(s) => out.push_str(&scalar(s, indent + 2)),
    }
}

/// A scalar after `key:` or `-` (with its leading space), through its final line break;
/// block content is indented by `content_indent`.
fn scalar(s: &Scalar, content_indent: usize) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::from(" "));
    if let Some(t) = typed_text(s) {
        out.push_str(&t);
        out.push('\n');
        return out;
    }
    let text: &str = &s.text;
    if is_plain(text) {
        out.push_str(text);
        out.push('\n');
    } else if can_be_literal(text) {
        let body = text.trim_end_matches('\n');
        let chomp = match text.len() - body.len() {
            0 => "-",
            1 => "",
            _ => "+",
        };
        out.push('|');
        out.push_str(chomp);
        out.push('\n');
        for line in body.split('\n') {
            if !line.is_empty() {
                pad(&mut out, content_indent);
                out.push_str(line);
            }
            out.push('\n');
        }
        // Kept trailing line breaks (`|+`) beyond the one ending the last line.
        for _ in 1..text.len() - body.len() {
            out.push('\n');
        }
    } else {
        push_double_quoted(text, &mut out);
        out.push('\n');
    }
    out
}

/// A string that every YAML reader takes as this same string when written plain: it starts
/// with a letter, `_` or `/`, holds only a few punctuation characters, and the writer
/// of decrypted values ([`plain_safe`]) would write it plain (no YAML 1.1 or 1.2 typing).
fn is_plain(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    (first.is_alphabetic() || first == '_' || first == '/')
        && s.chars()
            .all(|c| c.is_alphanumeric() || " _-./@%+=,:#()~".contains(c))
        && plain_safe(s, false)
}

/// A multi-line string a literal block holds exactly.
fn can_be_literal(s: &str) -> bool {
    s.contains('\n')
        && s.chars()
            .all(|c| c == '\n' || c == '\t' || !needs_escape(c))
        && s.split('\n')
            .find(|l| !l.is_empty())
            .is_some_and(|l| !l.starts_with([' ', '\t']))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::load;
    use crate::format::Syntax;
    use crate::format::yaml_value;

    const STRINGS: &[&str] = &[
        "plain",
        "with space",
        "",
        " lead",
        "trail ",
        "null",
        "Yes",
        "~",
        "123",
        "0x10",
        "1e3",
        ".inf",
        "2024-01-01",
        "a: b",
        "a #b",
        "a#b",
        "https://x.example/p?q=1",
        "-dash",
        "- item",
        "? q",
        "*alias",
        "&anchor",
        "!tag",
        "'single'",
        "\"double\"",
        "back\\slash",
        "tab\there",
        "line1\nline2",
        "line1\nline2\n",
        "line1\nline2\n\n\n",
        "\nleading",
        "  indented\nx\n",
        "x\n  indented\n",
        "last\n  ",
        "cr\r\nlf",
        "nul\u{0}x",
        "bell\u{7}",
        "nel\u{85}ls\u{2028}",
        "bom\u{feff}",
        "ünïcödé",
        "# not a comment",
        "---",
        "...",
        "x\n---\ny",
        "%YAML",
        "@at",
        "`tick",
        "{flow}",
        "[flow]",
        "a,b",
        "é: x",
        "key:",
    ];

    #[test]
    fn every_string_reads_back_the_same() {
        for s in STRINGS {
            let mut src = String::from("k:\n");
            src.push_str(&format!(
                "  v: {}\n",
                serde_json::Value::String(s.to_string())
            ));
            src.push_str(&format!(
                "  l: [{}]\n",
                serde_json::Value::String(s.to_string())
            ));
            src.push_str(&format!(
                "  {}: 1\n",
                serde_json::Value::String(s.to_string())
            ));
            let data = load(&src, Syntax::Yaml).unwrap_or_else(|e| panic!("{s:?}: {e}"));
            let out = emit(&data.root);
            let back = yaml_value::load(&out).unwrap_or_else(|e| panic!("{s:?}: {e:?}\n{}", &*out));
            let want = yaml_value::load(&src).unwrap();
            assert_eq!(back, want, "{s:?} gave\n{}", &*out);
        }
    }

    #[test]
    fn layout() {
        let src = "{db: {user: admin, port: 5432, hex: 0x10}, hosts: [a, {k: 1, m: [x, [z]]}], e: {}, l: [], m: \"l1\\nl2\\n\"}";
        let data = load(src, Syntax::Yaml).unwrap();
        assert_eq!(
            emit(&data.root).as_str(),
            "db:\n  user: admin\n  port: 5432\n  hex: 16\nhosts:\n  - a\n  - k: 1\n    m:\n      - x\n      - - z\ne: {}\nl: []\nm: |\n  l1\n  l2\n"
        );
    }
}
