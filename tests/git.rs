//! Git integration through real repositories: the `git` CLI in temporary directories, the
//! `sealed` binary as filter, textconv, merge driver and pre-commit guard.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{bin, keygen_in, peer, tempdir};

/// A repository in a temp dir with a `.sops.yaml` for `secrets/*.yaml|env`, a key, and a
/// git environment isolated from the user's.
struct Repo {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    key: common::Key,
}

fn git_available() -> bool {
    peer("git").is_some()
}

impl Repo {
    fn new() -> Repo {
        let tmp = tempdir();
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let key = keygen_in(tmp.path(), "key.txt");
        let root = tmp.path().join("repo");
        std::fs::create_dir_all(root.join("secrets")).unwrap();
        let repo = Repo {
            _tmp: tmp,
            root,
            home,
            key,
        };
        repo.git(&["init", "-q", "-b", "main"]);
        std::fs::write(
            repo.root.join(".sops.yaml"),
            format!(
                "creation_rules:\n  - path_regex: secrets/.*\\.(yaml|env)$\n    age: {}\n",
                repo.key.public
            ),
        )
        .unwrap();
        repo.write(
            "secrets/app.yaml",
            "db:\n  user: admin # owner\n  password: fake-pass-1\nport: 5432\n",
        );
        repo.write("secrets/.env", "API_TOKEN=fake-token-1\n");
        repo.write("README.md", "hello\n");
        repo
    }

    fn cmd(&self, program: &Path, dir: &Path) -> Command {
        let mut c = Command::new(program);
        c.current_dir(dir)
            .env_clear()
            .env("PATH", common::path_var())
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .env("SOPS_AGE_KEY_FILE", &self.key.path);
        c
    }

    fn run_in(&self, dir: &Path, args: &[&str]) -> Output {
        self.cmd(Path::new("git"), dir)
            .args(args)
            .output()
            .expect("run git")
    }

    fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.run_in(dir, args);
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.root.clone(), args)
    }

    fn sealed_in(&self, dir: &Path, args: &[&str]) -> Output {
        self.cmd(&bin(), dir)
            .args(args)
            .output()
            .expect("run sealed")
    }

    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.root.join(rel), text).unwrap();
    }

    fn read_in(&self, dir: &Path, rel: &str) -> String {
        std::fs::read_to_string(dir.join(rel)).unwrap()
    }

    /// `sealed git init` + first commit.
    fn setup(&self) {
        let out = self.sealed_in(&self.root, &["git", "init"]);
        assert!(
            out.status.success(),
            "sealed git init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", "init"]);
    }

    fn clone_to(&self, name: &str) -> PathBuf {
        let dest = self.root.parent().unwrap().join(name);
        self.git_in(self.root.parent().unwrap(), &["clone", "-q", "repo", name]);
        dest
    }
}

fn tokens(text: &str) -> usize {
    text.matches("ENC[AES256_GCM").count()
}

#[test]
fn blobs_are_ciphertext_and_the_work_tree_plaintext() {
    if !git_available() {
        return;
    }
    let r = Repo::new();
    r.setup();
    let blob = r.git(&["show", "HEAD:secrets/app.yaml"]);
    assert!(!blob.contains("fake-pass-1") && !blob.contains("admin"));
    assert!(blob.contains("sops:") && tokens(&blob) >= 4);
    let env_blob = r.git(&["show", "HEAD:secrets/.env"]);
    assert!(!env_blob.contains("fake-token-1") && env_blob.contains("sops_mac="));
    assert!(
        r.read_in(&r.root, "secrets/app.yaml")
            .contains("fake-pass-1")
    );
    assert_eq!(r.git(&["show", "HEAD:README.md"]), "hello\n");
    assert_eq!(r.git(&["status", "--porcelain"]), "");
    let attrs = r.read_in(&r.root, ".gitattributes");
    assert!(attrs.contains("secrets/**/*.yaml filter=sealed-rules diff=sealed merge=sealed-rules"));
}

