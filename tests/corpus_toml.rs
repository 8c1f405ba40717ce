//! TOML against the official compliance suite (`../shared/corpus/toml-test`, the TOML 1.1
//! file list): every valid file round-trips byte for byte through `sealed encrypt` and
//! `sealed decrypt` and its values, as `exec`/`--extract` read them, are the suite's
//! expected JSON; every invalid file is refused with one line naming a line:column. Real
//! manifests: the `Cargo.toml` of every crate in the local cargo registry round-trips.
//!
//! Failures are reported all at once, by file name only (never with file contents).

mod common;

use std::path::{Path, PathBuf};

use common::{Key, assert_no_failures, keygen_in, par_check, sealed, shared, tempdir};
use sealed::format::Syntax;
use sealed::format::tree::{Kind, Node};
use serde_json::Value;

/// Encrypts `file` and decrypts the result; `Err` describes a failure without contents.
fn roundtrip(key: &Key, file: &Path) -> Result<(), String> {
    let original = std::fs::read(file).map_err(|e| format!("cannot read: {e}"))?;
    let enc = sealed()
        .args(["encrypt", "--input-type", "toml", "--age", &key.public])
        .arg(file)
        .output()
        .unwrap();
    if !enc.status.success() {
        return Err(format!(
            "encrypt failed ({:?}): {}",
            enc.status.code(),
            common::first_line(&enc.stderr)
        ));
    }
    let text = String::from_utf8(enc.stdout.clone()).map_err(|_| "encrypt wrote non-UTF-8")?;
    if !text.contains("\n[sops]\n") && !text.contains("\n[sops]\r\n") {
        return Err("no [sops] table in the output".into());
    }
    let dec = sealed()
        .args(["decrypt", "--input-type", "toml", "-"])
        .env("SOPS_AGE_KEY_FILE", &key.path)
        .write_stdin(enc.stdout)
        .output()
        .unwrap();
    if !dec.status.success() {
        return Err(format!(
            "decrypt failed ({:?}): {}",
            dec.status.code(),
            common::first_line(&dec.stderr)
        ));
    }
    if dec.stdout != original {
        return Err("decrypt(encrypt(x)) differs from x".into());
    }
    Ok(())
}

/// Whether the typed tree `node` holds the values toml-test's JSON `exp` describes
/// (`{"type": …, "value": …}` for a scalar).
fn same(node: &Node, exp: &Value) -> bool {
    match (node, exp) {
        (Node::Scalar(s), Value::Object(m)) if is_scalar(m) => {
            let ty = m["type"].as_str().unwrap_or("");
            let want = m["value"].as_str().unwrap_or("");
            let text: &str = &s.text;
            match (ty, &s.kind) {
                ("string", Kind::Str) => text == want,
                ("integer", Kind::Number(n)) => n.as_i64() == want.parse().ok(),
                ("float", Kind::Number(n)) => n.as_f64() == want.parse().ok(),
                ("float", Kind::Str) => {
                    let sign = |t: &str| t.starts_with('-');
                    let word = |t: &str| t.trim_start_matches(['+', '-']).to_string();
                    word(text) == word(want) && (word(want) == "nan" || sign(text) == sign(want))
                }
                ("bool", Kind::Bool(b)) => want == if *b { "true" } else { "false" },
                (t, Kind::Str) if t.starts_with("date") || t.starts_with("time") => {
                    let a = text.parse::<toml_edit::Datetime>().map(seconds);
                    let b = want.parse::<toml_edit::Datetime>().map(seconds);
                    a.is_ok() && a.ok() == b.ok()
                }
                _ => false,
            }
        }
        (Node::Map(members), Value::Object(m)) => {
            members.len() == m.len()
                && members
                    .iter()
                    .all(|(k, v)| m.get(k).is_some_and(|e| same(v, e)))
        }
        (Node::List(items), Value::Array(a)) => {
            items.len() == a.len() && items.iter().zip(a).all(|(n, e)| same(n, e))
        }
        _ => false,
    }
}

/// A datetime with its seconds written (TOML 1.1 lets them out: `07:32` is `07:32:00`).
fn seconds(mut d: toml_edit::Datetime) -> toml_edit::Datetime {
    if let Some(t) = d.time.as_mut() {
        t.second.get_or_insert(0);
    }
    d
}

fn is_scalar(m: &serde_json::Map<String, Value>) -> bool {
    m.len() == 2
        && m.get("type").is_some_and(Value::is_string)
        && m.get("value").is_some_and(Value::is_string)
}

