//! SOPS's `--extract` paths: `["db"]["password"]`, `["hosts"][0]`, read by the one path
//! parser in [`crate::edit::path`], and the selection of the node they name.

use super::{DataError, Node, Step};

/// Parses an `--extract` path with the one path parser, [`crate::edit::parse_path`] (the
/// syntax `set` and `unset` take); only the message differs, naming `--extract`.
pub fn parse(path: &str) -> Result<Vec<Step>, DataError> {
    crate::edit::parse_path(path).map_err(|e| DataError::BadPath {
        at: e.offset + 1,
        msg: e.msg,
    })
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
            // An unterminated key is reported at its opening quote (as `set` does).
            ("[\"db", 2),
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