#[test]
fn touch_and_no_op_edits_leave_status_clean_and_blob_identical() {
    if !git_available() {
        return;
    }
    let r = Repo::new();
    r.setup();
    let before = r.git(&["rev-parse", "HEAD:secrets/app.yaml"]);
    // Rewrite the same bytes (new mtime): the clean filter must give back the same blob.
    let text = r.read_in(&r.root, "secrets/app.yaml");
    std::fs::write(r.root.join("secrets/app.yaml"), &text).unwrap();
    assert_eq!(r.git(&["status", "--porcelain"]), "");
    r.git(&["add", "secrets/app.yaml"]);
    assert_eq!(r.git(&["rev-parse", ":secrets/app.yaml"]), before);
}

#[test]
fn a_changed_value_changes_only_its_token_the_mac_and_lastmodified() {
    if !git_available() {
        return;
    }
    let r = Repo::new();
    r.setup();
    let text = r
        .read_in(&r.root, "secrets/app.yaml")
        .replace("fake-pass-1", "fake-pass-2");
    r.write("secrets/app.yaml", &text);
    r.git(&["add", "secrets/app.yaml"]);
    let diff = r.git(&[
        "diff",
        "--cached",
        "--no-textconv",
        "-U0",
        "secrets/app.yaml",
    ]);
    let changed: Vec<&str> = diff
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
        .collect();
    assert!(
        (2..=4).contains(&changed.len()),
        "expected the value, mac (and lastmodified, sealed's layout digest) lines, got {} lines",
        changed.len()
    );
    assert!(changed.iter().any(|l| {
        l.trim_start_matches('+')
            .trim_start()
            .starts_with("password:")
    }));
    assert!(changed.iter().any(|l| l.contains("mac:")));
    // textconv shows the plaintext change to someone with the key.
    let shown = r.git(&["diff", "--cached", "secrets/app.yaml"]);
    assert!(
        shown.contains("-  password: fake-pass-1") && shown.contains("+  password: fake-pass-2")
    );
}

#[test]
fn clone_with_and_without_a_key() {
    if !git_available() {
        return;
    }
    let r = Repo::new();
    r.setup();
    let with = r.clone_to("with-key");
    assert!(
        r.read_in(&with, "secrets/app.yaml")
            .contains("ENC[AES256_GCM")
    );
    let inode = || {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(with.join("secrets/app.yaml"))
            .unwrap()
            .ino()
    };
    let before = inode();
    let out = r.sealed_in(&with, &["git", "init"]);
    assert!(out.status.success());
    assert!(r.read_in(&with, "secrets/app.yaml").contains("fake-pass-1"));
    assert_eq!(
        inode(),
        before,
        "decrypted in place, not deleted and created again"
    );
    assert_eq!(r.git_in(&with, &["status", "--porcelain"]), "");

    let without = r.clone_to("without-key");
    let out = r
        .cmd(&bin(), &without)
        .env("SOPS_AGE_KEY_FILE", without.join("missing.txt"))
        .args(["git", "init"])
        .output()
        .unwrap();
    assert!(out.status.success(), "init without a key still succeeds");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("warning").count(),
        1,
        "one warning, not one per file: {stderr}"
    );
    assert!(
        r.read_in(&without, "secrets/app.yaml")
            .contains("ENC[AES256_GCM")
    );
    let status = r
        .cmd(Path::new("git"), &without)
        .env("SOPS_AGE_KEY_FILE", without.join("missing.txt"))
        .args(["status", "--porcelain"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&status.stdout), "");
}

