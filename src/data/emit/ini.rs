//! INI output, as sops's INI store writes a tree (go-ini's `WriteTo`, pretty format): one
//! `[section]` per top-level mapping (`DEFAULT` without a header, as go-ini writes it),
//! `=` aligned within a section, a blank line between sections. A value is quoted as
//! go-ini quotes it ([`crate::format::ini::spell`]). INI holds only sections of scalars:
//! a top-level scalar (as in sops: "Section values should always be TreeBranches"), a
//! deeper mapping or a list is refused.

use zeroize::Zeroizing;

use crate::data::{DataError, Node};
use crate::format::ini::{DEFAULT_SECTION, spell};

/// Writes `node` as INI.
pub fn emit(node: &Node) -> Result<Zeroizing<String>, DataError> {
    let Node::Map(sections) = node else {
        return Err(DataError::NotMapping);
    };
    let mut out = Zeroizing::new(String::new());
    for (name, section) in sections {
        let Node::Map(keys) = section else {
            return Err(DataError::Shape(format!(
                "INI holds sections of values only; {name} is not a mapping"
            )));
        };
        let headed = name != DEFAULT_SECTION;
        if !headed && keys.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        if headed {
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
                return Err(DataError::Shape(format!(
                    "INI holds sections of values only; {name}.{k} is a mapping or a list"
                )));
            };
            out.push_str(k);
            out.extend(std::iter::repeat_n(' ', width - k.chars().count()));
            out.push_str(" = ");
            let mut text = spell(super::converted_text(s));
            out.push_str(&text);
            zeroize::Zeroize::zeroize(&mut text);
            out.push('\n');
        }
    }
    Ok(out)
}
