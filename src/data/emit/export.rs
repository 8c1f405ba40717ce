//! `export NAME='value'` lines for `eval "$(sealed decrypt --output-type export …)"` in
//! any POSIX shell: every value is single-quoted, and a `'` inside is written `'\''`, so no
//! character of a value (`$`, `` ` ``, `\`, `"`, line breaks) is ever interpreted. Names
//! must be shell identifiers; a name that is not is an error, never written.

use zeroize::Zeroizing;

use crate::data::flatten::{flatten_node, is_identifier};
use crate::data::{DataError, Node};
use crate::format::Syntax;

/// Writes the variables of `node` as `export` lines.
pub fn emit(
    node: &Node,
    source: Syntax,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Zeroizing<String>, DataError> {
    let mut vars = flatten_node(node, source)?;
    vars.retain(|v| keep(&v.name));
    if let Some(bad) = vars.iter().find(|v| !is_identifier(&v.name)) {
        return Err(DataError::NotIdentifier(bad.name.clone()));
    }
    let mut out = Zeroizing::new(String::new());
    for var in vars {
        out.push_str("export ");
        out.push_str(&var.name);
        out.push('=');
        single_quote(&var.value, &mut out);
        out.push('\n');
    }
    Ok(out)
}

/// Appends `value` as one POSIX shell word in single quotes.
pub fn single_quote(value: &str, out: &mut String) {
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes() {
        let mut out = String::new();
        single_quote("it's $x \\ \"q\"\n", &mut out);
        assert_eq!(out, "'it'\\''s $x \\ \"q\"\n'");
    }

    #[test]
    fn refuses_non_identifiers() {
        let data = crate::data::load("a.b=1\n", Syntax::Dotenv).unwrap();
        let e = emit(&data.root, Syntax::Dotenv, &|_| true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"a.b\" is not a shell variable name ([A-Za-z_][A-Za-z0-9_]*), so it cannot be exported"
        );
    }
}