#[test]
fn git_add_refuses_a_file_it_cannot_encrypt() {
    if !git_available() {
        return;
    }
    let r = Repo::new();
    r.setup();
    r.write("secrets/app.yaml", "db:\n  password: [fake-pass-unclosed\n");
    let out = r.run_in(&r.root, &["add", "secrets/app.yaml"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("secrets/app.yaml"),
        "names the file: {stderr}"
    );
    assert!(
        !stderr.contains("fake-pass-unclosed"),
        "never shows the content"
    );
}

#[test]
fn branches_changing_different_values_merge_cleanly_and_conflicts_are_reported() {
    if !git_available() {
        return;
    }
    let r = Repo::new();
    r.setup();
    r.git(&["checkout", "-q", "-b", "feature"]);
    let t = r
        .read_in(&r.root, "secrets/app.yaml")
        .replace("admin", "root");
    r.write("secrets/app.yaml", &t);
    r.git(&["commit", "-q", "-am", "user"]);
    r.git(&["checkout", "-q", "main"]);
    let t = r
        .read_in(&r.root, "secrets/app.yaml")
        .replace("5432", "6543");
    r.write("secrets/app.yaml", &t);
    r.git(&["commit", "-q", "-am", "port"]);
    r.git(&["merge", "-q", "feature", "-m", "merge"]);
    let merged = r.read_in(&r.root, "secrets/app.yaml");
    assert!(merged.contains("user: root") && merged.contains("port: 6543"));
    assert_eq!(r.git(&["status", "--porcelain"]), "");
    assert!(
        r.git(&["show", "HEAD:secrets/app.yaml"])
            .contains("ENC[AES256_GCM")
    );

    // A real conflict: both sides change the same value.
    r.git(&["checkout", "-q", "-b", "alice"]);
    r.write(
        "secrets/app.yaml",
        &merged.replace("user: root", "user: alice"),
    );
    r.git(&["commit", "-q", "-am", "alice"]);
    r.git(&["checkout", "-q", "main"]);
    r.write(
        "secrets/app.yaml",
        &merged.replace("user: root", "user: bob"),
    );
    r.git(&["commit", "-q", "-am", "bob"]);
    let out = r.run_in(&r.root, &["merge", "-q", "alice", "-m", "m2"]);
    assert!(!out.status.success(), "a real conflict is reported");
    let conflicted = r.read_in(&r.root, "secrets/app.yaml");
    assert!(conflicted.contains("<<<<<<<") && conflicted.contains(">>>>>>>"));
    assert!(conflicted.contains("user: alice") && conflicted.contains("user: bob"));
    assert!(
        !r.run_in(&r.root, &["add", "secrets/app.yaml"])
            .status
            .success(),
        "markers cannot be staged"
    );
}

#[test]
fn the_guard_refuses_a_plaintext_blob_staged_around_the_filter() {
    if !git_available() {
        return;
    }
    let r = Repo::new();
    r.setup();
    let out = r.sealed_in(&r.root, &["git", "check", "--all"]);
    assert!(out.status.success(), "history holds no plaintext");
    let blob = {
        let mut c = r.cmd(Path::new("git"), &r.root);
        c.args(["hash-object", "-w", "--no-filters", "--stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"db:\n  password: fake-pass-leak\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    r.git(&[
        "update-index",
        "--cacheinfo",
        &format!("100644,{blob},secrets/app.yaml"),
    ]);
    let out = r.sealed_in(&r.root, &["git", "check"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("secrets/app.yaml") && !stderr.contains("fake-pass-leak"));
    let commit = r.run_in(&r.root, &["commit", "-q", "-m", "leak"]);
    assert!(
        !commit.status.success(),
        "the pre-commit hook refuses the commit"
    );
}

#[test]
fn init_is_idempotent_and_chains_an_existing_hook() {
    if !git_available() {
        return;
    }
    let r = Repo::new();
    let hook = r.root.join(".git/hooks/pre-commit");
    std::fs::write(
        &hook,
        "#!/bin/sh\ntouch \"$(git rev-parse --show-toplevel)/.hook-ran\"\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    r.setup();
    assert!(
        r.root.join(".hook-ran").exists(),
        "the previous hook still runs"
    );
    let attrs = r.read_in(&r.root, ".gitattributes");
    let config = r.read_in(&r.root, ".git/config");
    assert!(r.sealed_in(&r.root, &["git", "init"]).status.success());
    assert_eq!(r.read_in(&r.root, ".gitattributes"), attrs);
    assert_eq!(r.read_in(&r.root, ".git/config"), config);
    assert!(!config.contains("cachetextconv"));
}

#[test]
fn committed_blobs_are_valid_sops_files() {
    if !git_available() {
        return;
    }
    let Some(sops) = peer("sops") else { return };
    let r = Repo::new();
    r.setup();
    let blob = r.git(&["show", "HEAD:secrets/app.yaml"]);
    let file = r.root.parent().unwrap().join("blob.yaml");
    std::fs::write(&file, blob).unwrap();
    let out = r
        .cmd(&sops, r.root.parent().unwrap())
        .args(["decrypt", "--output-type", "json"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sops decrypt: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["db"]["password"], "fake-pass-1");
}
