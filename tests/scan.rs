//! `sealed scan` in real git repositories with history, in both storage modes (encrypted
//! work tree, and the git filter's plaintext under `sealed git init`): values found in the
//! work tree, the index and old commits, reported by path, line, commit and key path,
//! never by value; exit 1; `--json`; the files' own text is not a finding.

mod common;

use std::process::Output;

use common::git::{GitRepo, stderr};

const APP: &str = "db:\n  user: admin\n  password: fake-pass-98765\n  port: 5432\ncert: |\n  -----BEGIN FAKE-----\n  MIIBfakeLineOfKeyMaterial42\n  -----END FAKE-----\n";
const SECRET: &str = "fake-pass-98765";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Encrypted,
    Filter,
}

fn repo(mode: Mode) -> Option<GitRepo> {
    let r = GitRepo::new()?;
    r.rules(&["^secrets/.*\\.yaml$"]);
    r.write("secrets/app.yaml", APP);
    r.write("README.md", "hello\n");
    match mode {
        Mode::Encrypted => ok(&r.run(&["encrypt", "-i", "secrets/app.yaml"])),
        Mode::Filter => ok(&r.run(&["git", "init"])),
    }
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "init"]);
    Some(r)
}

fn ok(out: &Output) {
    assert!(out.status.success(), "{}", stderr(out));
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `sealed scan ARGS`; checks that no value is printed anywhere.
fn scan(r: &GitRepo, args: &[&str]) -> Output {
    let mut all = vec!["scan"];
    all.extend(args);
    let out = r.run(&all);
    for text in [stdout(&out), stderr(&out)] {
        assert!(
            !text.contains(SECRET) && !text.contains("MIIBfake"),
            "{text}"
        );
    }
    out
}

#[test]
fn a_clean_repository_passes_in_both_modes() {
    for mode in [Mode::Encrypted, Mode::Filter] {
        let Some(r) = repo(mode) else { return };
        for args in [&[][..], &["--staged"], &["--history"]] {
            let out = scan(&r, args);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{mode:?} {args:?}: {}",
                stderr(&out)
            );
            assert_eq!(stdout(&out), "");
        }
    }
}

#[test]
fn values_in_the_work_tree_and_index_are_found_by_path_line_and_key_path() {
    for mode in [Mode::Encrypted, Mode::Filter] {
        let Some(r) = repo(mode) else { return };
        r.write("notes.txt", &format!("one\ntwo {SECRET} three\n"));
        r.write("deploy/ci.env", "A=1\nKEY=MIIBfakeLineOfKeyMaterial42\n");
        let out = scan(&r, &[]);
        assert_eq!(out.status.code(), Some(1), "{mode:?}");
        assert_eq!(
            stdout(&out),
            "deploy/ci.env:2: the value at key path 'cert:' of secrets/app.yaml in clear text\n\
             notes.txt:2: the value at key path 'db:password:' of secrets/app.yaml in clear text\n"
        );
        assert!(
            stderr(&out).contains("2 secret value(s) found"),
            "{}",
            stderr(&out)
        );
        // Not staged yet: the index is clean.
        assert_eq!(scan(&r, &["--staged"]).status.code(), Some(0));
        r.git(&["add", "notes.txt"]);
        let out = scan(&r, &["--staged", "--json"]);
        assert_eq!(out.status.code(), Some(1));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(
            json["findings"],
            serde_json::json!([{"path": "notes.txt", "line": 2, "commit": null,
                "source": "secrets/app.yaml", "key_path": "db:password:"}])
        );
        assert_eq!(json["unopened"], serde_json::json!([]));
    }
}

