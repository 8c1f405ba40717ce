//! The environment of the command: every file decrypted, flattened into variables, later
//! files winning, then applied over (or under, with `--preserve-env`) the inherited
//! environment.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use zeroize::Zeroizing;

use crate::commands::Io;
use crate::commands::decrypt::{self, Identities};
use crate::data::{flatten, trust};
use crate::error::{Error, exit};

/// One variable to set.
pub struct Var {
    /// Its name.
    pub name: String,
    /// Its value. Wiped on drop.
    pub value: Zeroizing<String>,
}

/// Decrypts `files` in order and returns their variables; a name set by several files
/// takes the value of the last one (at the position it first had).
pub fn collect(
    files: &[PathBuf],
    input_type: Option<&str>,
    identities: &mut Identities,
) -> Result<Vec<Var>, Error> {
    let mut vars: Vec<Var> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for file in files {
        let plain = decrypt::decrypt_for_data(&io_for(file, input_type), identities)?;
        let data = plain.data()?;
        let flat = flatten::flatten(&data).map_err(|e| plain.data_error(e))?;
        let weak = plain.weak_names()?;
        for v in flat {
            if weak.contains(&v.name) {
                let already = index.contains_key(&v.name) || std::env::var_os(&v.name).is_some();
                if !admitted(&plain.name, &v.name, already) {
                    continue;
                }
            }
            match index.get(&v.name) {
                Some(&i) => vars[i].value = v.value,
                None => {
                    index.insert(v.name.clone(), vars.len());
                    vars.push(Var {
                        name: v.name,
                        value: v.value,
                    });
                }
            }
        }
    }
    Ok(vars)
}

/// Whether a weak variable (`data::trust`) may be set: not when it steers loading, nor
/// when `already` (the name is set already); a refusal is one warning line naming it.
pub fn admitted(file: &str, name: &str, already: bool) -> bool {
    match trust::refusal(name, already) {
        Some(why) => {
            eprintln!(
                "sealed: warning: {file}: {name} is not set: its value (empty, null or clear \
                 text) is not authenticated by the file's MAC and {why}"
            );
            false
        }
        None => true,
    }
}

/// How a file is read: like `sealed decrypt FILE [--input-type T]`.
pub fn io_for(file: &std::path::Path, input_type: Option<&str>) -> Io {
    Io {
        file: file.to_path_buf(),
        in_place: false,
        output: None,
        input_type: input_type.map(str::to_string),
        filename_override: None,
    }
}

/// Sets the variables on `cmd`. With `preserve`, a variable already in sealed's
/// environment keeps its value.
pub fn apply(cmd: &mut Command, vars: &[Var], preserve: bool) {
    for v in vars {
        if preserve && std::env::var_os(&v.name).is_some() {
            continue;
        }
        cmd.env(&v.name, v.value.as_str());
    }
}

/// Checks a variable name given on the command line.
pub fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.contains(['=', '\0']) {
        return Err(Error::other(
            exit::GENERIC,
            format!("{name:?} cannot be an environment variable name"),
        ));
    }
    Ok(())
}
