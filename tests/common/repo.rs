//! A real git repository in a temporary directory, with a key and a git environment
//! isolated from the user's (fresh HOME, no system config), for tests of `sealed git …`.
//! Include with `#[path = "common/repo.rs"] mod git_repo;` next to `mod common;`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{self, Key, bin, keygen_in, peer, tempdir};

/// A repository with a key; `.sops.yaml` is up to the test.
pub struct Repo {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub home: PathBuf,
    pub key: Key,
}

impl Repo {
    /// A fresh repository, or `None` (test skipped) without git.
    pub fn new() -> Option<Repo> {
        peer("git")?;
        let tmp = tempdir();
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let key = keygen_in(tmp.path(), "key.txt");
        let root = tmp.path().join("repo");
        std::fs::create_dir_all(&root).unwrap();
        let repo = Repo {
            tmp,
            root,
            home,
            key,
        };
        repo.git(&["init", "-q", "-b", "main"]);
        Some(repo)
    }

    /// Writes `.sops.yaml` with one rule per `path_regex`, all for this key.
    pub fn rules(&self, regexes: &[&str]) {
        let mut text = String::from("creation_rules:\n");
        for re in regexes {
            text.push_str(&format!(
                "  - path_regex: '{}'\n    age: {}\n",
                re.replace('\'', "''"),
                self.key.public
            ));
        }
        self.write(".sops.yaml", &text);
    }

    /// A command in `dir` with the isolated environment and the key.
    pub fn cmd(&self, program: &Path, dir: &Path) -> Command {
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

    /// `git ARGS` in the work tree, whatever its outcome.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(Path::new("git"), &self.root)
            .args(args)
            .output()
            .expect("run git")
    }

    /// `git ARGS`, which must succeed; its standard output.
    pub fn git(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            stderr(&out)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `sealed ARGS` in the work tree.
    pub fn sealed(&self, args: &[&str]) -> Output {
        self.cmd(&bin(), &self.root)
            .args(args)
            .output()
            .expect("run sealed")
    }

    /// Runs a command line exactly as a message prints it, with `sh`, `sealed` on PATH.
    pub fn paste(&self, line: &str) -> Output {
        let path = format!(
            "{}:{}",
            bin().parent().unwrap().display(),
            common::path_var()
        );
        self.cmd(Path::new("sh"), &self.root)
            .env("PATH", path)
            .args(["-c", line])
            .output()
            .unwrap()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).unwrap()
    }
}

/// A command's standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The backquoted command after the last `: ` of the line of `text` that holds `marker`.
pub fn fix_after(text: &str, marker: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no {marker:?} in {text:?}"));
    let at = line.find(marker).unwrap() + marker.len();
    let rest = &line[at..];
    let start = rest.find('`').expect("a backquoted fix") + 1;
    let end = start + rest[start..].find('`').expect("closing backquote");
    rest[start..end].to_string()
}