#[test]
fn history_reports_the_commit_that_added_a_value_and_since_limits_it() {
    for mode in [Mode::Encrypted, Mode::Filter] {
        let Some(r) = repo(mode) else { return };
        r.write("config/app.json", &format!("{{\"pw\": \"{SECRET}\"}}\n"));
        r.git(&["add", "-A"]);
        r.git(&["commit", "-q", "--no-verify", "-m", "leak"]);
        let leak = r
            .git(&["rev-parse", "--short=12", "HEAD"])
            .trim()
            .to_string();
        r.git(&["rm", "-q", "config/app.json"]);
        r.git(&["commit", "-q", "-m", "remove"]);
        // The work tree and index are clean now; the history is not.
        assert_eq!(scan(&r, &[]).status.code(), Some(0));
        let out = scan(&r, &["--history"]);
        assert_eq!(out.status.code(), Some(1), "{mode:?}: {}", stderr(&out));
        assert_eq!(
            stdout(&out),
            format!(
                "config/app.json:1: (commit {leak}) the value at key path 'db:password:' of secrets/app.yaml in clear text\n"
            )
        );
        assert_eq!(
            scan(&r, &["--history", "--since", "HEAD~1"]).status.code(),
            Some(0)
        );
        assert_eq!(
            scan(&r, &["--history", "--since", "HEAD~2"]).status.code(),
            Some(1)
        );
        assert_eq!(
            scan(&r, &["--history", "--since", "HEAD~2..HEAD~1"])
                .status
                .code(),
            Some(1)
        );
    }
}

#[test]
fn short_values_and_a_missing_key_are_said() {
    let Some(r) = repo(Mode::Encrypted) else {
        return;
    };
    r.write("ports.txt", "port 5432 admin\n");
    assert_eq!(scan(&r, &[]).status.code(), Some(0), "shorter than 8 bytes");
    let out = scan(&r, &["--min-len", "4"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "ports.txt:1: the value at key path 'db:port:' of secrets/app.yaml in clear text\n\
         ports.txt:1: the value at key path 'db:user:' of secrets/app.yaml in clear text\n"
    );
    r.write("notes.txt", &format!("{SECRET}\n"));
    let out = r
        .cmd_as(&common::bin(), &r.root, false)
        .args(["scan"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("secrets/app.yaml: no identity opens it"),
        "{}",
        stderr(&out)
    );
}

/// `git ARGS` in the repository, with or without the identity.
fn git_as(r: &GitRepo, key: bool, args: &[&str]) -> Output {
    r.cmd_as(std::path::Path::new("git"), &r.root, key)
        .args(args)
        .output()
        .expect("run git")
}

#[test]
fn the_guard_refuses_a_known_value_added_to_any_file_without_decrypting_it_again() {
    for mode in [Mode::Encrypted, Mode::Filter] {
        let Some(r) = repo(mode) else { return };
        if mode == Mode::Encrypted {
            // The guard runs only where `sealed git init` installed it.
            ok(&r.run(&["git", "init", "secrets/*.yaml"]));
            // The first commit after that teaches the store (one decryption).
            r.write("README.md", "hello again\n");
            r.git(&["commit", "-q", "-am", "readme"]);
        }
        let store = r.root.join(".git/sealed/known");
        let meta = std::fs::metadata(&store).expect("the store exists");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{mode:?}");
        let text = std::fs::read_to_string(&store).expect("read");
        assert!(
            !text.contains(SECRET) && !text.contains("MIIBfake"),
            "no value in clear"
        );
        assert!(text.contains("db:password:"), "key paths are kept");
        // Without any identity the guard still knows the values: from the store.
        r.write(
            "docs/setup.md",
            &format!("# Setup\n\nuse {SECRET} for the db\n"),
        );
        assert!(
            git_as(&r, false, &["add", "docs/setup.md"])
                .status
                .success()
        );
        let out = git_as(&r, false, &["commit", "-q", "-m", "docs"]);
        assert!(
            !out.status.success(),
            "{mode:?}: the commit must be refused"
        );
        let err = stderr(&out);
        assert!(
            err.contains("docs/setup.md (index): holds in clear text the value at key path 'db:password:' of the protected file secrets/app.yaml"),
            "{mode:?}: {err}"
        );
        assert!(!err.contains(SECRET));
        // The advice, pasted, unstages it; the commit of the rest goes through.
        ok(&r.paste("git rm -q -f --cached -- docs/setup.md"));
        r.write("README.md", "hello a third time\n");
        assert!(
            git_as(&r, false, &["commit", "-q", "-am", "readme"])
                .status
                .success()
        );
    }
}
