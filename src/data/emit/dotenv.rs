//! dotenv output: `NAME=value` lines, with the variables `sealed exec` would set.
//!
//! A value made only of `[A-Za-z0-9_./:@%+,=-]` is written bare; otherwise in single quotes
//! when it has no `'`, no line break and no final backslash; otherwise in double quotes
//! with `\\`, `\"`, `\$`, `` \` ``, `\n`, `\r` and `\t` escapes. sealed reads every form
//! back to the same value (see [`crate::data::dotenv`]), and so do dotenv libraries
//! (those that expand `$VAR` leave the escaped or single-quoted forms alone).

use zeroize::Zeroizing;

use crate::data::flatten::flatten_node;
use crate::data::{DataError, Node};
use crate::format::Syntax;

/// Writes the variables of `node` as dotenv lines.
pub fn emit(
    node: &Node,
    source: Syntax,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Zeroizing<String>, DataError> {
    let mut out = Zeroizing::new(String::new());
    for var in flatten_node(node, source)?
        .into_iter()
        .filter(|v| keep(&v.name))
    {
        out.push_str(&var.name);
        out.push('=');
        quote(&var.value, &mut out);
        out.push('\n');
    }
    Ok(out)
}

/// Appends the dotenv spelling of `value`.
pub fn quote(value: &str, out: &mut String) {
    let bare = |c: char| c.is_ascii_alphanumeric() || "_./:@%+,=-".contains(c);
    if value.chars().all(bare) {
        out.push_str(value);
    } else if !value.contains(['\'', '\n', '\r']) && !value.ends_with('\\') {
        out.push('\'');
        out.push_str(value);
        out.push('\'');
    } else {
        out.push('"');
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '$' => out.push_str("\\$"),
                '`' => out.push_str("\\`"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dotenv::interpret;

    #[test]
    fn every_value_reads_back_the_same() {
        for v in [
            "",
            "plain",
            "with space",
            "it's",
            "q\"uote",
            "$HOME and ${X}",
            "back\\slash",
            "ends\\",
            "ends\\'",
            "multi\nline\n",
            "cr\r\n",
            "tab\t",
            "# hash",
            "a #b",
            "`tick`",
            "'",
            "\"",
            "=",
            "ünï",
        ] {
            let mut out = String::new();
            quote(v, &mut out);
            assert_eq!(interpret(&out).as_str(), v, "{v:?} written as {out}");
            assert!(!out.contains('\n'), "{out}");
        }
    }

    #[test]
    fn forms() {
        let mut out = String::new();
        for v in ["a-b", "a b", "it's"] {
            quote(v, &mut out);
            out.push(' ');
        }
        assert_eq!(out, "a-b 'a b' \"it's\" ");
    }
}
