//! SOPS's tree paths: `["db"]["password"]`, `['hosts'][0]` — the syntax of
//! `decrypt --extract`. A key is quoted with `"` or `'` (a backslash takes the next
//! character literally), an index is a decimal number; spaces may surround them. Keys are
//! names, not secrets, so they may appear in messages.

use crate::format::Step;

/// A tree path that could not be read: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid path at character {}: {msg}; write it as [\"key\"][0]…", .offset + 1)]
pub struct PathError {
    /// Character offset in the path text.
    pub offset: usize,
    /// What is wrong.
    pub msg: &'static str,
}

/// Parses a SOPS tree path.
pub fn parse(text: &str) -> Result<Vec<Step>, PathError> {
    let chars: Vec<char> = text.chars().collect();
    let err = |offset, msg| Err(PathError { offset, msg });
    let skip_ws = |i: &mut usize| {
        while chars.get(*i).is_some_and(|c| c.is_whitespace()) {
            *i += 1;
        }
    };
    let mut steps = Vec::new();
    let mut i = 0;
    skip_ws(&mut i);
    while i < chars.len() {
        if chars[i] != '[' {
            return err(i, "expected '['");
        }
        i += 1;
        skip_ws(&mut i);
        match chars.get(i) {
            Some(&q @ ('"' | '\'')) => {
                let start = i;
                i += 1;
                let mut key = String::new();
                loop {
                    match chars.get(i) {
                        None => return err(start, "unterminated key"),
                        Some('\\') => match chars.get(i + 1) {
                            Some(&c) => {
                                key.push(c);
                                i += 2;
                            }
                            None => return err(start, "unterminated key"),
                        },
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
                match digits.parse::<usize>() {
                    Ok(n) => steps.push(Step::Index(n)),
                    Err(_) => return err(start, "index too large"),
                }
            }
            Some(_) => return err(i, "expected a quoted key or an index"),
            None => return err(i, "unexpected end of path"),
        }
        skip_ws(&mut i);
        if chars.get(i) != Some(&']') {
            return err(i, "expected ']'");
        }
        i += 1;
        skip_ws(&mut i);
    }
    if steps.is_empty() {
        return err(0, "the path is empty");
    }
    Ok(steps)
}

/// Writes a path back in SOPS's syntax (for messages).
pub fn display(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| match s {
            Step::Key(k) => format!("[{}]", serde_json::to_string(k).unwrap_or_default()),
            Step::Index(i) => format!("[{i}]"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_and_indexes() {
        assert_eq!(
            parse(r#" ["db"] ['pass word'][ 0 ]["\"é\\"]"#).unwrap(),
            vec![
                Step::Key("db".into()),
                Step::Key("pass word".into()),
                Step::Index(0),
                Step::Key("\"é\\".into())
            ]
        );
        assert_eq!(display(&parse(r#"["a"][12]"#).unwrap()), r#"["a"][12]"#);
    }

    #[test]
    fn rejects_with_positions() {
        for (bad, at) in [
            ("", 0),
            ("db", 0),
            ("[db]", 1),
            (r#"["db""#, 5),
            (r#"["db"#, 1),
            ("[-1]", 1),
            ("[1", 2),
            ("[99999999999999999999999]", 1),
        ] {
            assert_eq!(parse(bad).unwrap_err().offset, at, "{bad}");
        }
    }
}
