//! INI output, as sops's INI store writes a tree (go-ini's `WriteTo`, pretty format): the
//! values of top-level scalars first without a header (go-ini's `DEFAULT`), then one
//! `[section]` per top-level mapping, `=` aligned within a section, a blank line between
//! sections. A value is quoted as go-ini quotes it ([`crate::format::ini::spell`]). INI
//! holds only sections of scalars: a deeper mapping or a list is refused.

use zeroize::Zeroizing;

use crate::data::{DataError, Node};
use crate::format::ini::{DEFAULT_SECTION, spell};

/// A section to write: its name (`None`: no header) and its entries.
type Section<'a> = (Option<&'a str>, Vec<(&'a str, &'a Node)>);

/// Writes `node` as INI.
pub fn emit(node: &Node) -> Result<Zeroizing<String>, DataError> {
    let Node::Map(entries) = node else {
        return Err(DataError::NotMapping);
    };
    let mut sections: Vec<Section> = Vec::new();
    let top: Vec<(&str, &Node)> = entries
        .iter()
        .filter(|(_, v)| matches!(v, Node::Scalar(_)))
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    for (name, value) in entries {
        match value {
            Node::Scalar(_) => {}
            Node::Map(keys) if name == DEFAULT_SECTION && top.is_empty() => {
                sections.insert(
                    0,
                    (None, keys.iter().map(|(k, v)| (k.as_str(), v)).collect()),
                );
            }
            Node::Map(keys) => sections.push((
                Some(name),
                keys.iter().map(|(k, v)| (k.as_str(), v)).collect(),
            )),
            Node::List(_) => return Err(shape(name)),
        }
    }
    if !top.is_empty() {
        sections.insert(0, (None, top));
    }
    let mut out = Zeroizing::new(String::new());
    for (i, (name, keys)) in sections.iter().enumerate() {
        if name.is_none() && keys.is_empty() {
            continue;
        }
        if i > 0 && !out.is_empty() {
            out.push('\n');
        }
        if let Some(name) = name {
            out.push('[');
            out.push_str(name);
            out.push_str("]\n");
        }
        let width = keys
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        for (k, v) in keys {
            let Node::Scalar(s) = v else {
                return Err(shape(&format!("{}.{k}", name.unwrap_or(DEFAULT_SECTION))));
            };
            out.push_str(k);
            out.extend(std::iter::repeat_n(' ', width - k.chars().count()));
            out.push_str(" = ");
            let mut text = spell(s.value_text());
            out.push_str(&text);
            zeroize::Zeroize::zeroize(&mut text);
            out.push('\n');
        }
    }
    Ok(out)
}

fn shape(path: &str) -> DataError {
    DataError::Shape(format!(
        "INI holds sections of values only; {path} is a nested mapping or a list"
    ))
}
