//! The README cannot drift: every shell block whose fence reads ```` ```sh runnable ```` is
//! run, in order, with `sh -e`, `sealed` being the binary under test on `PATH`.
//!
//! Two people, each with a fresh HOME (global git config: a name, `main` as the default
//! branch, and `https://git.example.com/my-app.git` pointing at a local bare repository):
//! - "you" (blocks marked `sh runnable`): start in `~/my-app`, a new git repository whose
//!   `origin` is that URL; `$BOB_KEY` is the teammate's public key once they have one;
//! - the teammate bob (blocks marked `sh runnable teammate`): start in their HOME.
//!
//! As in a terminal, each person's next block starts in the directory where their last one
//! ended. Every block is run even when an earlier one failed; the test fails listing each
//! failed block with its line in README.md and its output.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{bin, path_var, peer, root, tempdir};

/// One runnable block.
struct Block {
    /// The line of its opening fence (1-based).
    line: usize,
    /// "you" or "teammate".
    role: String,
    /// The shell text.
    text: String,
}

/// The runnable blocks of a Markdown text, in order.
fn runnable_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Option<Block> = None;
    for (n, line) in markdown.lines().enumerate() {
        match current.as_mut() {
            None => {
                let info = line.trim_start().strip_prefix("```");
                let words: Vec<&str> = info
                    .map(|i| i.split_whitespace().collect())
                    .unwrap_or_default();
                if words.first() == Some(&"sh") && words.get(1) == Some(&"runnable") {
                    current = Some(Block {
                        line: n + 1,
                        role: words.get(2).unwrap_or(&"you").to_string(),
                        text: String::new(),
                    });
                }
            }
            Some(_) if line.trim_start().starts_with("```") => {
                blocks.extend(current.take());
            }
            Some(b) => {
                b.text.push_str(line);
                b.text.push('\n');
            }
        }
    }
    assert!(current.is_none(), "an unclosed runnable block");
    blocks
}

struct Person {
    home: PathBuf,
    cwd: PathBuf,
}

fn git(home: &Path, dir: &Path, args: &[&str]) {
    let out = Command::new(peer("git").unwrap())
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", path_var())
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn person(tmp: &Path, name: &str, remote: &Path) -> Person {
    let home = tmp.join(format!("home-{name}"));
    std::fs::create_dir_all(&home).unwrap();
    for (k, v) in [
        ("user.name", name),
        ("user.email", &format!("{name}@example.com")),
        ("init.defaultBranch", "main"),
        (
            &format!("url.{}.insteadOf", remote.display()),
            "https://git.example.com/my-app.git",
        ),
    ] {
        git(&home, &home, &["config", "--global", k, v]);
    }
    Person {
        cwd: home.clone(),
        home,
    }
}

/// The public key in a keys file made by `sealed init`.
fn public_key(home: &Path) -> Option<String> {
    let text = std::fs::read_to_string(home.join(".config/sops/age/keys.txt")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .map(str::to_string)
}

#[test]
fn readme_runnable_blocks_work() {
    if peer("git").is_none() {
        return;
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let blocks = runnable_blocks(&readme);
    assert!(
        blocks.len() >= 4,
        "the README's quick start has runnable blocks"
    );

    let tmp = tempdir();
    let bin_dir = tmp.path().join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::os::unix::fs::symlink(bin(), bin_dir.join("sealed")).unwrap();
    let path = format!("{}:{}", bin_dir.display(), path_var());
    let remote = tmp.path().join("remote.git");
    std::fs::create_dir_all(&remote).unwrap();
    git(tmp.path(), &remote, &["init", "-q", "--bare", "-b", "main"]);

    let mut you = person(tmp.path(), "you", &remote);
    let mut bob = person(tmp.path(), "bob", &remote);
    let repo = you.home.join("my-app");
    std::fs::create_dir_all(&repo).unwrap();
    git(&you.home, &repo, &["init", "-q"]);
    git(
        &you.home,
        &repo,
        &[
            "remote",
            "add",
            "origin",
            "https://git.example.com/my-app.git",
        ],
    );
    you.cwd = repo;

    let mut failures = Vec::new();
    for block in &blocks {
        let bob_key = public_key(&bob.home);
        let who = match block.role.as_str() {
            "you" => &mut you,
            "teammate" => &mut bob,
            other => panic!("README.md:{}: unknown role {other:?}", block.line),
        };
        let cwd_file = tmp.path().join("cwd");
        let _ = std::fs::remove_file(&cwd_file);
        let script = format!("{}pwd > '{}'\n", block.text, cwd_file.display());
        let mut cmd = Command::new("sh");
        cmd.arg("-e")
            .arg("-c")
            .arg(&script)
            .current_dir(&who.cwd)
            .env_clear()
            .env("PATH", &path)
            .env("HOME", &who.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("TMPDIR", tmp.path())
            .stdin(Stdio::null());
        if let Some(key) = bob_key {
            cmd.env("BOB_KEY", key);
        }
        let out = cmd.output().unwrap();
        if let Ok(cwd) = std::fs::read_to_string(&cwd_file) {
            who.cwd = PathBuf::from(cwd.trim_end());
        }
        let status = if out.status.success() { "ok" } else { "FAILED" };
        eprintln!("README.md:{} ({}): {status}", block.line, block.role);
        if !out.status.success() {
            failures.push(format!(
                "README.md:{} ({}) failed ({}):\n{}\n--- stdout:\n{}--- stderr:\n{}",
                block.line,
                block.role,
                out.status,
                block.text,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} runnable README block(s) failed:\n\n{}",
        failures.len(),
        blocks.len(),
        failures.join("\n\n")
    );
}

#[test]
fn the_first_block_stays_as_ci_needs_it() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let first = readme.find("```sh\n").expect("a first shell block");
    assert!(readme[first..].starts_with(
        "```sh\nSOPS_AGE_KEY_FILE=fixtures/demo.agekey cargo run -q -- decrypt fixtures/encrypted/basic.yaml\ncargo test\n```"
    ));
}

#[test]
fn blocks_are_extracted_with_their_roles() {
    let md = "x\n```sh runnable\na\nb\n```\n```sh\nno\n```\n```sh runnable teammate\nc\n```\n";
    let blocks = runnable_blocks(md);
    assert_eq!(blocks.len(), 2);
    assert_eq!((blocks[0].line, blocks[0].role.as_str()), (2, "you"));
    assert_eq!(blocks[0].text, "a\nb\n");
    assert_eq!(
        (blocks[1].role.as_str(), blocks[1].text.as_str()),
        ("teammate", "c\n")
    );
}
