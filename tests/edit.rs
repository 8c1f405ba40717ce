//! `sealed edit`, `sealed set`, `sealed unset` and `sealed encrypt --reuse-from`, through
//! the real binary, with scripted editors (shell scripts given as `$EDITOR`) and the real
//! `sops` checking that it still decrypts every result.
//!
//! Each test works in its own temporary directory, with `HOME` and `XDG_RUNTIME_DIR`
//! inside it, so tests run in parallel and never see the user's keys or editor.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use sealed::format::{Item, Scalar, Syntax};
use serde_json::Value;

/// A test directory with the demo age key and an isolated environment.
struct Env {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    key: PathBuf,
    public: String,
    runtime: PathBuf,
}

impl Env {
    fn new() -> Env {
        let tmp = common::tempdir();
        let dir = tmp.path().to_path_buf();
        let runtime = dir.join("run");
        std::fs::create_dir(&runtime).unwrap();
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::create_dir(dir.join("home")).unwrap();
        let key = common::demo_key(&dir);
        Env {
            _tmp: tmp,
            dir,
            key: key.path,
            public: key.public,
            runtime,
        }
    }

    /// Like [`Env::new`], with a key of its own instead of the demo key.
    fn with_own_key() -> Env {
        let mut env = Env::new();
        let key = common::keygen_in(&env.dir, "own.agekey");
        env.key = key.path;
        env.public = key.public;
        env
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `sealed` with a clean environment: the key, no editor variables, this directory.
    fn sealed(&self) -> Command {
        let mut c = common::sealed();
        c.current_dir(&self.dir)
            .env("HOME", self.dir.join("home"))
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .env("SOPS_AGE_KEY_FILE", &self.key);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.sealed().args(args).output().unwrap()
    }

    /// Writes `text` to `name` and encrypts it in place.
    fn encrypted(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        let out = self
            .sealed()
            .args(["encrypt", "-i", "--age", &self.public])
            .arg(&p)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        p
    }

    fn decrypt(&self, p: &Path) -> String {
        let out = self.sealed().arg("decrypt").arg(p).output().unwrap();
        assert!(out.status.success(), "decrypt: {}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    /// An editor script: `body` runs with the file as `$1`; it first records the file's
    /// path and the modes of the file and its directory in `editor.log`.
    fn editor(&self, name: &str, body: &str) -> PathBuf {
        let p = self.path(name);
        let log = self.path("editor.log");
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\nf=\"$1\"\nprintf '%s %s %s\\n' \"$f\" \"$(stat -c %a \"$f\")\" \"$(stat -c %a \"$(dirname \"$f\")\")\" >> '{}'\n{body}\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    /// Runs `sealed edit` with `editor` as `$EDITOR` and no terminal.
    fn edit(&self, editor: &Path, file: &Path) -> Output {
        self.sealed()
            .env("EDITOR", editor)
            .arg("edit")
            .arg(file)
            .write_stdin("")
            .output()
            .unwrap()
    }

    /// (path, file mode, directory mode) of every file the editor was given.
    fn editor_log(&self) -> Vec<(PathBuf, String, String)> {
        std::fs::read_to_string(self.path("editor.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let mut w = l.rsplitn(3, ' ');
                let dmode = w.next().unwrap().to_string();
                let fmode = w.next().unwrap().to_string();
                (PathBuf::from(w.next().unwrap()), fmode, dmode)
            })
            .collect()
    }

    /// The temporary plaintext was private, in `$XDG_RUNTIME_DIR`, and is gone.
    fn assert_workspace_private_and_gone(&self) {
        let log = self.editor_log();
        assert!(!log.is_empty(), "the editor did not run");
        for (path, fmode, dmode) in log {
            assert_eq!(fmode, "600", "temp file mode");
            assert_eq!(dmode, "700", "temp dir mode");
            assert!(
                path.starts_with(&self.runtime),
                "{} not in XDG_RUNTIME_DIR",
                path.display()
            );
            assert!(!path.exists(), "{} left behind", path.display());
            assert!(!path.parent().unwrap().exists(), "temp dir left behind");
        }
        assert_eq!(std::fs::read_dir(&self.runtime).unwrap().count(), 0);
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// The `ENC[...]` tokens of a text, in order.
///
/// sealed's own metadata field is left out: it holds the layout digest of the whole
/// document, so it changes with every change (tests/hardening_editor.rs checks it).
fn tokens(text: &str) -> Vec<String> {
    text.match_indices("ENC[")
        .filter(|&(i, _)| {
            let before = text[..i].trim_end_matches(['"', ' ']);
            !["sealed:", "\"sealed\":", "sops_sealed="]
                .iter()
                .any(|k| before.ends_with(k))
        })
        .map(|(i, _)| text[i..i + text[i..].find(']').unwrap() + 1].to_string())
        .collect()
}

/// Positions where two equally long token lists differ.
fn changed(before: &[String], after: &[String]) -> Vec<usize> {
    assert_eq!(before.len(), after.len(), "token count changed");
    (0..before.len())
        .filter(|&i| before[i] != after[i])
        .collect()
}

/// The index of the MAC among a file's tokens.
fn mac_index(text: &str) -> usize {
    // The key itself: "mac" alone may occur inside the base64 of an earlier token.
    let at = [
        "mac: ENC[",
        "\"mac\": \"ENC[",
        "\"mac\":\"ENC[",
        "sops_mac=ENC[",
    ]
    .iter()
    .filter_map(|k| text.find(k))
    .min()
    .expect("mac");
    tokens(&text[..at]).len()
}

/// Distinct tokens of `after` that `before` does not have (a multi-document YAML file
/// repeats the metadata, MAC included, in every document).
fn new_tokens(before: &str, after: &str) -> Vec<String> {
    let old = tokens(before);
    let mut new: Vec<String> = tokens(after)
        .into_iter()
        .filter(|t| !old.contains(t))
        .collect();
    new.sort();
    new.dedup();
    new
}

/// The real `sops` (skipped with a notice when missing, unless SEALED_REQUIRE_PEERS=1).
fn sops() -> Option<PathBuf> {
    common::peer("sops")
}

/// The data of a plaintext, comparable across formatting.
fn data(text: &str, kind: &str) -> Value {
    match kind {
        "json" => serde_json::from_str(text).unwrap(),
        "dotenv" => {
            // sealed's reader: KEY=value lines, `\n` escapes and multi-line quotes, as
            // sops writes them (one line, escaped) and as sealed keeps them.
            let outline = Syntax::Dotenv.format().parse(text).unwrap();
            let m: BTreeMap<String, Value> = outline.docs[0]
                .items
                .iter()
                .filter_map(|i| match i {
                    Item::Leaf(l) => match &l.value {
                        Scalar::Str(v) => {
                            Some((l.path[0].to_string(), Value::String(v.to_string())))
                        }
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            serde_json::to_value(m).unwrap()
        }
        _ => sealed::format::yaml_value::load(text).unwrap().remove(0),
    }
}

/// Numbers compared as floats (sops prints the float -1.25e4 as -12500).
fn numbers_as_floats(v: Value) -> Value {
    match v {
        Value::Number(n) => serde_json::json!(n.as_f64().unwrap_or(f64::NAN)),
        Value::Array(a) => Value::Array(a.into_iter().map(numbers_as_floats).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, numbers_as_floats(v)))
                .collect(),
        ),
        other => other,
    }
}

/// `sops decrypt` gives the same data as `sealed decrypt`.
fn assert_sops_reads(env: &Env, file: &Path, kind: &str) {
    let Some(sops) = sops() else { return };
    let out = std::process::Command::new(sops)
        .env("SOPS_AGE_KEY_FILE", &env.key)
        .args(["decrypt", "--input-type", kind, "--output-type", kind])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sops decrypt {}: {}",
        file.display(),
        stderr(&out)
    );
    let theirs = data(&String::from_utf8(out.stdout).unwrap(), kind);
    assert_eq!(
        numbers_as_floats(theirs),
        numbers_as_floats(data(&env.decrypt(file), kind)),
        "sops reads other data"
    );
}

const YAML: &str = "# settings\ndb:\n  user: admin # owner\n  password: fake-pass-1\n  port: 5432\nhosts:\n  - alpha\n  - beta\nflags: {debug: false}\n";

// ---------------------------------------------------------------- sealed edit

#[test]
fn edit_changes_exactly_one_value_token_and_the_mac() {
    let env = Env::new();
    let file = env.encrypted("app.yaml", YAML);
    let before = std::fs::read_to_string(&file).unwrap();
    let ed = env.editor("ed.sh", "sed -i 's/fake-pass-1/fake-pass-2/' \"$f\"");
    let out = env.edit(&ed, &file);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = std::fs::read_to_string(&file).unwrap();
    let diff = changed(&tokens(&before), &tokens(&after));
    let password = tokens(&before)
        .iter()
        .position(|t| before.contains(&format!("password: {t}")))
        .unwrap();
    assert_eq!(diff, vec![password, mac_index(&before)]);
    // Only the password line, the MAC and lastmodified differ.
    let lines: Vec<(&str, &str)> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert!(lines.len() <= 4, "{lines:?}");
    assert!(lines.iter().all(|(a, _)| a.contains("password:")
        || a.contains("mac:")
        || a.trim_start().starts_with("sealed:")
        || a.contains("lastmodified:")));
    assert_eq!(
        env.decrypt(&file),
        YAML.replace("fake-pass-1", "fake-pass-2")
    );
    env.assert_workspace_private_and_gone();
    assert_sops_reads(&env, &file, "yaml");
}

#[test]
fn edit_adding_and_removing_keeps_other_tokens() {
    let env = Env::new();
    let file = env.encrypted("app.yaml", YAML);
    let before = std::fs::read_to_string(&file).unwrap();
    let ed = env.editor(
        "ed.sh",
        "sed -i -e '/port: 5432/d' -e 's/^  - beta$/  - beta\\n  - gamma # new/' \"$f\"",
    );
    let out = env.edit(&ed, &file);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = std::fs::read_to_string(&file).unwrap();
    let expected = YAML
        .replace("  port: 5432\n", "")
        .replace("  - beta\n", "  - beta\n  - gamma # new\n");
    assert_eq!(env.decrypt(&file), expected);
    // New: the item, its comment and the MAC.
    assert_eq!(new_tokens(&before, &after).len(), 3);
    assert_sops_reads(&env, &file, "yaml");
}

#[test]
fn noop_edit_leaves_the_file_byte_identical() {
    let env = Env::new();
    let file = env.encrypted("app.yaml", YAML);
    let before = std::fs::read(&file).unwrap();
    let ed = env.editor("ed.sh", "true");
    let out = env.edit(&ed, &file);
    assert_eq!(out.status.code(), Some(200), "{}", stderr(&out));
    assert!(stderr(&out).contains("no changes"));
    assert_eq!(std::fs::read(&file).unwrap(), before);
    env.assert_workspace_private_and_gone();
    // Saving the same text again (touching the file) is no change either.
    let ed = env.editor("touch.sh", "cp \"$f\" \"$f.x\" && mv \"$f.x\" \"$f\"");
    assert_eq!(env.edit(&ed, &file).status.code(), Some(200));
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[test]
fn failing_editor_leaves_the_file_untouched() {
    let env = Env::new();
    let file = env.encrypted("app.yaml", YAML);
    let before = std::fs::read(&file).unwrap();
    let ed = env.editor("ed.sh", "sed -i 's/admin/root/' \"$f\"; exit 1");
    let out = env.edit(&ed, &file);
    assert_eq!(out.status.code(), Some(201));
    assert!(
        stderr(&out).contains("exited with status 1"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);
    env.assert_workspace_private_and_gone();
}

#[test]
fn invalid_edit_without_a_terminal_fails_with_a_position() {
    let env = Env::new();
    for (name, text, bad) in [
        ("app.yaml", YAML, "printf 'extra: [unclosed\\n' >> \"$f\""),
        (
            "app.json",
            "{\n  \"a\": \"fake-secret\"\n}\n",
            "sed -i 's/\"a\"/\"a\" \"b\"/' \"$f\"",
        ),
        (
            "app.env",
            "A=fake-secret\n",
            "printf 'no equals sign\\n' >> \"$f\"",
        ),
    ] {
        let file = env.encrypted(name, text);
        let before = std::fs::read(&file).unwrap();
        let ed = env.editor("bad.sh", bad);
        let out = env.edit(&ed, &file);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(&format!("{name} (edited text):")), "{err}");
        assert!(err.contains("the file was not changed"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(!err.contains("fake-secret"));
        assert_eq!(std::fs::read(&file).unwrap(), before);
        env.assert_workspace_private_and_gone();
    }
    // Adding a top-level sops key is refused the same way.
    let file = env.path("app.yaml");
    let ed = env.editor("sops.sh", "printf 'sops:\\n  x: 1\\n' >> \"$f\"");
    let out = env.edit(&ed, &file);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("sops entry"), "{}", stderr(&out));
}

#[test]
fn editor_variables_and_arguments() {
    let env = Env::new();
    let file = env.encrypted("app.yaml", "a: fake-1\n");
    let ed = env.editor("ed.sh", "sed -i \"s/fake-1/$2/\" \"$f\"");
    // Arguments are split like a shell would; the file comes last ($1 is the first arg
    // here, so the script is given a quoted argument and the file).
    let script = env.editor("wrap.sh", &format!("exec '{}' \"$2\" \"$1\"", ed.display()));
    let out = env
        .sealed()
        .env("EDITOR", "false")
        .env("VISUAL", "false")
        .env("SOPS_EDITOR", format!("'{}' 'fake 2'", script.display()))
        .arg("edit")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.decrypt(&file), "a: fake 2\n");
    // VISUAL before EDITOR.
    let ed3 = env.editor("ed3.sh", "sed -i 's/fake 2/fake-3/' \"$f\"");
    let out = env
        .sealed()
        .env("EDITOR", "false")
        .env("VISUAL", &ed3)
        .arg("edit")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.decrypt(&file), "a: fake-3\n");
    // An editor that does not exist.
    let out = env
        .sealed()
        .env("EDITOR", "/nonexistent/editor --wait")
        .arg("edit")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(201));
    assert!(stderr(&out).contains("cannot start the editor"));
    let out = env
        .sealed()
        .env("EDITOR", "'unbalanced")
        .arg("edit")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(201));
    assert!(stderr(&out).contains("$EDITOR"), "{}", stderr(&out));
}

#[test]
fn sigint_is_left_to_the_editor_and_sigterm_aborts() {
    let env = Env::new();
    let file = env.encrypted("app.yaml", "a: fake-1\n");
    // Ctrl-C reaches sealed too; it must not end the edit.
    let ed = env.editor(
        "int.sh",
        "kill -INT $PPID\nsed -i 's/fake-1/fake-2/' \"$f\"",
    );
    let out = env.edit(&ed, &file);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.decrypt(&file), "a: fake-2\n");
    env.assert_workspace_private_and_gone();
    // SIGTERM to sealed is passed on to the editor, and the edit is abandoned.
    let before = std::fs::read(&file).unwrap();
    let ed = env.editor(
        "term.sh",
        "sed -i 's/fake-2/fake-3/' \"$f\"\nkill -TERM $PPID\nexit 0",
    );
    let out = env.edit(&ed, &file);
    assert_eq!(out.status.code(), Some(128 + 15), "{}", stderr(&out));
    assert!(stderr(&out).contains("not changed"));
    assert_eq!(std::fs::read(&file).unwrap(), before);
    env.assert_workspace_private_and_gone();
}

#[test]
fn edit_creates_a_new_file_for_the_matching_rule() {
    let env = Env::new();
    std::fs::create_dir(env.path("secrets")).unwrap();
    std::fs::write(
        env.path(".sops.yaml"),
        format!(
            "creation_rules:\n  - path_regex: secrets/.*\n    age: {}\n",
            env.public
        ),
    )
    .unwrap();
    for (name, kind, text) in [
        (
            "secrets/new.yaml",
            "yaml",
            "db:\n  password: fake-new # c\n",
        ),
        (
            "secrets/new.json",
            "json",
            "{\n  \"token\": \"fake-new\"\n}\n",
        ),
        ("secrets/.env", "dotenv", "TOKEN=fake-new\n"),
    ] {
        let file = env.path(name);
        let writer = env.path("content");
        std::fs::write(&writer, text).unwrap();
        let ed = env.editor("new.sh", &format!("cp '{}' \"$f\"", writer.display()));
        let out = env.edit(&ed, &file);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let enc = std::fs::read_to_string(&file).unwrap();
        assert!(
            enc.contains(&env.public),
            "{name} is for the rule's recipient"
        );
        assert!(!enc.contains("fake-new"));
        assert_eq!(env.decrypt(&file), text);
        assert_sops_reads(&env, &file, kind);
    }
    env.assert_workspace_private_and_gone();
    // The editor starts from an empty document of the right format.
    let seen = env.path("seen");
    let ed = env.editor("look.sh", &format!("cat \"$f\" > '{}'", seen.display()));
    let out = env.edit(&ed, &env.path("secrets/empty.json"));
    assert_eq!(out.status.code(), Some(200));
    assert_eq!(std::fs::read_to_string(&seen).unwrap(), "{}\n");
    assert!(!env.path("secrets/empty.json").exists());
    // No rule and no recipient: refused before the editor starts.
    let out = env.edit(&ed, &env.path("elsewhere.yaml"));
    assert_eq!(out.status.code(), Some(111), "{}", stderr(&out));
    assert!(!env.path("elsewhere.yaml").exists());
}

// ------------------------------------------------------------- set and unset

/// Runs `sealed set` and returns the file before and after.
fn set(env: &Env, file: &Path, path: &str, value: &str) -> (String, String) {
    let before = std::fs::read_to_string(file).unwrap();
    let out = env.run(&["set", file.to_str().unwrap(), path, value]);
    assert!(out.status.success(), "set {path}: {}", stderr(&out));
    (before, std::fs::read_to_string(file).unwrap())
}

fn unset(env: &Env, file: &Path, path: &str) -> (String, String) {
    let before = std::fs::read_to_string(file).unwrap();
    let out = env.run(&["unset", file.to_str().unwrap(), path]);
    assert!(out.status.success(), "unset {path}: {}", stderr(&out));
    (before, std::fs::read_to_string(file).unwrap())
}

#[test]
fn set_changes_one_token_in_every_format() {
    let env = Env::new();
    for (name, kind, text, path, value, expected) in [
        (
            "a.yaml",
            "yaml",
            YAML,
            r#"["db"]["password"]"#,
            r#""fake-pass-2""#,
            YAML.replace("fake-pass-1", "fake-pass-2"),
        ),
        (
            "a.yaml",
            "yaml",
            YAML,
            r#"["hosts"][1]"#,
            r#""gamma""#,
            YAML.replace("beta", "gamma"),
        ),
        (
            "a.yaml",
            "yaml",
            YAML,
            r#"["db"]["port"]"#,
            "6543",
            YAML.replace("5432", "6543"),
        ),
        (
            "a.json",
            "json",
            "{\n\t\"db\": {\"user\": \"admin\", \"password\": \"fake-1\"},\n\t\"n\": [1, 2]\n}\n",
            r#"["db"]["password"]"#,
            r#""fake-2""#,
            "{\n\t\"db\": {\"user\": \"admin\", \"password\": \"fake-2\"},\n\t\"n\": [1, 2]\n}\n"
                .to_string(),
        ),
        (
            "a.env",
            "dotenv",
            "# c\nA=fake-1\nB=2\n",
            r#"["A"]"#,
            r#""fake 2""#,
            "# c\nA=fake 2\nB=2\n".to_string(),
        ),
    ] {
        let file = env.encrypted(name, text);
        let (before, after) = set(&env, &file, path, value);
        assert_eq!(env.decrypt(&file), expected, "{name} {path}");
        let diff = changed(&tokens(&before), &tokens(&after));
        assert_eq!(diff.len(), 2, "{name} {path}: one value and the MAC");
        assert!(diff.contains(&mac_index(&before)));
        assert_sops_reads(&env, &file, kind);
    }
}

#[test]
fn set_creates_missing_keys_like_their_siblings() {
    let env = Env::new();
    let file = env.encrypted("a.yaml", YAML);
    let (before, after) = set(&env, &file, r#"["db"]["token"]"#, r#""fake-token""#);
    let plain = env.decrypt(&file);
    assert_eq!(
        plain,
        YAML.replace("  port: 5432\n", "  port: 5432\n  token: fake-token\n")
    );
    // Every old token but the MAC is still there.
    let after_tokens = tokens(&after);
    let old = tokens(&before);
    let missing: Vec<&String> = old.iter().filter(|t| !after_tokens.contains(t)).collect();
    assert_eq!(missing.len(), 1, "only the MAC is replaced");
    set(&env, &file, r#"["hosts"][7]"#, r#""gamma""#);
    set(
        &env,
        &file,
        r#"["new"]["nested"]"#,
        r#"{"list": [1, "two"], "on": true}"#,
    );
    set(&env, &file, r#"["flags"]["trace"]"#, "true");
    assert_eq!(
        env.decrypt(&file),
        "# settings\ndb:\n  user: admin # owner\n  password: fake-pass-1\n  port: 5432\n  token: fake-token\nhosts:\n  - alpha\n  - beta\n  - gamma\nflags: {debug: false, trace: true}\nnew:\n  nested:\n    list:\n      - 1\n      - two\n    \"on\": true\n"
    );
    assert_sops_reads(&env, &file, "yaml");

    let json = env.encrypted("a.json", "{\n    \"a\": {\n        \"b\": 1\n    }\n}\n");
    set(&env, &json, r#"["a"]["c"]"#, r#"["x"]"#);
    set(&env, &json, r#"["d"]"#, r#""fake""#);
    assert_eq!(
        env.decrypt(&json),
        "{\n    \"a\": {\n        \"b\": 1,\n        \"c\": [\n            \"x\"\n        ]\n    },\n    \"d\": \"fake\"\n}\n"
    );
    assert_sops_reads(&env, &json, "json");

    let min = env.encrypted("m.json", r#"{"a":[1,2],"b":{}}"#);
    set(&env, &min, r#"["b"]["k"]"#, r#""v""#);
    set(&env, &min, r#"["a"][2]"#, "3");
    assert_eq!(env.decrypt(&min), r#"{"a":[1,2,3],"b":{"k":"v"}}"#);
    assert_sops_reads(&env, &min, "json");

    let dotenv = env.encrypted("a.env", "A=1\nB=2");
    set(&env, &dotenv, r#"["C"]"#, r#""multi\nline""#);
    assert_eq!(env.decrypt(&dotenv), "A=1\nB=2\nC=multi\\nline");
    assert_sops_reads(&env, &dotenv, "dotenv");
}

#[test]
fn unset_removes_entries_cleanly() {
    let env = Env::new();
    let file = env.encrypted("a.yaml", YAML);
    let (before, after) = unset(&env, &file, r#"["db"]["port"]"#);
    assert_eq!(env.decrypt(&file), YAML.replace("  port: 5432\n", ""));
    assert_eq!(new_tokens(&before, &after).len(), 1, "only the MAC is new");
    unset(&env, &file, r#"["hosts"][0]"#);
    unset(&env, &file, r#"["flags"]["debug"]"#);
    assert_eq!(
        env.decrypt(&file),
        "# settings\ndb:\n  user: admin # owner\n  password: fake-pass-1\nhosts:\n  - beta\nflags: {}\n"
    );
    assert_sops_reads(&env, &file, "yaml");

    let json = env.encrypted(
        "a.json",
        "{\n  \"a\": 1,\n  \"b\": [true, false],\n  \"c\": \"x\"\n}\n",
    );
    unset(&env, &json, r#"["c"]"#);
    unset(&env, &json, r#"["b"][0]"#);
    assert_eq!(env.decrypt(&json), "{\n  \"a\": 1,\n  \"b\": [false]\n}\n");
    assert_sops_reads(&env, &json, "json");

    let dotenv = env.encrypted("a.env", "# c\nA=1\nB=2\nC=3\n");
    unset(&env, &dotenv, r#"["B"]"#);
    assert_eq!(env.decrypt(&dotenv), "# c\nA=1\nC=3\n");
    assert_sops_reads(&env, &dotenv, "dotenv");

    // Missing: an error, or nothing with --idempotent.
    let before = std::fs::read(&dotenv).unwrap();
    let out = env.run(&["unset", dotenv.to_str().unwrap(), r#"["Z"]"#]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(r#"no value at ["Z"]"#));
    let out = env.run(&[
        "unset",
        "--idempotent",
        dotenv.to_str().unwrap(),
        r#"["Z"]"#,
    ]);
    assert!(out.status.success());
    assert_eq!(std::fs::read(&dotenv).unwrap(), before);
}

#[test]
fn set_value_from_stdin_or_file_stays_out_of_argv() {
    let env = Env::new();
    let file = env.encrypted("a.yaml", "a: fake-1\n");
    let secret = "fake-stdin-secret";
    let args = ["set", "--value-stdin", "a.yaml", r#"["a"]"#];
    assert!(args.iter().all(|a| !a.contains(secret)));
    let out = env
        .sealed()
        .args(args)
        .write_stdin(format!("\"{secret}\"\n"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.decrypt(&file), format!("a: {secret}\n"));
    std::fs::write(env.path("v.json"), "{\"k\": \"fake-file-secret\"}").unwrap();
    let out = env.run(&["set", "--value-file", "a.yaml", r#"["b"]"#, "v.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        env.decrypt(&file),
        format!("a: {secret}\nb:\n  k: fake-file-secret\n")
    );
    // Both a value and --value-stdin: refused.
    let out = env
        .sealed()
        .args(["set", "--value-stdin", "a.yaml", r#"["a"]"#, "\"x\""])
        .write_stdin("\"y\"")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(8));
}

#[test]
fn set_same_value_and_bad_input() {
    let env = Env::new();
    let file = env.encrypted("a.yaml", "a: fake-1\nn: 0x10\n");
    let before = std::fs::read(&file).unwrap();
    for args in [
        ["set", "a.yaml", r#"["a"]"#, r#""fake-1""#],
        ["set", "a.yaml", r#"["n"]"#, "16"],
        ["set", "--idempotent", "a.yaml", r#"["a"]"#],
    ] {
        let mut args = args.to_vec();
        if args[1] == "--idempotent" {
            args.push(r#""fake-1""#);
        }
        let out = env.run(&args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert_eq!(std::fs::read(&file).unwrap(), before, "{args:?}");
    }
    for (args, code, says) in [
        (
            vec!["set", "a.yaml", r#"["a"]"#, "fake-unquoted"],
            7,
            "not valid JSON",
        ),
        (vec!["set", "a.yaml", "a", "1"], 91, "invalid path"),
        (
            vec!["set", "a.yaml", r#"["a"]["b"]"#, "1"],
            1,
            "is a scalar value",
        ),
        (vec!["set", "a.yaml", r#"["sops"]"#, "1"], 1, "reserved"),
        (
            vec!["set", "missing.yaml", r#"["a"]"#, "1"],
            2,
            "cannot read",
        ),
    ] {
        let out = env.run(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("fake-"), "{err}");
        assert_eq!(err.trim().lines().count(), 1);
    }
    assert_eq!(std::fs::read(&file).unwrap(), before);
    // A plaintext file is not an encrypted one.
    std::fs::write(env.path("plain.yaml"), "a: 1\n").unwrap();
    let out = env.run(&["set", "plain.yaml", r#"["a"]"#, "2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not encrypted"));
}

#[test]
fn sops_set_and_sealed_set_agree() {
    let Some(sops) = sops() else { return };
    let env = Env::new();
    let file = env.encrypted("a.yaml", YAML);
    set(&env, &file, r#"["db"]["password"]"#, r#""fake-pass-3""#);
    // sops itself can keep editing what sealed wrote.
    let out = std::process::Command::new(sops)
        .env("SOPS_AGE_KEY_FILE", &env.key)
        .args(["set"])
        .arg(&file)
        .args([r#"["db"]["user"]"#, r#""root""#])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plain = data(&env.decrypt(&file), "yaml");
    assert_eq!(plain["db"]["password"], "fake-pass-3");
    assert_eq!(plain["db"]["user"], "root");
}

// ------------------------------------------------------ encrypt --reuse-from

#[test]
fn reuse_from_keeps_unchanged_tokens() {
    let env = Env::new();
    let old = env.encrypted("old.yaml", YAML);
    let old_text = std::fs::read_to_string(&old).unwrap();
    let plain = env.path("plain.yaml");
    // Unchanged plaintext: the old file, byte for byte.
    std::fs::write(&plain, YAML).unwrap();
    let out = env.run(&["encrypt", "--reuse-from", "old.yaml", "plain.yaml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), old_text);
    // One value changed: one value token and the MAC differ.
    std::fs::write(&plain, YAML.replace("admin", "root")).unwrap();
    let out = env.run(&[
        "encrypt",
        "--reuse-from",
        "old.yaml",
        "-o",
        "new.yaml",
        "plain.yaml",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let new_text = std::fs::read_to_string(env.path("new.yaml")).unwrap();
    assert_eq!(changed(&tokens(&old_text), &tokens(&new_text)).len(), 2);
    assert_eq!(
        env.decrypt(&env.path("new.yaml")),
        YAML.replace("admin", "root")
    );
    assert_sops_reads(&env, &env.path("new.yaml"), "yaml");
    // In place, as after `decrypt -i`, edit, `encrypt -i`.
    let out = env.run(&["encrypt", "-i", "--reuse-from", "old.yaml", "plain.yaml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let in_place = std::fs::read_to_string(&plain).unwrap();
    assert_eq!(changed(&tokens(&old_text), &tokens(&in_place)).len(), 2);
    assert_eq!(env.decrypt(&plain), YAML.replace("admin", "root"));
}

#[test]
fn reuse_from_refuses_unusable_old_files() {
    let env = Env::new();
    env.encrypted("old.yaml", YAML);
    env.encrypted("old.json", "{\"a\": 1}");
    std::fs::write(env.path("plain.yaml"), YAML).unwrap();
    std::fs::write(env.path("notenc.yaml"), "a: 1\n").unwrap();
    for (args, code, says) in [
        (
            vec!["encrypt", "--reuse-from", "old.json", "plain.yaml"],
            8,
            "same format",
        ),
        (
            vec!["encrypt", "--reuse-from", "notenc.yaml", "plain.yaml"],
            1,
            "no sops metadata",
        ),
        (
            vec!["encrypt", "--reuse-from", "absent.yaml", "plain.yaml"],
            2,
            "cannot read",
        ),
        (
            vec![
                "encrypt",
                "--reuse-from",
                "old.yaml",
                "--age",
                "age1x",
                "plain.yaml",
            ],
            8,
            "--reuse-from",
        ),
        (
            vec!["encrypt", "--reuse-from", "old.yaml", "old.yaml"],
            203,
            "already encrypted",
        ),
    ] {
        let out = env.run(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
    // OLD under a key we do not hold.
    let other = Env::with_own_key();
    let foreign = other.encrypted("foreign.yaml", YAML);
    std::fs::copy(&foreign, env.path("foreign.yaml")).unwrap();
    let out = env.run(&["encrypt", "--reuse-from", "foreign.yaml", "plain.yaml"]);
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));
    assert!(stderr(&out).starts_with("sealed: foreign.yaml: "));
}

/// Equal values under one key path (items of a list, repeated comments) must keep distinct
/// tokens across edits: each old IV may be reused once, never shared.
#[test]
fn equal_values_never_share_a_token() {
    let env = Env::new();
    let file = env.encrypted("a.yaml", "l: [same, same]\n# note\n# note\nother: fake-1\n");
    let before = std::fs::read_to_string(&file).unwrap();
    set(&env, &file, r#"["other"]"#, r#""fake-2""#);
    let after = std::fs::read_to_string(&file).unwrap();
    let t = tokens(&after);
    let mut unique = t.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), t.len(), "two values share a token");
    assert_eq!(
        changed(&tokens(&before), &t).len(),
        2,
        "only the value and the MAC"
    );
}

/// On every fixture: `set` of a new key, then `unset` of it, gives back the original file
/// but for the MAC and `lastmodified`; `sops` reads the intermediate file.
#[test]
fn set_then_unset_on_every_fixture_restores_every_token() {
    let env = Env::new();
    for plain in common::plain_fixtures() {
        let name = plain.file_name().unwrap().to_str().unwrap().to_string();
        let kind = common::input_type(&plain);
        let file = env.path(&name);
        std::fs::copy(common::fixtures().join("encrypted").join(&name), &file).unwrap();
        let original = std::fs::read_to_string(&file).unwrap();
        let key = if kind == "dotenv" {
            "SEALED_NEW"
        } else {
            "sealed_new"
        };
        let path = format!(r#"["{key}"]"#);
        let (_, added) = set(&env, &file, &path, r#""demo-added-1""#);
        assert_eq!(
            new_tokens(&original, &added).len(),
            2,
            "{name}: the new value and the MAC"
        );
        let text = env.decrypt(&file);
        let before = std::fs::read_to_string(&plain).unwrap();
        if kind == "dotenv" {
            let eol = if before.contains("\r\n") {
                "\r\n"
            } else {
                "\n"
            };
            let line = format!("{eol}SEALED_NEW=demo-added-1");
            assert_eq!(
                text.replacen(&line, "", 1),
                before,
                "{name}: a line at the end"
            );
        } else {
            let mut got = data(&text, kind);
            assert_eq!(got[key], "demo-added-1", "{name}");
            got.as_object_mut().unwrap().shift_remove(key);
            assert_eq!(got, data(&before, kind), "{name}");
        }
        // As in tests/interop_sops.rs: sops cannot read these .env files (a quoted value
        // over several lines; CRLF blank lines), nor aliased values (styles.yaml).
        if !matches!(name.as_str(), "basic.env" | "crlf.env" | "styles.yaml") {
            assert_sops_reads(&env, &file, kind);
        }
        unset(&env, &file, &path);
        assert_eq!(
            env.decrypt(&file),
            std::fs::read_to_string(&plain).unwrap(),
            "{name}"
        );
        let restored = std::fs::read_to_string(&file).unwrap();
        let strip = |t: &str| -> Vec<String> {
            t.lines()
                .filter(|l| !l.contains("lastmodified") && !l.contains("mac"))
                .filter(|l| {
                    let l = l.trim_start();
                    !["sealed:", "\"sealed\":", "sops_sealed="]
                        .iter()
                        .any(|k| l.starts_with(k))
                })
                .map(str::to_string)
                .collect()
        };
        assert_eq!(strip(&restored), strip(&original), "{name}");
    }
}

/// Runs `sealed edit FILE` on a pseudo-terminal made by `script`, typing `input`.
fn edit_on_terminal(env: &Env, editor: &Path, file: &str, input: &str) -> Option<Output> {
    let script = common::peer("script")?;
    let q = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
    let cmd = format!(
        "cd {} && HOME={} XDG_RUNTIME_DIR={} SOPS_AGE_KEY_FILE={} EDITOR={} {} edit {file}",
        q(&env.dir),
        q(&env.dir.join("home")),
        q(&env.runtime),
        q(&env.key),
        q(editor),
        q(&common::bin()),
    );
    let out = Command::new(script)
        .args(["--quiet", "--return", "--command", &cmd, "/dev/null"])
        .env_clear()
        .env("PATH", common::path_var())
        .env("TERM", "dumb")
        .write_stdin(input.to_owned())
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    Some(out)
}

/// An editor that breaks the file on its first run and, on the next, records whether it
/// was given the broken text back and repairs it.
fn breaking_then_fixing_editor(env: &Env) -> PathBuf {
    let count = env.path("runs");
    let seen = env.path("seen-broken");
    env.editor(
        "twice.sh",
        &format!(
            "n=$(cat '{c}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{c}'\n\
             if [ $n -eq 1 ]; then printf 'extra: [unclosed\\n' >> \"$f\"; exit 0; fi\n\
             grep -q 'extra: \\[unclosed' \"$f\" && touch '{s}'\n\
             sed -i 's/^extra: \\[unclosed$/extra: [closed]/' \"$f\"",
            c = count.display(),
            s = seen.display()
        ),
    )
}

#[test]
fn invalid_edit_on_a_terminal_reopens_the_editor_on_the_users_text() {
    let env = Env::new();
    let file = env.encrypted("app.yaml", YAML);
    let ed = breaking_then_fixing_editor(&env);
    let Some(out) = edit_on_terminal(&env, &ed, "app.yaml", "\n") else {
        return;
    };
    let shown = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("app.yaml (edited text):"), "{shown}");
    assert!(shown.contains("reopen the editor"), "{shown}");
    assert!(
        env.path("seen-broken").exists(),
        "the editor got the user's text back"
    );
    assert_eq!(env.decrypt(&file), format!("{YAML}extra: [closed]\n"));
    env.assert_workspace_private_and_gone();
}

#[test]
fn invalid_edit_on_a_terminal_can_be_discarded() {
    let env = Env::new();
    let file = env.encrypted("app.yaml", YAML);
    let before = std::fs::read(&file).unwrap();
    let ed = breaking_then_fixing_editor(&env);
    let Some(out) = edit_on_terminal(&env, &ed, "app.yaml", "q\n") else {
        return;
    };
    let shown = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("changes discarded; the file was not changed"),
        "{shown}"
    );
    assert_eq!(
        std::fs::read_to_string(env.path("runs")).unwrap().trim(),
        "1"
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);
    env.assert_workspace_private_and_gone();
}

/// `set`/`unset` and `decrypt --extract` read paths with one parser: a malformed path gets
/// the same position and reason from both (an unterminated key at its opening quote, an
/// empty path as "the path is empty"); only the wording around it names the option.
#[test]
fn set_and_extract_share_one_path_parser() {
    let env = Env::new();
    env.encrypted("a.yaml", "a: fake-1\n");
    for (path, reason) in [
        (r#"["db"#, "character 2: unterminated key"),
        ("", "character 1: the path is empty"),
        ("[", "character 2: unexpected end of path"),
    ] {
        let set = env.run(&["set", "a.yaml", path, "1"]);
        let extract = env.run(&["decrypt", "--extract", path, "a.yaml"]);
        for (out, says) in [
            (set, "invalid path at "),
            (extract, "invalid --extract path at "),
        ] {
            let err = stderr(&out);
            assert!(!out.status.success(), "{path:?}");
            assert!(err.contains(&format!("{says}{reason}")), "{path:?}: {err}");
            assert_eq!(err.trim().lines().count(), 1, "{err}");
        }
    }
}
