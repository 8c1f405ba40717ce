//! Issue 13, git: what reaches a commit, the stash or an archive when features meet —
//! `git add -p`, renames and copies out of the protected paths, ciphertext edited in clear
//! text, `git archive`, symbolic links. Real repositories in temporary directories, the
//! `sealed` binary as filter and pre-commit guard; each test runs with and without a key
//! where the two differ.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::bin;
use common::git::GitRepo;

/// The secret values of the test document; none may appear in a commit, a stash, an
/// archive or on stderr.
const SECRETS: &[&str] = &["fake-pass-1", "fake-typed-3", "fake-token-1"];

/// A repository ([`GitRepo`]: a key, a git environment isolated from the user's) with
/// `.sops.yaml` protecting `secrets/*.yaml|env`, set up by `sealed git init` and committed.
struct Repo(GitRepo);

impl std::ops::Deref for Repo {
    type Target = GitRepo;
    fn deref(&self) -> &GitRepo {
        &self.0
    }
}

impl Repo {
    fn new() -> Option<Repo> {
        let repo = Repo(GitRepo::new()?);
        repo.write(
            ".sops.yaml",
            &format!(
                "creation_rules:\n  - path_regex: secrets/.*\\.(yaml|env)$\n    age: {}\n",
                repo.key.public
            ),
        );
        repo.write(
            "secrets/app.yaml",
            "db:\n  user: admin\n  password: fake-pass-1\nport: 5432\nother: x\nmore: y\nlast: z\n",
        );
        repo.write("secrets/.env", "API_TOKEN=fake-token-1\n");
        repo.write("README.md", "hello\n");
        let out = repo.sealed(&repo.root, true, &["git", "init"]);
        assert!(out.status.success(), "sealed git init: {}", stderr(&out));
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-q", "-m", "init"]);
        Some(repo)
    }

    /// A command in `dir`, with or without the key ([`GitRepo::cmd_as`]).
    fn cmd(&self, program: &Path, dir: &Path, key: bool) -> Command {
        self.cmd_as(program, dir, key)
    }

    fn run(&self, dir: &Path, key: bool, args: &[&str]) -> Output {
        self.cmd(Path::new("git"), dir, key)
            .args(args)
            .output()
            .expect("run git")
    }

