//! Environment variables from a tree.
//!
//! YAML and JSON: the key path is joined with `_` and upper-cased (`db.password` →
//! `DB_PASSWORD`); list items are named by index (`hosts[0]` → `HOSTS_0`); any character
//! other than an ASCII letter, digit or `_` becomes `_` (`api-key` → `API_KEY`). A name
//! that would start with a digit is an error, and so are two key paths that give the same
//! name (both are named). Empty mappings and lists give no variable.
//!
//! dotenv: the keys are variable names already and are used exactly as written (after
//! `export ` is dropped).
//!
//! Values keep their text (`5432`, `0755`, `true`); null gives an empty value; multi-line
//! values stay multi-line. A value holding a NUL byte is an error (no environment variable
//! can hold one).

use std::collections::HashMap;

use zeroize::Zeroizing;

use super::{Data, DataError, Node, Step, display_path};
use crate::format::Syntax;

/// One environment variable.
#[derive(Debug)]
pub struct Var {
    /// The variable name.
    pub name: String,
    /// The key path it comes from, for messages (`'db.password'`).
    pub path: String,
    /// The value. Wiped on drop.
    pub value: Zeroizing<String>,
}

/// The variables of a document, in document order.
pub fn flatten(data: &Data) -> Result<Vec<Var>, DataError> {
    flatten_node(&data.root, data.syntax)
}

/// The variables of a node (the top level of a document, or an extracted subtree).
pub fn flatten_node(node: &Node, syntax: Syntax) -> Result<Vec<Var>, DataError> {
    let mut out = Vec::new();
    let mut path = Vec::new();
    if syntax == Syntax::Dotenv {
        dotenv_vars(node, &mut out)?;
    } else {
        walk(node, &mut path, &mut out)?;
    }
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for v in &out {
        if let Some(first) = seen.insert(&v.name, &v.path) {
            return Err(DataError::Collision {
                first: first.to_string(),
                second: v.path.clone(),
                name: v.name.clone(),
            });
        }
    }
    Ok(out)
}

fn dotenv_vars(node: &Node, out: &mut Vec<Var>) -> Result<(), DataError> {
    let Node::Map(entries) = node else {
        return Err(DataError::NotMapping);
    };
    for (key, value) in entries {
        let path = display_path(&[Step::Key(key.clone())]);
        let Node::Scalar(s) = value else {
            return Err(DataError::Shape(format!("{path} is not a scalar")));
        };
        if key.contains('\0') || key.contains('=') || key.is_empty() {
            return Err(DataError::BadName {
                path,
                name: key.clone(),
            });
        }
        push(out, key.clone(), path, s.value_text())?;
    }
    Ok(())
}

fn walk(node: &Node, path: &mut Vec<Step>, out: &mut Vec<Var>) -> Result<(), DataError> {
    match node {
        Node::Map(entries) => {
            for (k, v) in entries {
                path.push(Step::Key(k.clone()));
                walk(v, path, out)?;
                path.pop();
            }
        }
        Node::List(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(Step::Index(i));
                walk(v, path, out)?;
                path.pop();
            }
        }
        Node::Scalar(s) => {
            let name = var_name(path);
            let shown = display_path(path);
            if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(DataError::BadName { path: shown, name });
            }
            push(out, name, shown, s.value_text())?;
        }
    }
    Ok(())
}

fn push(out: &mut Vec<Var>, name: String, path: String, value: &str) -> Result<(), DataError> {
    if value.contains('\0') {
        return Err(DataError::Nul(path));
    }
    out.push(Var {
        name,
        path,
        value: Zeroizing::new(value.to_string()),
    });
    Ok(())
}

/// The variable name of a key path: segments joined with `_`, upper-cased, every other
/// character than `[A-Z0-9_]` replaced by `_`.
pub fn var_name(path: &[Step]) -> String {
    let mut name = String::new();
    for (i, step) in path.iter().enumerate() {
        if i > 0 {
            name.push('_');
        }
        match step {
            Step::Key(k) => name.extend(k.chars().map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })),
            Step::Index(n) => name.push_str(&n.to_string()),
        }
    }
    name
}

/// Whether `name` can be a POSIX shell variable: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(src: &str, syntax: Syntax) -> Result<Vec<(String, String)>, DataError> {
        let data = super::super::load(src, syntax)?;
        Ok(flatten(&data)?
            .into_iter()
            .map(|v| (v.name, v.value.to_string()))
            .collect())
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn nested_keys_and_lists() {
        let src = "db:\n  password: hunter2\n  port: 5432\n  mode: 0755\n  on: True\n  ratio: 1.50\n  none: ~\nhosts: [a, b]\napi-key: k\nmulti: |\n  l1\n  l2\nempty: {}\n";
        assert_eq!(
            vars(src, Syntax::Yaml).unwrap(),
            pairs(&[
                ("DB_PASSWORD", "hunter2"),
                ("DB_PORT", "5432"),
                ("DB_MODE", "0755"),
                ("DB_ON", "True"),
                ("DB_RATIO", "1.50"),
                ("DB_NONE", ""),
                ("HOSTS_0", "a"),
                ("HOSTS_1", "b"),
                ("API_KEY", "k"),
                ("MULTI", "l1\nl2\n"),
            ])
        );
    }

    #[test]
    fn collisions_name_both_paths() {
        let e = vars("db:\n  password: x\ndb_password: y\n", Syntax::Yaml).unwrap_err();
        assert_eq!(
            e.to_string(),
            "'db.password' and 'db_password' both become the variable DB_PASSWORD"
        );
        let e = vars("{\"a-b\": 1, \"A_B\": 2}", Syntax::Json).unwrap_err();
        assert!(matches!(e, DataError::Collision { .. }));
    }

    #[test]
    fn bad_names_and_nul() {
        assert!(matches!(
            vars("1st: x\n", Syntax::Yaml),
            Err(DataError::BadName { .. })
        ));
        let e = vars("a: \"x\\0y\"\n", Syntax::Yaml).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the value at 'a' contains a NUL byte, which an environment variable cannot hold"
        );
    }

    #[test]
    fn dotenv_keys_stay_as_written() {
        assert_eq!(
            vars("export lower_Case=1\nX.Y=2\n", Syntax::Dotenv).unwrap(),
            pairs(&[("lower_Case", "1"), ("X.Y", "2")])
        );
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("_A1"));
        assert!(!is_identifier("1A"));
        assert!(!is_identifier("A-B"));
        assert!(!is_identifier(""));
    }
}
