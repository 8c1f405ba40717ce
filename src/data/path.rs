//! SOPS's `--extract` paths: `["db"]["password"]`, `["hosts"][0]`. A key is a quoted
//! string (double or single quotes; a backslash escapes the next character), an index is a
//! decimal number; spaces are allowed around them.

use super::{DataError, Node, Step};

/// Parses an `--extract` path.
pub fn parse(path: &str) -> Result<Vec<Step>, DataError> {
    let chars: Vec<char> = path.chars().collect();
    let mut i = 0;
    let mut steps = Vec::new();
    let err = |at: usize, msg| DataError::BadPath { at: at + 1, msg };
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    while i < chars.len() {
        if chars[i] != '[' {
            return Err(err(i, "expected '['"));
        }
        i += 1;
        skip_ws(&mut i);
        match chars.get(i) {
            Some(&q @ ('"' | '\'')) => {
                i += 1;
                let mut key = String::new();
                loop {
                    match chars.get(i) {
                        None => return Err(err(i, "unterminated key")),
                        Some('\\') => {
                            let Some(&c) = chars.get(i + 1) else {
                                return Err(err(i, "unterminated key"));
                            };
                            key.push(c);
                            i += 2;
                        }
                        Some(&c) if c == q => {
                            i += 1;
                            break;
                        }
                        Some(&c) => {
                            key.push(c);
                            i += 1;
                        }
                    }
                }
                steps.push(Step::Key(key));
            }
            Some(c) if c.is_ascii_digit() => {
                let start = i;
                while chars.get(i).is_some_and(char::is_ascii_digit) {
                    i += 1;
                }
                let digits: String = chars[start..i].iter().collect();
                let n = digits.parse().map_err(|_| err(start, "index too large"))?;
                steps.push(Step::Index(n));
            }
            _ => return Err(err(i, "expected a quoted key or an index")),
        }
        skip_ws(&mut i);
        if chars.get(i) != Some(&']') {
            return Err(err(i, "expected ']'"));
        }
        i += 1;
        skip_ws(&mut i);
    }
    if steps.is_empty() {
        return Err(err(0, "empty path"));
    }
    Ok(steps)
}

/// The node at `steps`. The error names the first component that is missing, in the
/// path syntax (`["db"]["nope"]`).
pub fn select<'n>(root: &'n Node, steps: &[Step]) -> Result<&'n Node, DataError> {
    let mut node = root;
    for (depth, step) in steps.iter().enumerate() {
        let next = match (node, step) {
            (Node::Map(entries), Step::Key(k)) => {
                entries.iter().find(|(key, _)| key == k).map(|(_, v)| v)
            }
            (Node::List(items), Step::Index(i)) => items.get(*i),
            _ => None,
        };
        node = next.ok_or_else(|| DataError::NotFound(format(&steps[..=depth])))?;
    }
    Ok(node)
}

/// A path in `--extract` syntax (the same syntax `set` and `unset` take).
pub fn format(steps: &[Step]) -> String {
    crate::edit::display_path(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sops_paths() {
        assert_eq!(
            parse(r#"["db"]["pass\"word"][0]"#).unwrap(),
            [
                Step::Key("db".into()),
                Step::Key("pass\"word".into()),
                Step::Index(0)
            ]
        );
        assert_eq!(
            parse(" ['a'] [ 12 ] ").unwrap(),
            [Step::Key("a".into()), Step::Index(12)]
        );
    }

    #[test]
    fn rejects_malformed_paths_with_a_position() {
        for (p, at) in [
            ("db", 1),
            ("[db]", 2),
            ("[\"db\"", 6),
            ("[\"db", 5),
            ("", 1),
            ("[0][-1]", 5),
        ] {
            match parse(p) {
                Err(DataError::BadPath { at: got, .. }) => assert_eq!(got, at, "{p}"),
                other => panic!("{p}: {other:?}"),
            }
        }
    }

    #[test]
    fn select_names_the_missing_component() {
        let data = super::super::load("db:\n  hosts: [a]\n", crate::format::Syntax::Yaml).unwrap();
        let steps = parse(r#"["db"]["hosts"][0]"#).unwrap();
        assert!(matches!(select(&data.root, &steps), Ok(Node::Scalar(_))));
        let e = select(&data.root, &parse(r#"["db"]["nope"]["x"]"#).unwrap()).unwrap_err();
        assert_eq!(e.to_string(), r#"--extract: ["db"]["nope"] not found"#);
        let e = select(&data.root, &parse(r#"["db"]["hosts"][3]"#).unwrap()).unwrap_err();
        assert_eq!(e.to_string(), r#"--extract: ["db"]["hosts"][3] not found"#);
    }
}