    fn git_in(&self, dir: &Path, key: bool, args: &[&str]) -> String {
        let out = self.run(dir, key, args);
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    fn sealed(&self, dir: &Path, key: bool, args: &[&str]) -> Output {
        self.cmd(&bin(), dir, key)
            .args(args)
            .output()
            .expect("run sealed")
    }

    /// Runs a fix exactly as a message prints it, with `sh`.
    fn paste(&self, dir: &Path, key: bool, line: &str) -> Output {
        let exe = bin();
        let path = format!("{}:{}", exe.parent().unwrap().display(), common::path_var());
        self.cmd(Path::new("sh"), dir, key)
            .env("PATH", path)
            .args(["-c", line])
            .output()
            .unwrap()
    }

    fn clone_to(&self, name: &str, key: bool) -> PathBuf {
        let parent = self.root.parent().unwrap();
        self.git_in(parent, key, &["clone", "-q", "repo", name]);
        let dest = parent.join(name);
        let out = self.sealed(&dest, key, &["git", "init"]);
        assert!(out.status.success(), "sealed git init: {}", stderr(&out));
        dest
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The backquoted command of the last line of `text` that names a fix (`… `cmd``).
fn fix_in(text: &str) -> String {
    let line = text
        .lines()
        .rev()
        .find(|l| l.contains('`'))
        .unwrap_or_else(|| panic!("no fix in {text:?}"));
    let start = line.rfind('`').unwrap();
    let begin = line[..start].rfind('`').unwrap();
    line[begin + 1..start].to_string()
}

fn assert_no_secret(what: &str, bytes: &[u8]) {
    for s in SECRETS {
        assert!(
            memchr::memmem::find(bytes, s.as_bytes()).is_none(),
            "{what} holds a secret value"
        );
    }
}

/// `sealed git check` (index) and `--all` (history) must give the same verdict.
fn assert_guard_refuses(r: &Repo, dir: &Path, key: bool, path: &str) -> String {
    let out = r.sealed(dir, key, &["git", "check"]);
    let err = stderr(&out);
    assert!(!out.status.success(), "the guard lets {path} through");
    assert!(err.contains(path), "names {path}: {err}");
    assert_no_secret("the guard's message", &out.stderr);
    assert_no_secret("the guard's output", &out.stdout);
    let commit = r.run(dir, key, &["commit", "-q", "-m", "leak"]);
    assert!(!commit.status.success(), "the pre-commit hook refuses it");
    err
}

/// Commits around the hook, then checks that `check --all` refuses that commit too, and
/// takes the commit back.
fn assert_history_refuses(r: &Repo, dir: &Path, key: bool, path: &str) {
    r.git_in(dir, key, &["commit", "-q", "--no-verify", "-m", "leak"]);
    let out = r.sealed(dir, key, &["git", "check", "--all"]);
    assert!(!out.status.success(), "check --all lets {path} through");
    assert!(stderr(&out).contains(path), "{}", stderr(&out));
    assert_no_secret("check --all's message", &out.stderr);
    r.git_in(dir, key, &["reset", "-q", "--soft", "HEAD~1"]);
}

// Reproduction 5: `git add -p` stages a blob whose MAC fails.
#[test]
fn a_protected_file_staged_in_part_is_refused_when_a_key_verifies_its_mac() {
    let Some(r) = Repo::new() else { return };
    let text = r
        .read("secrets/app.yaml")
        .replace("fake-pass-1", "fake-pass-2")
        .replace("last: z", "last: zz");
    r.write("secrets/app.yaml", &text);
    // Stage the first hunk (the values) only, not the one with the new MAC.
    let mut child = r
        .cmd(Path::new("git"), &r.root, true)
        .args(["add", "-p", "secrets/app.yaml"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"y\nn\nn\nn\nn\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    let staged = r.git(&["show", ":secrets/app.yaml"]);
    assert_ne!(staged, r.git(&["show", "HEAD:secrets/app.yaml"]));
    assert!(staged.contains("sops:"), "still looks like ciphertext");

    let err = assert_guard_refuses(&r, &r.root, true, "secrets/app.yaml");
    assert!(err.contains("does not decrypt"), "{err}");
    assert_history_refuses(&r, &r.root, true, "secrets/app.yaml");
    // The fix the message gives works.
    let fix = fix_in(&err);
    assert_eq!(fix, "git add --renormalize -- secrets/app.yaml");
    assert!(r.paste(&r.root, true, &fix).status.success());
    assert!(r.sealed(&r.root, true, &["git", "check"]).status.success());
    r.git(&["commit", "-q", "-m", "whole file"]);
    let blob = r.git(&["show", "HEAD:secrets/app.yaml"]);
    let file = r.root.parent().unwrap().join("blob.yaml");
    std::fs::write(&file, blob).unwrap();
    let out = r.sealed(&r.root, true, &["decrypt", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("password: fake-pass-2"));
}

// Reproduction 6: `git mv secrets/app.yaml app.yaml`, edit, commit.
#[test]
fn a_secret_renamed_out_of_the_protected_paths_is_refused_with_and_without_a_key() {
    let Some(r) = Repo::new() else { return };
    r.git(&["mv", "secrets/app.yaml", "app.yaml"]);
    r.write("app.yaml", &r.read("app.yaml").replace("5432", "6543"));
    r.git(&["add", "app.yaml"]);
    for key in [true, false] {
        let err = assert_guard_refuses(&r, &r.root, key, "app.yaml");
        assert!(err.contains("secrets/app.yaml"), "names the source: {err}");
        assert_history_refuses(&r, &r.root, key, "app.yaml");
    }
    // The fix the message gives works.
    let err = stderr(&r.sealed(&r.root, false, &["git", "check"]));
    let fix = fix_in(&err);
    let out = r.paste(&r.root, true, &fix);
    assert!(out.status.success(), "{fix}: {}", stderr(&out));
    r.git(&["commit", "-q", "-m", "edit"]);
    assert!(r.read("secrets/app.yaml").contains("port: 6543"));
    assert!(r.git(&["ls-files", "app.yaml"]).is_empty());
    assert_no_secret("HEAD", r.git(&["show", "HEAD:secrets/app.yaml"]).as_bytes());
    assert!(
        r.sealed(&r.root, false, &["git", "check", "--all"])
            .status
            .success()
    );
}

#[test]
fn a_secret_copied_out_of_the_protected_paths_is_refused_with_and_without_a_key() {
    let Some(r) = Repo::new() else { return };
    // A copy under another name and syntax-less extension, one value changed.
    std::fs::copy(r.root.join("secrets/app.yaml"), r.root.join("app.yaml")).unwrap();
    r.write("app.yaml", &r.read("app.yaml").replace("admin", "root"));
    r.git(&["add", "app.yaml"]);
    for key in [true, false] {
        let err = assert_guard_refuses(&r, &r.root, key, "app.yaml");
        assert!(err.contains("secrets/app.yaml"), "{err}");
        assert_history_refuses(&r, &r.root, key, "app.yaml");
    }
    // With a key, the value is found wherever it is: in a file of another syntax.
    r.git(&["rm", "-q", "--cached", "app.yaml"]);
    r.write(
        "notes.txt",
        "the db password is fake-pass-1, do not share\n",
    );
    r.git(&["add", "notes.txt"]);
    let err = assert_guard_refuses(&r, &r.root, true, "notes.txt");
    assert!(err.contains("db:password:"), "names the key path: {err}");
    let fix = fix_in(&err);
    assert_eq!(fix, "git rm -q -f --cached -- notes.txt");
    assert!(r.paste(&r.root, true, &fix).status.success());
    assert!(r.sealed(&r.root, true, &["git", "check"]).status.success());
}

#[test]
fn example_files_that_share_only_key_names_are_not_refused() {
    let Some(r) = Repo::new() else { return };
    r.write(
        "app.example.yaml",
        "db:\n  user: changeme\n  password: <your-password-here>\nport: 5432\nother: x\nmore: y\nlast: z\n",
    );
    r.write(".env.example", "API_TOKEN=<token>\n");
    r.git(&["add", "app.example.yaml", ".env.example"]);
    for key in [true, false] {
        let out = r.sealed(&r.root, key, &["git", "check"]);
        assert!(out.status.success(), "key {key}: {}", stderr(&out));
    }
    r.git_in(&r.root, false, &["commit", "-q", "-m", "examples"]);
    // Removing the secret file while changing the example in the same change is still
    // not a rename of it.
    r.git(&["rm", "-q", "secrets/.env"]);
    r.write(".env.example", "API_TOKEN=replace-me\n");
    r.git(&["add", ".env.example"]);
    for key in [true, false] {
        let out = r.sealed(&r.root, key, &["git", "check"]);
        assert!(out.status.success(), "key {key}: {}", stderr(&out));
    }
    r.git_in(&r.root, false, &["commit", "-q", "-m", "drop"]);
    for key in [true, false] {
        let out = r.sealed(&r.root, key, &["git", "check", "--all"]);
        assert!(out.status.success(), "key {key}: {}", stderr(&out));
    }
}

/// The ciphertext of `secrets/app.yaml` with the password token replaced by a clear value.
fn typed_in_clear(r: &Repo) -> String {
    let blob = r.git(&["show", "HEAD:secrets/app.yaml"]);
    let start = blob.find("password: ENC[").unwrap() + "password: ".len();
    let end = start + blob[start..].find(']').unwrap() + 1;
    format!("{}fake-typed-3{}", &blob[..start], &blob[end..])
}

/// The filter configurations git may use: the long-running process, or one `clean` /
/// `smudge` command per file (old git).
fn filter_modes(r: &Repo, dir: &Path, process: bool) {
    if !process {
        r.git_in(dir, false, &["config", "--unset", "filter.sealed.process"]);
    }
}

// Reproduction 7, without a key: the clean filter passed the clear value into the index
// and `git stash` stored it.
#[test]
fn ciphertext_edited_in_clear_text_is_never_staged_or_stashed_without_a_key() {
    let Some(r) = Repo::new() else { return };
    for process in [true, false] {
        let name = if process { "process" } else { "single" };
        let clone = r.clone_to(name, false);
        filter_modes(&r, &clone, process);
        let edited = typed_in_clear(&r);
        std::fs::write(clone.join("secrets/app.yaml"), &edited).unwrap();
        let add = r.run(&clone, false, &["add", "secrets/app.yaml"]);
        assert!(!add.status.success(), "{name}: git add refuses");
        let err = stderr(&add);
        assert!(
            err.contains("secrets/app.yaml") && err.contains("db:password:"),
            "{err}"
        );
        assert_no_secret("git add's message", &add.stderr);
        let stash = r.run(&clone, false, &["stash"]);
        assert!(!stash.status.success(), "{name}: git stash refuses");
        assert_no_secret("git stash's message", &stash.stderr);
        assert!(
            !r.run(
                &clone,
                false,
                &["rev-parse", "-q", "--verify", "refs/stash"]
            )
            .status
            .success(),
            "{name}: nothing in refs/stash"
        );
        let objects = r.git_in(&clone, false, &["rev-list", "--all", "--objects"]);
        for line in objects.lines() {
            let id = line.split(' ').next().unwrap();
            let obj = r.run(&clone, false, &["cat-file", "-p", id]);
            assert_no_secret("a reachable object", &obj.stdout);
        }
        // The fix the message gives works: the edit is undone, add succeeds.
        let fix = fix_in(&err);
        assert_eq!(fix, "git checkout -- secrets/app.yaml");
        assert!(r.paste(&clone, false, &fix).status.success());
        assert!(r.run(&clone, false, &["add", "-A"]).status.success());
        assert_eq!(r.git_in(&clone, false, &["status", "--porcelain"]), "");
        // … and so does the other: with the key, the same edit is encrypted.
        std::fs::write(clone.join("secrets/app.yaml"), &edited).unwrap();
        let add = r.run(&clone, true, &["add", "secrets/app.yaml"]);
        assert!(add.status.success(), "{}", stderr(&add));
        assert_no_secret(
            "the index",
            r.git_in(&clone, false, &["show", ":secrets/app.yaml"])
                .as_bytes(),
        );
    }
}

// Reproduction 7, with a key: the clear value is encrypted as the plaintext it is.
#[test]
fn ciphertext_edited_in_clear_text_is_encrypted_with_a_key() {
    let Some(r) = Repo::new() else { return };
    for process in [true, false] {
        let name = if process { "process" } else { "single" };
        let clone = r.clone_to(name, false);
        filter_modes(&r, &clone, process);
        std::fs::write(clone.join("secrets/app.yaml"), typed_in_clear(&r)).unwrap();
        let stash = r.run(&clone, true, &["stash"]);
        assert!(stash.status.success(), "{name}: {}", stderr(&stash));
        assert_no_secret("git stash's message", &stash.stderr);
        let stashed = r.git_in(&clone, true, &["show", "refs/stash:secrets/app.yaml"]);
        assert_no_secret("refs/stash", stashed.as_bytes());
        let file = clone.join("stashed.yaml");
        std::fs::write(&file, &stashed).unwrap();
        let out = r.sealed(&clone, true, &["decrypt", file.to_str().unwrap()]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let plain = String::from_utf8_lossy(&out.stdout);
        assert!(plain.contains("password: fake-typed-3") && plain.contains("user: admin"));
        // The guard accepts it, the MAC verified.
        r.git_in(&clone, true, &["stash", "pop", "-q"]);
        r.git_in(&clone, true, &["add", "secrets/app.yaml"]);
        let out = r.sealed(&clone, true, &["git", "check"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

// Reproduction 8: `git archive` of a keyed clone held the plaintext.
#[test]
fn git_archive_of_a_keyed_clone_leaves_protected_files_out() {
    let Some(r) = Repo::new() else { return };
    // A commit whose .gitattributes predates `export-ignore` (made by an older sealed).
    let attrs = r.read(".gitattributes");
    r.write(".gitattributes", &attrs.replace(" export-ignore", ""));
    r.git(&["commit", "-q", "--allow-empty", "-am", "old attributes"]);
    r.write(".gitattributes", &attrs);
    r.git(&["commit", "-q", "--allow-empty", "-am", "new attributes"]);
    let clone = r.clone_to("keyed", true);
    assert!(
        std::fs::read_to_string(clone.join("secrets/app.yaml"))
            .unwrap()
            .contains("fake-pass-1")
    );
    for rev in ["HEAD", "HEAD~1"] {
        let tar = r.run(&clone, true, &["archive", "--format=tar", rev]);
        assert!(tar.status.success(), "{}", stderr(&tar));
        assert_no_secret("the archive", &tar.stdout);
        let list = {
            let mut c = Command::new("tar")
                .arg("-t")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            c.stdin.take().unwrap().write_all(&tar.stdout).unwrap();
            String::from_utf8(c.wait_with_output().unwrap().stdout).unwrap()
        };
        assert!(list.lines().any(|l| l == "README.md"), "{rev}: {list}");
        assert!(
            !list.contains("secrets/app.yaml") && !list.contains("secrets/.env"),
            "{rev}: {list}"
        );
        let zip = r.run(&clone, true, &["archive", "--format=zip", rev]);
        assert!(zip.status.success());
        assert_no_secret("the zip archive", &zip.stdout);
    }
    // As docs/git.md says: `export-ignore` in the managed block.
    assert!(attrs.contains(
        "secrets/**/*.yaml filter=sealed-rules diff=sealed merge=sealed-rules export-ignore"
    ));
}

// From item 10: a tracked symbolic link at a protected path blocked every commit.
#[test]
fn symbolic_links_at_protected_paths_are_checked_as_links() {
    let Some(r) = Repo::new() else { return };
    std::os::unix::fs::symlink("app.yaml", r.root.join("secrets/current.yaml")).unwrap();
    r.git(&["add", "secrets/current.yaml"]);
    for key in [true, false] {
        let out = r.sealed(&r.root, key, &["git", "check"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    r.git_in(&r.root, false, &["commit", "-q", "-m", "link"]);
    assert!(
        r.sealed(&r.root, false, &["git", "check", "--all"])
            .status
            .success()
    );
    // A link at a protected path to an unprotected plaintext file is refused.
    r.write("plain.yaml", "password: fake-pass-1\n");
    std::os::unix::fs::symlink("../plain.yaml", r.root.join("secrets/db.yaml")).unwrap();
    r.git(&["add", "plain.yaml", "secrets/db.yaml"]);
    let err = assert_guard_refuses(&r, &r.root, false, "secrets/db.yaml");
    assert!(err.contains("plain.yaml"), "{err}");
    assert_history_refuses(&r, &r.root, false, "secrets/db.yaml");
    let fix = fix_in(&err);
    assert_eq!(fix, "git rm -q -f --cached -- plain.yaml");
    assert!(r.paste(&r.root, true, &fix).status.success());
    let out = r.sealed(&r.root, true, &["git", "check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    r.git(&["commit", "-q", "-m", "link to a local file"]);
    assert!(r.git(&["ls-files", "plain.yaml"]).is_empty());
}
