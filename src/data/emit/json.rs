//! JSON output: tab-indented as SOPS writes it, keys in document order, numbers and
//! booleans typed, and a final line break.

use zeroize::Zeroizing;

use super::typed_text;
use crate::data::Node;

/// Writes `node` as JSON.
pub fn emit(node: &Node) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    write_node(node, 0, &mut out);
    out.push('\n');
    out
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push('\t');
    }
}

fn write_node(node: &Node, depth: usize, out: &mut String) {
    match node {
        Node::Map(entries) if entries.is_empty() => out.push_str("{}"),
        Node::List(items) if items.is_empty() => out.push_str("[]"),
        Node::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                indent(out, depth + 1);
                string(k, out);
                out.push_str(": ");
                write_node(v, depth + 1, out);
            }
            out.push('\n');
            indent(out, depth);
            out.push('}');
        }
        Node::List(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                indent(out, depth + 1);
                write_node(v, depth + 1, out);
            }
            out.push('\n');
            indent(out, depth);
            out.push(']');
        }
        Node::Scalar(s) => match typed_text(s) {
            Some(t) => out.push_str(&t),
            None => string(super::converted_text(s), out),
        },
    }
}

/// A JSON string literal (the one JSON string writer).
pub(super) use crate::format::json::push_string as string;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::load;
    use crate::format::Syntax;

    #[test]
    fn typed_and_ordered() {
        let src = "b: 1\na:\n  port: 0x10\n  ratio: 1.50\n  on: true\n  none: ~\n  s: \"q\\\"\\n\\u0001\"\n  l: [x, {}, []]\n";
        let data = load(src, Syntax::Yaml).unwrap();
        let out = emit(&data.root);
        assert_eq!(
            out.as_str(),
            "{\n\t\"b\": 1,\n\t\"a\": {\n\t\t\"port\": 16,\n\t\t\"ratio\": 1.50,\n\t\t\"on\": true,\n\t\t\"none\": null,\n\t\t\"s\": \"q\\\"\\n\\u0001\",\n\t\t\"l\": [\n\t\t\t\"x\",\n\t\t\t{},\n\t\t\t[]\n\t\t]\n\t}\n}\n"
        );
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back["a"]["s"], "q\"\n\u{1}");
    }
}
