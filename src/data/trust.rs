//! Which variables of a decrypted file an editor of its ciphertext could have chosen.
//!
//! SOPS's MAC covers the bytes of non-null values only, and a value's key path only when
//! the value is encrypted (the path is its additional data). So in a file whose layout
//! sealed did not authenticate (written by sops, or with sealed's field removed), an
//! editor without the key can add a key with a null or empty value (`path: ~`,
//! `DB_PASSWORD=`) and rename the key of a clear value. The variables those give are
//! **weak**: they never replace a variable already set (in the environment or by an
//! earlier value), and never set one that changes how a command is found or loaded
//! ([`steers_loading`]). A file whose layout sealed authenticated has no weak variable.

use std::collections::HashSet;

use super::flatten::flatten_node;
use super::{DataError, Node};
use crate::codec::token::is_token;
use crate::format::{Format, Item, Scalar, Syntax};

/// The weak variables of an encrypted file (`cipher`, its text as stored).
pub fn weak_names(cipher: &str, syntax: Syntax) -> Result<HashSet<String>, DataError> {
    match syntax {
        Syntax::Dotenv => dotenv_weak(cipher),
        _ => {
            let mut data = super::load(cipher, syntax)?;
            if let Node::Map(entries) = &mut data.root {
                entries.retain(|(k, _)| k != "sops");
            }
            Ok(flatten_node(&data.root, syntax)?
                .into_iter()
                .filter(|v| !is_token(&v.value))
                .map(|v| v.name)
                .collect())
        }
    }
}

/// The weak top-level keys, as written, of an encrypted file (`cipher`, its text as
/// stored): what `exec-env` names its variables by. A key whose value is a mapping or a
/// list is not listed (`exec-env` refuses it).
pub fn weak_top_keys(cipher: &str, syntax: Syntax) -> Result<HashSet<String>, DataError> {
    match syntax {
        Syntax::Dotenv => dotenv_weak(cipher),
        _ => {
            let data = super::load(cipher, syntax)?;
            let Node::Map(entries) = data.root else {
                return Ok(HashSet::new());
            };
            Ok(entries
                .into_iter()
                .filter(|(k, v)| {
                    k != "sops" && matches!(v, Node::Scalar(s) if !is_token(s.value_text()))
                })
                .map(|(k, _)| k)
                .collect())
        }
    }
}

/// dotenv: a key's last line decides its value; a weak last line after an encrypted one
/// would replace a secret (`DB_PASSWORD=` appended): refused.
fn dotenv_weak(cipher: &str) -> Result<HashSet<String>, DataError> {
    let outline = crate::format::dotenv::Dotenv
        .parse(cipher)
        .map_err(|e| DataError::Syntax {
            offset: e.offset,
            msg: e.msg,
        })?;
    let mut weak = HashSet::new();
    let mut strong = HashSet::new();
    for item in outline.docs.iter().flat_map(|d| d.items.iter()) {
        let Item::Leaf(leaf) = item else { continue };
        let Some(raw) = leaf.path.first() else {
            continue;
        };
        let name = super::dotenv::key_name(raw).to_string();
        let token = matches!(&leaf.value, Scalar::Str(s) if is_token(s));
        if token {
            weak.remove(&name);
            strong.insert(name);
        } else if strong.contains(&name) {
            return Err(DataError::WeakOverride { name });
        } else {
            weak.insert(name);
        }
    }
    Ok(weak)
}

/// Does a variable change how a command is found, loaded or configured (the search path,
/// the dynamic loader, interpreters' start-up files and options, sops's and sealed's own
/// settings)?
pub fn steers_loading(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "PATH",
        "HOME",
        "SHELL",
        "ENV",
        "BASH_ENV",
        "SHELLOPTS",
        "BASHOPTS",
        "IFS",
        "PS4",
        "CDPATH",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "NODE_OPTIONS",
        "NODE_PATH",
        "PERL5LIB",
        "PERL5OPT",
        "PERLLIB",
        "RUBYLIB",
        "RUBYOPT",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "JDK_JAVA_OPTIONS",
        "CLASSPATH",
        "GCONV_PATH",
        "LOCPATH",
        "NLSPATH",
        "TMPDIR",
    ];
    const PREFIXES: &[&str] = &["LD_", "DYLD_", "SOPS_", "SEALED_", "GIT_", "XDG_"];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Why a weak variable is not set, or `None` when it may be: `already` says whether the
/// name is set already (in the environment or by an earlier value).
pub fn refusal(name: &str, already: bool) -> Option<&'static str> {
    if steers_loading(name) {
        Some("it changes how commands are found or loaded")
    } else if already {
        Some("it would replace a value that is already set")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_yaml_names_are_the_ones_without_a_token() {
        let cipher = "db:\n  password: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n  \
                      path: ~\n  host_unencrypted: h\nsops:\n  mac: m\n";
        let weak = weak_names(cipher, Syntax::Yaml).unwrap();
        let mut w: Vec<_> = weak.into_iter().collect();
        w.sort();
        assert_eq!(w, ["DB_HOST_UNENCRYPTED", "DB_PATH"]);
    }

    #[test]
    fn weak_top_keys_are_written_as_in_the_file() {
        let cipher = "api_key: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\npath: ~\n\
                      db:\n  host: h\nhost_unencrypted: h\nsops:\n  mac: m\n";
        let mut w: Vec<_> = weak_top_keys(cipher, Syntax::Yaml)
            .unwrap()
            .into_iter()
            .collect();
        w.sort();
        assert_eq!(w, ["host_unencrypted", "path"]);
    }

    #[test]
    fn a_weak_dotenv_line_after_a_token_is_refused() {
        let t = "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]";
        let weak = weak_names(&format!("A={t}\nB=\n"), Syntax::Dotenv).unwrap();
        assert_eq!(weak.into_iter().collect::<Vec<_>>(), ["B"]);
        let e = weak_names(&format!("A={t}\nA=\n"), Syntax::Dotenv).unwrap_err();
        assert!(e.to_string().contains("'A'"), "{e}");
        // A token after a weak line makes the name strong.
        assert!(
            weak_names(&format!("A=\nA={t}\n"), Syntax::Dotenv)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn loader_variables() {
        for n in [
            "PATH",
            "LD_PRELOAD",
            "SOPS_AGE_KEY_CMD",
            "BASH_ENV",
            "DYLD_X",
        ] {
            assert!(steers_loading(n), "{n}");
            assert!(refusal(n, false).is_some());
        }
        assert!(!steers_loading("DB_PASSWORD"));
        assert!(refusal("DB_PASSWORD", false).is_none());
        assert!(refusal("DB_PASSWORD", true).is_some());
    }
}
