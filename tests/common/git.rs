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
        let mut c = Command::new(program);
        c.current_dir(&self.root)
            .env_clear()
            .env("PATH", path_var())
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .env("SOPS_AGE_KEY_FILE", &self.key.path)
            .stdin(Stdio::null());
        c
    }

    /// `git ARGS`, which must succeed; its stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let out = self
            .cmd(Path::new("git"))
            .args(args)
            .output()
            .expect("run git");
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
