//! A git repository in a temporary directory, with its own age key and a git environment
//! isolated from the user's (no system or global configuration, a fresh `HOME`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::{Key, bin, keygen_in, path_var, peer, tempdir};

/// A repository at `root` (`<tmp>/repo`), with `key` as the only identity sealed finds.
pub struct GitRepo {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub home: PathBuf,
    pub key: Key,
}

impl GitRepo {
    /// A new, empty repository on branch `main`; `None` (with a notice) without `git`.
    pub fn new() -> Option<GitRepo> {
        peer("git")?;
        let tmp = tempdir();
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let key = keygen_in(tmp.path(), "key.txt");
        let root = tmp.path().join("repo");
        std::fs::create_dir_all(&root).unwrap();
        let repo = GitRepo {
            tmp,
            root,
            home,
            key,
        };
        repo.git(&["init", "-q", "-b", "main"]);
        Some(repo)
    }

    /// `program` in the repository, with only the isolated environment set.
    pub fn cmd(&self, program: &Path) -> Command {
        self.cmd_in(program, &self.root)
    }

    /// `program` in `dir`, with only the isolated environment set.
    pub fn cmd_in(&self, program: &Path, dir: &Path) -> Command {
        self.cmd_as(program, dir, true)
    }

    /// `program` in `dir`; with `key`, `SOPS_AGE_KEY_FILE` names the repository's key,
    /// else no identity can be found (the fresh HOME holds none).
    pub fn cmd_as(&self, program: &Path, dir: &Path, key: bool) -> Command {
        let mut c = Command::new(program);
        c.current_dir(dir)
            .env_clear()
            .env("PATH", path_var())
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .stdin(Stdio::null());
        if key {
            c.env("SOPS_AGE_KEY_FILE", &self.key.path);
        }
        c
    }

    /// `git ARGS`, whatever its outcome.
    pub fn git_output(&self, args: &[&str]) -> Output {
        self.cmd(Path::new("git"))
            .args(args)
            .output()
            .expect("run git")
    }

    /// `git ARGS`, which must succeed; its stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let out = self.git_output(args);
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `sealed ARGS` in the repository.
    pub fn sealed(&self) -> Command {
        self.cmd(&bin())
    }

    /// `sealed ARGS`, its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.sealed().args(args).output().expect("run sealed")
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

    /// Runs a command line exactly as a message prints it, with `sh`, `sealed` on PATH.
    pub fn paste(&self, line: &str) -> Output {
        let path = format!("{}:{}", bin().parent().unwrap().display(), path_var());
        self.cmd(Path::new("sh"))
            .env("PATH", path)
            .args(["-c", line])
            .output()
            .unwrap()
    }

    /// Writes a file (its directory created).
    pub fn write(&self, rel: &str, text: &str) {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Reads a file of the work tree.
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
