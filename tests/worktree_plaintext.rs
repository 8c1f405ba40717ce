//! Every command on the plaintext that the git filter keeps in the work tree (issue 14):
//! each command runs in both storage modes — the file encrypted in the work tree (the sops
//! way) and plaintext under `sealed git init`'s filter — and must give the same result.
//! An unencrypted file that git would not encrypt keeps its clear error.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

use common::git::GitRepo;

const APP: &str = "db:\n  user: admin # owner\n  password: fake-pass-1\nport: 5432\n";
const ENV: &str = "API_TOKEN=fake-token-1\nDEBUG=true\n";
const RULES: &str = "(^|/)(secrets/.*\\.(yaml|json|env)|\\.env)$";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Ciphertext in the work tree (`sealed encrypt -i`), no filter.
    Encrypted,
    /// Plaintext in the work tree under `sealed git init`'s filter.
    Filter,
}

const MODES: [Mode; 2] = [Mode::Encrypted, Mode::Filter];

fn sops_config(r: &GitRepo) -> String {
    format!(
        "creation_rules:\n  - path_regex: {RULES}\n    age: {}\n",
        r.key.public
    )
}

/// A repository with `secrets/app.yaml` and `.env` committed in `mode`.
fn repo(mode: Mode) -> Option<GitRepo> {
    let r = GitRepo::new()?;
    r.write(".sops.yaml", &sops_config(&r));
    r.write("secrets/app.yaml", APP);
    r.write(".env", ENV);
    r.write("README.md", "hello\n");
    match mode {
        Mode::Encrypted => {
            for f in ["secrets/app.yaml", ".env"] {
                ok(&r.run(&["encrypt", "-i", f]), "encrypt -i");
            }
        }
        Mode::Filter => ok(&r.run(&["git", "init"]), "sealed git init"),
    }
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "init"]);
    let stored = r.read("secrets/app.yaml");
    assert_eq!(
        stored.contains("sops:"),
        mode == Mode::Encrypted,
        "{mode:?}"
    );
    let blob = r.git(&["show", "HEAD:secrets/app.yaml"]);
    assert!(blob.contains("sops:") && !blob.contains("fake-pass-1"));
    Some(r)
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What a run gave: exit code, stdout, stderr.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run_of(out: Output) -> Run {
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run(r: &GitRepo, args: &[&str]) -> Run {
    run_of(r.run(args))
}

/// The plaintext of a blob (`:path` for the index), decrypted by sealed from stdin.
fn decrypt_blob(r: &GitRepo, spec: &str, input_type: &str) -> String {
    let blob = r.git(&["show", spec]);
    assert!(blob.contains("sops"), "{spec} is not ciphertext");
    let mut child = r
        .sealed()
        .args(["decrypt", "--input-type", input_type, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(blob.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    ok(&out, "decrypt of the blob");
    String::from_utf8(out.stdout).unwrap()
}

/// The document of `rel` as a user of `mode` sees it after a change: decrypted from the
/// work tree; in filter mode the work tree must still be plaintext, and `git add` must
/// stage ciphertext of the same document.
fn document_after_change(r: &GitRepo, mode: Mode, rel: &str, input_type: &str) -> String {
    let shown = run(r, &["decrypt", rel]);
    assert_eq!(shown.code, Some(0), "{mode:?}: {}", shown.stderr);
    let stored = r.read(rel);
    match mode {
        Mode::Encrypted => assert!(stored.contains("sops"), "ciphertext stays ciphertext"),
        Mode::Filter => {
            assert_eq!(stored, shown.stdout, "the work tree holds the plaintext");
            assert!(
                !stored.contains("ENC["),
                "no ciphertext in the plaintext file"
            );
            r.git(&["add", rel]);
            assert_eq!(
                decrypt_blob(r, &format!(":{rel}"), input_type),
                shown.stdout
            );
        }
    }
    shown.stdout
}

/// Runs `args` in a fresh repository of each mode and checks that both runs agree; returns
/// the run (of the filter mode).
fn same_in_both(args: &[&str]) -> Option<Run> {
    let mut runs = Vec::new();
    for mode in MODES {
        let r = repo(mode)?;
        runs.push(run(&r, args));
    }
    assert_eq!(runs[0], runs[1], "{args:?}: encrypted vs filter mode");
    runs.pop()
}

#[test]
fn exec_reads_plaintext_work_tree_files_as_it_reads_encrypted_ones() {
    // The default ./.env.
    let Some(got) = same_in_both(&["exec", "--", "sh", "-c", "printf %s \"$API_TOKEN\""]) else {
        return;
    };
    assert_eq!(got.code, Some(0), "{}", got.stderr);
    assert_eq!(got.stdout, "fake-token-1");
    // -f, several files, later wins.
    let got = same_in_both(&[
        "exec",
        "-f",
        "secrets/app.yaml",
        "-f",
        ".env",
        "--",
        "sh",
        "-c",
        "printf '%s|%s|%s|%s' \"$DB_PASSWORD\" \"$PORT\" \"$DB_USER\" \"$DEBUG\"",
    ])
    .unwrap();
    assert_eq!(got.code, Some(0), "{}", got.stderr);
    assert_eq!(got.stdout, "fake-pass-1|5432|admin|true");
    // --file-arg: the document byte for byte.
    let got = same_in_both(&["exec", "--file-arg", "secrets/app.yaml", "--", "cat", "{}"]).unwrap();
    assert_eq!(got.code, Some(0), "{}", got.stderr);
    assert_eq!(got.stdout, APP);
}

#[test]
fn decrypt_extract_and_output_types_read_plaintext_work_tree_files() {
    let Some(got) = same_in_both(&["decrypt", "secrets/app.yaml"]) else {
        return;
    };
    assert_eq!((got.code, got.stdout.as_str()), (Some(0), APP));
    let got = same_in_both(&[
        "decrypt",
        "--extract",
        "[\"db\"][\"password\"]",
        "secrets/app.yaml",
    ])
    .unwrap();
    assert_eq!((got.code, got.stdout.as_str()), (Some(0), "fake-pass-1"));
    for ty in ["json", "yaml", "dotenv", "export"] {
        let got = same_in_both(&["decrypt", "--output-type", ty, "secrets/app.yaml"]).unwrap();
        assert_eq!(got.code, Some(0), "{ty}: {}", got.stderr);
        assert!(got.stdout.contains("fake-pass-1"), "{ty}");
    }
    let got = same_in_both(&["decrypt", "--output-type", "json", ".env"]).unwrap();
    assert!(
        got.stdout.contains("\"API_TOKEN\": \"fake-token-1\""),
        "{}",
        got.stdout
    );
    // A path that is not there: the same error in both.
    let got = same_in_both(&["decrypt", "--extract", "[\"nope\"]", "secrets/app.yaml"]).unwrap();
    assert_ne!(got.code, Some(0));
}

#[test]
fn decrypt_in_place_and_to_a_file_give_the_same_plaintext() {
    for mode in MODES {
        let Some(r) = repo(mode) else { return };
        ok(
            &r.run(&["decrypt", "-o", "out.yaml", "secrets/app.yaml"]),
            "-o",
        );
        assert_eq!(r.read("out.yaml"), APP, "{mode:?}");
        ok(&r.run(&["decrypt", "-i", "secrets/app.yaml"]), "-i");
        assert_eq!(r.read("secrets/app.yaml"), APP, "{mode:?}");
    }
}

/// Runs the change in each mode; the documents after it must be equal. Returns it.
fn change_in_both(rel: &str, input_type: &str, change: impl Fn(&GitRepo) -> Run) -> Option<String> {
    let mut docs = Vec::new();
    for mode in MODES {
        let r = repo(mode)?;
        let got = change(&r);
        assert_eq!(got.code, Some(0), "{mode:?}: {}", got.stderr);
        docs.push(document_after_change(&r, mode, rel, input_type));
    }
    assert_eq!(docs[0], docs[1], "encrypted vs filter mode");
    docs.pop()
}

#[test]
fn set_and_unset_change_the_plaintext_in_place_under_the_filter() {
    let Some(doc) = change_in_both("secrets/app.yaml", "yaml", |r| {
        run(
            r,
            &[
                "set",
                "secrets/app.yaml",
                "[\"db\"][\"password\"]",
                "\"new-pass-2\"",
            ],
        )
    }) else {
        return;
    };
    assert_eq!(
        doc,
        "db:\n  user: admin # owner\n  password: new-pass-2\nport: 5432\n"
    );
    let doc = change_in_both("secrets/app.yaml", "yaml", |r| {
        run(
            r,
            &[
                "set",
                "secrets/app.yaml",
                "[\"db\"][\"host\"]",
                "\"db.internal\"",
            ],
        )
    })
    .unwrap();
    assert!(doc.contains("  host: db.internal\n"), "{doc}");
    let doc = change_in_both(".env", "dotenv", |r| {
        run(r, &["unset", ".env", "[\"DEBUG\"]"])
    })
    .unwrap();
    assert_eq!(doc, "API_TOKEN=fake-token-1\n");
    // Refusals are the same too, and leave the file as it was.
    for mode in MODES {
        let r = repo(mode).unwrap();
        let before = r.read("secrets/app.yaml");
        let got = run(&r, &["set", "secrets/app.yaml", "[\"sops\"]", "\"x\""]);
        assert_ne!(got.code, Some(0), "{mode:?}");
        let got = run(&r, &["unset", "secrets/app.yaml", "[\"nope\"]"]);
        assert_ne!(got.code, Some(0), "{mode:?}");
        assert_eq!(r.read("secrets/app.yaml"), before, "{mode:?}");
    }
}

/// An editor script that replaces `from` by `to` in the file it is given.
fn sed_editor(r: &GitRepo, from: &str, to: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = r.tmp.path().join("editor.sh");
    std::fs::write(
        &path,
        format!("#!/bin/sh\nsed -i 's/{from}/{to}/' \"$1\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn edit_changes_the_plaintext_in_place_under_the_filter() {
    let Some(doc) = change_in_both("secrets/app.yaml", "yaml", |r| {
        let editor = sed_editor(r, "fake-pass-1", "edited-pass-3");
        run_of(
            r.sealed()
                .env("EDITOR", editor)
                .args(["edit", "secrets/app.yaml"])
                .output()
                .unwrap(),
        )
    }) else {
        return;
    };
    assert_eq!(
        doc,
        "db:\n  user: admin # owner\n  password: edited-pass-3\nport: 5432\n"
    );
    // Text the engine cannot encrypt is refused the same way; the file stays as it was.
    let mut runs = Vec::new();
    for mode in MODES {
        let r = repo(mode).unwrap();
        let before = r.read("secrets/app.yaml");
        let editor = sed_editor(&r, "^port: 5432", "port: [5432");
        let got = run_of(
            r.sealed()
                .env("EDITOR", editor)
                .args(["edit", "secrets/app.yaml"])
                .output()
                .unwrap(),
        );
        assert_ne!(got.code, Some(0), "{mode:?}");
        assert!(
            got.stderr.contains("secrets/app.yaml (edited text):"),
            "{}",
            got.stderr
        );
        assert_eq!(r.read("secrets/app.yaml"), before, "{mode:?}");
        runs.push(got);
    }
    assert_eq!(runs[0], runs[1]);
}

#[test]
fn rotate_updatekeys_and_team_keep_working_in_both_modes() {
    for mode in MODES {
        let Some(r) = repo(mode) else { return };
        let before = r.read("secrets/app.yaml");
        ok(&r.run(&["rotate", "secrets/app.yaml"]), "rotate");
        match mode {
            Mode::Encrypted => assert_ne!(r.read("secrets/app.yaml"), before),
            // The index blob is rotated; the plaintext stays as it is.
            Mode::Filter => {
                assert_eq!(r.read("secrets/app.yaml"), before);
                assert_ne!(
                    r.git(&["show", ":secrets/app.yaml"]),
                    r.git(&["show", "HEAD:secrets/app.yaml"])
                );
            }
        }
        let doc = run(&r, &["decrypt", "secrets/app.yaml"]);
        assert_eq!((doc.code, doc.stdout.as_str()), (Some(0), APP), "{mode:?}");

        // A second member: `team add` re-wraps, and their key opens the file.
        let bob = common::keygen_in(r.tmp.path(), "bob.txt");
        ok(&r.run(&["team", "add", "bob", &bob.public]), "team add");
        let stored = match mode {
            Mode::Encrypted => r.read("secrets/app.yaml"),
            Mode::Filter => r.git(&["show", ":secrets/app.yaml"]),
        };
        assert!(stored.contains(&bob.public), "{mode:?}");
        std::fs::write(r.tmp.path().join("as-bob.yaml"), &stored).unwrap();
        let out = r
            .sealed()
            .env("SOPS_AGE_KEY_FILE", &bob.path)
            .args(["decrypt"])
            .arg(r.tmp.path().join("as-bob.yaml"))
            .output()
            .unwrap();
        ok(&out, "decrypt as bob");
        assert_eq!(String::from_utf8_lossy(&out.stdout), APP);
        // `updatekeys` finds nothing left to do, in both modes.
        let out = run(&r, &["updatekeys", "-y", "secrets/app.yaml"]);
        assert_eq!(out.code, Some(0), "{mode:?}: {}", out.stderr);
        assert!(out.stdout.contains("already match"), "{}", out.stdout);
    }
}

#[test]
fn an_unencrypted_file_git_would_not_encrypt_keeps_its_error() {
    let Some(r) = repo(Mode::Filter) else { return };
    // Not under the filter: no attribute, no rule.
    r.write("notes.yaml", APP);
    // Under a rule, but with the filter's attribute taken away by a later line.
    r.write("secrets/open.yaml", APP);
    let attrs = r.read(".gitattributes");
    r.write(
        ".gitattributes",
        &format!("{attrs}/secrets/open.yaml -filter\n"),
    );
    for file in ["notes.yaml", "secrets/open.yaml"] {
        for args in [
            vec!["decrypt", file],
            vec!["decrypt", "--extract", "[\"db\"]", file],
            vec!["exec", "-f", file, "--", "true"],
            vec!["set", file, "[\"port\"]", "1"],
            vec!["unset", file, "[\"port\"]"],
        ] {
            let got = run(&r, &args);
            assert_eq!(got.code, Some(1), "{args:?}: {}", got.stderr);
            assert!(
                got.stderr.contains(&format!(
                    "{file}: the file is not encrypted (no sops metadata found)"
                )),
                "{args:?}: {}",
                got.stderr
            );
            assert_eq!(r.read(file), APP, "{args:?}");
        }
    }
    // A clone where `sealed git init` has not run: git would store the plaintext.
    let Some(plain) = repo(Mode::Encrypted) else {
        return;
    };
    plain.write("secrets/new.yaml", APP);
    let got = run(&plain, &["set", "secrets/new.yaml", "[\"port\"]", "1"]);
    assert!(got.stderr.contains("not encrypted"), "{}", got.stderr);
    assert_eq!(plain.read("secrets/new.yaml"), APP);
}

#[test]
fn a_new_secret_file_not_yet_added_is_read_as_the_users_own() {
    let Some(r) = repo(Mode::Filter) else { return };
    // Files added later are covered by a pattern (`sealed git init PATTERN`).
    ok(
        &r.run(&["git", "init", "/secrets/*.env"]),
        "sealed git init PATTERN",
    );
    r.write("secrets/new.env", "HOME=/elsewhere\nNEW_TOKEN=fake-new-1\n");
    let got = run(
        &r,
        &[
            "exec",
            "-f",
            "secrets/new.env",
            "--",
            "sh",
            "-c",
            "printf '%s|%s' \"$NEW_TOKEN\" \"$HOME\"",
        ],
    );
    assert_eq!(got.code, Some(0), "{}", got.stderr);
    // No commit holds it: every value is the user's own, none is weak.
    assert_eq!(got.stdout, "fake-new-1|/elsewhere");
    assert!(!got.stderr.contains("warning"), "{}", got.stderr);
}

/// A sops-written ciphertext of `plain` for the repository's key, with `inject` added
/// before its `sops:` block (what an editor without the key can do).
fn sops_file(r: &GitRepo, plain: &str, inject: &str) -> Option<String> {
    let sops = common::peer("sops")?;
    let src = r.tmp.path().join("plain.yaml");
    std::fs::write(&src, plain).unwrap();
    let out = r
        .cmd(&sops)
        .current_dir(r.tmp.path())
        .args(["encrypt", "--age", &r.key.public])
        .arg(&src)
        .output()
        .unwrap();
    ok(&out, "sops encrypt");
    let text = String::from_utf8(out.stdout).unwrap();
    let at = text.find("\nsops:").unwrap() + 1;
    Some(format!("{}{inject}{}", &text[..at], &text[at..]))
}

#[test]
fn values_a_sops_commit_leaves_unauthenticated_never_steer_exec_in_either_mode() {
    let mut runs = Vec::new();
    for mode in MODES {
        let Some(r) = repo(mode) else { return };
        let Some(cipher) = sops_file(&r, APP, "path: ~\nld_preload: \"\"\n") else {
            return;
        };
        r.write("secrets/app.yaml", &cipher);
        r.git(&["add", "secrets/app.yaml"]);
        r.git(&["commit", "-q", "-m", "sops-written, then edited"]);
        if mode == Mode::Filter {
            // A checkout: the smudge filter decrypts it into the work tree.
            std::fs::remove_file(r.root.join("secrets/app.yaml")).unwrap();
            r.git(&["checkout", "--", "secrets/app.yaml"]);
            let plain = r.read("secrets/app.yaml");
            assert!(
                plain.contains("path: ~") && !plain.contains("sops"),
                "{plain}"
            );
        }
        let exec = run_of(
            r.sealed()
                .env("DB_USER", "from-env")
                .args([
                    "exec",
                    "-f",
                    "secrets/app.yaml",
                    "--",
                    "sh",
                    "-c",
                    "printf '%s|%s|%s' \"$PATH\" \"$DB_PASSWORD\" \"${LD_PRELOAD-unset}\"",
                ])
                .output()
                .unwrap(),
        );
        assert_eq!(exec.code, Some(0), "{mode:?}: {}", exec.stderr);
        assert_eq!(
            exec.stdout,
            format!("{}|fake-pass-1|unset", common::path_var()),
            "{mode:?}"
        );
        assert!(exec.stderr.contains("PATH is not set"), "{}", exec.stderr);
        assert!(
            exec.stderr.contains("LD_PRELOAD is not set"),
            "{}",
            exec.stderr
        );
        let export = run(
            &r,
            &["decrypt", "--output-type", "export", "secrets/app.yaml"],
        );
        assert_eq!(export.code, Some(0), "{}", export.stderr);
        assert!(!export.stdout.contains("PATH"), "{mode:?}");
        runs.push((exec, export));

        // Sealed again by the user (the index blob in filter mode), the file is
        // authenticated as a whole: nothing is weak any more.
        ok(&r.run(&["rotate", "secrets/app.yaml"]), "rotate");
        let got = run(
            &r,
            &[
                "exec",
                "-f",
                "secrets/app.yaml",
                "--",
                "/bin/sh",
                "-c",
                "printf '%s' \"${LD_PRELOAD-unset}\"",
            ],
        );
        assert_eq!(
            (got.code, got.stdout.as_str()),
            (Some(0), ""),
            "{mode:?}: {}",
            got.stderr
        );
        assert!(!got.stderr.contains("warning"), "{mode:?}: {}", got.stderr);
    }
    assert_eq!(runs[0], runs[1], "encrypted vs filter mode");
}

#[test]
fn plaintext_committed_in_clear_at_a_protected_path_is_weak_everywhere() {
    let Some(r) = repo(Mode::Filter) else { return };
    // A commit that stored the file in clear (the filter bypassed): every value in it was
    // chosen by whoever made that commit.
    let id = {
        let mut child = r
            .cmd(Path::new("git"))
            .args(["hash-object", "-w", "--stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"PATH=/tmp/evil\nAPI_TOKEN=fake-token-9\n")
            .unwrap();
        String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
    };
    r.git(&[
        "update-index",
        "--cacheinfo",
        &format!("100644,{},.env", id.trim()),
    ]);
    r.git(&["checkout", "--", ".env"]);
    assert!(r.read(".env").starts_with("PATH=/tmp/evil"));
    let got = run(
        &r,
        &[
            "exec",
            "--",
            "sh",
            "-c",
            "printf '%s|%s' \"$PATH\" \"$API_TOKEN\"",
        ],
    );
    assert_eq!(got.code, Some(0), "{}", got.stderr);
    assert_eq!(got.stdout, format!("{}|fake-token-9", common::path_var()));
    assert!(
        got.stderr.contains(".env: PATH is not set"),
        "{}",
        got.stderr
    );
}