/// The values of `file` are those of the `.json` beside it.
fn values_match(file: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read: {e}"))?;
    let exp: Value = serde_json::from_str(
        &std::fs::read_to_string(file.with_extension("json")).map_err(|e| format!("{e}"))?,
    )
    .map_err(|e| format!("expected JSON: {e}"))?;
    let tree = Syntax::Toml
        .format()
        .load_tree(&text)
        .map_err(|e| format!("data reader refused: {e}"))?;
    if same(&tree, &exp) {
        Ok(())
    } else {
        Err("values differ from the suite's JSON".into())
    }
}

/// Encrypting `file` fails cleanly: non-zero, no panic, nothing on stdout, one line on
/// stderr naming the file with a line:column.
fn refused(key: &Key, file: &Path) -> Result<(), String> {
    let out = sealed()
        .args(["encrypt", "--input-type", "toml", "--age", &key.public])
        .arg(file)
        .output()
        .unwrap();
    match out.status.code() {
        Some(0) => return Err("accepted".into()),
        Some(101) | None => return Err(format!("crashed ({:?})", out.status.code())),
        _ => {}
    }
    if !out.stdout.is_empty() {
        return Err("wrote to stdout".into());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    if err.lines().count() != 1 {
        return Err("stderr is not exactly one line".into());
    }
    let name = file.file_name().unwrap().to_string_lossy();
    let after = err.split_once(&*format!("{name}:")).map(|(_, r)| r);
    let pos = after.and_then(|r| {
        let mut it = r.splitn(3, ':');
        Some((
            it.next()?.parse::<u32>().ok()?,
            it.next()?.parse::<u32>().ok()?,
        ))
    });
    if pos.is_none() {
        return Err(format!("no line:column: {}", err.trim()));
    }
    Ok(())
}

/// The suite's TOML 1.1 files under `kind` (`valid/` or `invalid/`).
fn suite(kind: &str) -> Option<(PathBuf, Vec<PathBuf>, tempfile::TempDir, Key)> {
    let base = shared()?.join("corpus/toml-test/tests");
    let list = std::fs::read_to_string(base.join("files-toml-1.1.0")).expect("file list");
    let files: Vec<PathBuf> = list
        .lines()
        .filter(|l| l.starts_with(kind) && l.ends_with(".toml"))
        .map(|l| base.join(l))
        .collect();
    let dir = tempdir();
    let key = keygen_in(dir.path(), "key.txt");
    Some((base, files, dir, key))
}

fn name_of(p: &Path, base: &Path) -> String {
    p.strip_prefix(base).unwrap_or(p).display().to_string()
}

#[test]
fn toml_test_valid_files_roundtrip_and_hold_the_expected_values() {
    let Some((base, files, _dir, key)) = suite("valid/") else {
        return;
    };
    assert!(files.len() >= 200, "only {} valid files", files.len());
    let failures = par_check(&files, |f| {
        roundtrip(&key, f)
            .and_then(|()| values_match(f))
            .map_err(|e| format!("{}: {e}", name_of(f, &base)))
    });
    assert_no_failures("toml-test valid", files.len(), &failures);
}

#[test]
fn toml_test_invalid_files_are_refused_with_a_position() {
    let Some((base, files, _dir, key)) = suite("invalid/") else {
        return;
    };
    assert!(files.len() >= 200, "only {} invalid files", files.len());
    let failures = par_check(&files, |f| {
        refused(&key, f).map_err(|e| format!("{}: {e}", name_of(f, &base)))
    });
    assert_no_failures("toml-test invalid", files.len(), &failures);
}

/// The `Cargo.toml` of every crate unpacked in the local cargo registry.
fn registry_manifests() -> Vec<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(src) = home.map(|h| h.join("registry/src")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for index in std::fs::read_dir(&src).into_iter().flatten().flatten() {
        for krate in std::fs::read_dir(index.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let m = krate.path().join("Cargo.toml");
            if m.is_file() {
                out.push(m);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn cargo_registry_manifests_roundtrip() {
    let files = registry_manifests();
    if files.is_empty() {
        eprintln!("skipping: no crate in the local cargo registry");
        return;
    }
    let dir = tempdir();
    let key = keygen_in(dir.path(), "key.txt");
    let failures = par_check(&files, |f| {
        roundtrip(&key, f).map_err(|e| format!("{}: {e}", f.display()))
    });
    assert_no_failures("cargo registry manifests", files.len(), &failures);
}
