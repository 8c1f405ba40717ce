//! Issue 13, reproduction 4: rotation, re-wrapping and team changes wrap the data key to the
//! recipients `.sops.yaml` and the command line give, never to one an editor of the file
//! added to its metadata (the `recipient` labels, key groups and threshold are not
//! authenticated). Recipients found only in a file are reported and dropped, or kept with
//! `--keep-file-recipients`; a file no rule matches is refused unless recipients are passed.
//! Both storage modes: sealed work-tree files, and the git filter's index blobs.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{bin, keygen_in, peer, tempdir};

const PLAIN: &str = "db:\n  password: fake-pass-41\n  port: 5432\n";

/// A repository whose `.sops.yaml` gives `secrets/` to alice and bob; `mallory` is an
/// editor of the committed files with no key of theirs in any rule.
struct Repo {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    alice: common::Key,
    bob: common::Key,
    carol: common::Key,
    mallory: common::Key,
}

impl Repo {
    fn new() -> Option<Repo> {
        peer("git")?;
        let tmp = tempdir();
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let root = tmp.path().join("repo");
        std::fs::create_dir_all(root.join("secrets")).unwrap();
        let r = Repo {
            alice: keygen_in(tmp.path(), "alice.txt"),
            bob: keygen_in(tmp.path(), "bob.txt"),
            carol: keygen_in(tmp.path(), "carol.txt"),
            mallory: keygen_in(tmp.path(), "mallory.txt"),
            _tmp: tmp,
            root,
            home,
        };
        r.git(&["init", "-q", "-b", "main"]);
        r.write(
            ".sops.yaml",
            &format!(
                "creation_rules:\n  - path_regex: ^secrets/\n    age:\n      - {} # alice\n      - {} # bob\n",
                r.alice.public, r.bob.public
            ),
        );
        r.write("secrets/app.yaml", PLAIN);
        r.ok(&r.alice, &["encrypt", "-i", "secrets/app.yaml"]);
        r.commit("init");
        Some(r)
    }

    fn cmd(&self, program: &Path, key: &common::Key) -> Command {
        let mut c = Command::new(program);
        c.current_dir(&self.root)
            .env_clear()
            .env("PATH", common::path_var())
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .env("SOPS_AGE_KEY_FILE", &key.path);
        c
    }

    fn git(&self, args: &[&str]) -> String {
        let out = self
            .cmd(Path::new("git"), &self.alice)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn commit(&self, msg: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", msg]);
    }

    fn sealed(&self, key: &common::Key, args: &[&str]) -> Output {
        self.cmd(&bin(), key).args(args).output().unwrap()
    }

    fn ok(&self, key: &common::Key, args: &[&str]) -> Output {
        let out = self.sealed(key, args);
        assert!(
            out.status.success(),
            "sealed {args:?} ({:?}): {}",
            out.status.code(),
            stderr(&out)
        );
        out
    }

    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.root.join(rel), text).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).unwrap()
    }

    /// Whether `key` can decrypt `text` (written to a scratch file outside the repository).
    fn opens(&self, key: &common::Key, text: &str) -> bool {
        let file = self.home.join("probe.yaml");
        std::fs::write(&file, text).unwrap();
        let out = self.sealed(key, &["decrypt", file.to_str().unwrap()]);
        out.status.success() && String::from_utf8_lossy(&out.stdout) == PLAIN
    }

    /// The index's (staged) version of a path.
    fn staged(&self, rel: &str) -> String {
        self.git(&["show", &format!(":{rel}")])
    }

    /// Replaces the index's blob of `rel` with `text` (what a tampered commit checks out
    /// when the git filter keeps the work tree plaintext).
    fn stage_blob(&self, rel: &str, text: &str) {
        let tmp = self.home.join("blob");
        std::fs::write(&tmp, text).unwrap();
        let id = self.git(&["hash-object", "-w", "--no-filters", tmp.to_str().unwrap()]);
        self.git(&[
            "update-index",
            "--cacheinfo",
            &format!("100644,{},{rel}", id.trim()),
        ]);
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What an editor without any key can do: add an age entry for `recipient`, with any `enc`,
/// before the first entry of the file's first key group.
fn add_entry(text: &str, recipient: &str) -> String {
    let at = text.find("- recipient: ").expect("an age entry");
    let line = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let indent = &text[line..at];
    format!(
        "{}{indent}- recipient: {recipient}\n{indent}  enc: made-up\n{}",
        &text[..line],
        &text[line..]
    )
}

/// Both storage modes: the work tree holds the ciphertext, or (after `sealed git init`) the
/// index does while the work tree holds plaintext. `tamper` changes the ciphertext where it
/// lives; `current` reads it.
#[derive(Clone, Copy, Debug)]
enum Mode {
    WorkTree,
    Filter,
}

impl Mode {
    fn setup(self, r: &Repo) {
        if let Mode::Filter = self {
            r.ok(&r.alice, &["git", "init"]);
            assert_eq!(r.read("secrets/app.yaml"), PLAIN, "work tree in clear");
        }
    }

    fn current(self, r: &Repo, rel: &str) -> String {
        match self {
            Mode::WorkTree => r.read(rel),
            Mode::Filter => r.staged(rel),
        }
    }

    fn tamper(self, r: &Repo, rel: &str, f: impl Fn(&str) -> String) {
        let text = f(&self.current(r, rel));
        match self {
            Mode::WorkTree => r.write(rel, &text),
            Mode::Filter => r.stage_blob(rel, &text),
        }
    }
}

const MODES: [Mode; 2] = [Mode::WorkTree, Mode::Filter];

#[test]
fn rotate_never_wraps_to_a_recipient_added_in_the_file() {
    for mode in MODES {
        let Some(r) = Repo::new() else { return };
        mode.setup(&r);
        let file = "secrets/app.yaml";
        mode.tamper(&r, file, |t| add_entry(t, &r.mallory.public));
        let out = r.ok(&r.alice, &["rotate"]);
        let rotated = mode.current(&r, file);
        assert!(
            r.opens(&r.alice, &rotated) && r.opens(&r.bob, &rotated),
            "{mode:?}"
        );
        assert!(!r.opens(&r.mallory, &rotated), "{mode:?}: mallory opens it");
        assert!(!rotated.contains(&r.mallory.public), "{mode:?}");
        // Reported: one line naming the file and the recipient (public), no value.
        let err = stderr(&out);
        let line = format!("warning: {file}: dropped {}", r.mallory.public);
        assert!(err.contains(&line), "{mode:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{mode:?}: {err}");
        assert!(!err.contains("fake-pass-41"));

        // The explicit opt-in keeps them, and says so.
        mode.tamper(&r, file, |t| add_entry(t, &r.mallory.public));
        let out = r.ok(&r.alice, &["rotate", "--keep-file-recipients"]);
        assert!(stderr(&out).contains("kept"), "{}", stderr(&out));
        assert!(r.opens(&r.mallory, &mode.current(&r, file)), "{mode:?}");
    }
}

#[test]
fn team_changes_and_updatekeys_never_wrap_to_a_recipient_added_in_the_file() {
    for mode in MODES {
        let Some(r) = Repo::new() else { return };
        mode.setup(&r);
        let file = "secrets/app.yaml";
        // team remove (rotates), then team add (re-wraps) and updatekeys on a tampered file.
        mode.tamper(&r, file, |t| add_entry(t, &r.mallory.public));
        let out = r.ok(&r.alice, &["team", "remove", "bob"]);
        let text = mode.current(&r, file);
        assert!(r.opens(&r.alice, &text), "{mode:?}");
        assert!(!r.opens(&r.bob, &text), "{mode:?}");
        assert!(!r.opens(&r.mallory, &text), "{mode:?}: mallory opens it");
        assert!(
            stderr(&out).contains(&format!("{file}: dropped {}", r.mallory.public)),
            "{mode:?}: {}",
            stderr(&out)
        );
        for args in [
            &["team", "add", "carol", r.carol.public.as_str()][..],
            &["updatekeys", "-y"][..],
        ] {
            mode.tamper(&r, file, |t| add_entry(t, &r.mallory.public));
            let out = r.ok(&r.alice, args);
            let text = mode.current(&r, file);
            assert!(!text.contains(&r.mallory.public), "{mode:?} {args:?}");
            assert!(r.opens(&r.alice, &text), "{mode:?} {args:?}");
            if args[0] == "team" {
                assert!(stderr(&out).contains("dropped"), "{}", stderr(&out));
                assert!(r.opens(&r.carol, &text), "{mode:?}");
            }
        }
    }
}

#[test]
fn key_groups_and_threshold_come_from_the_rule_not_the_file() {
    let Some(r) = Repo::new() else { return };
    r.write(
        ".sops.yaml",
        &format!(
            "creation_rules:\n  - path_regex: ^secrets/\n    shamir_threshold: 2\n    key_groups:\n      - age: [{}]\n      - age: [{}]\n",
            r.alice.public, r.bob.public
        ),
    );
    r.write("secrets/app.yaml", PLAIN);
    r.ok(&r.alice, &["encrypt", "-i", "secrets/app.yaml"]);
    // The editor adds a third key group of their own (the threshold stays 2: with the old
    // behaviour, mallory's share plus any one member's opened the rotated file).
    let text = r.read("secrets/app.yaml");
    let group = format!(
        "    key_groups:\n        - age:\n              - recipient: {}\n                enc: made-up\n",
        r.mallory.public
    );
    let tampered = text.replacen("    key_groups:\n", &group, 1);
    assert_ne!(tampered, text);
    r.write("secrets/app.yaml", &tampered);
    let both = r.home.join("ab.txt");
    let keys = format!(
        "{}{}",
        std::fs::read_to_string(&r.alice.path).unwrap(),
        std::fs::read_to_string(&r.bob.path).unwrap()
    );
    common::write_private(&both, keys.as_bytes());
    let ab = common::Key {
        path: both,
        public: String::new(),
    };
    let out = r.ok(&ab, &["rotate", "secrets/app.yaml"]);
    assert!(
        stderr(&out).contains(&format!("dropped {}", r.mallory.public)),
        "{}",
        stderr(&out)
    );
    let rotated = r.read("secrets/app.yaml");
    assert!(!rotated.contains(&r.mallory.public), "{rotated}");
    assert!(rotated.contains("shamir_threshold: 2"), "{rotated}");
    assert_eq!(rotated.matches("- age:").count(), 2, "{rotated}");
    assert!(r.opens(&ab, &rotated));
    assert!(!r.opens(&r.alice, &rotated), "one share is not enough");

    // A threshold changed in the file is not taken either: the rule's comes back.
    let tampered = rotated.replacen("shamir_threshold: 2", "shamir_threshold: 1", 1);
    r.write("secrets/app.yaml", &tampered);
    let out = r.sealed(&ab, &["rotate", "secrets/app.yaml"]);
    let now = r.read("secrets/app.yaml");
    if out.status.success() {
        assert!(now.contains("shamir_threshold: 2"), "{now}");
        assert!(!r.opens(&r.alice, &now));
    } else {
        assert_eq!(now, tampered, "refused: nothing written");
    }
}

#[test]
fn a_file_no_rule_matches_is_refused_until_recipients_are_passed() {
    let Some(r) = Repo::new() else { return };
    std::fs::create_dir_all(r.root.join("legacy")).unwrap();
    r.write("legacy/old.yaml", PLAIN);
    let both = format!("{},{}", r.alice.public, r.bob.public);
    r.ok(
        &r.alice,
        &["encrypt", "-i", "--age", &both, "legacy/old.yaml"],
    );
    r.commit("legacy");
    let text = add_entry(&r.read("legacy/old.yaml"), &r.mallory.public);
    r.write("legacy/old.yaml", &text);

    let out = r.sealed(&r.alice, &["rotate", "legacy/old.yaml"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("legacy/old.yaml: no .sops.yaml creation rule matches this file")
            && err.contains("sealed rotate --age RECIPIENT"),
        "{err}"
    );
    assert_eq!(
        err.lines().count(),
        2,
        "the file's line and the summary: {err}"
    );
    assert_eq!(r.read("legacy/old.yaml"), text, "nothing written");

    // The suggested fix, with real recipients.
    r.ok(
        &r.alice,
        &["rotate", "--age", &r.carol.public, "legacy/old.yaml"],
    );
    let rotated = r.read("legacy/old.yaml");
    assert!(r.opens(&r.carol, &rotated));
    assert!(!r.opens(&r.alice, &rotated) && !r.opens(&r.mallory, &rotated));

    // team remove refuses such a file (and keeps .sops.yaml) until told what to do; the
    // command it suggests, pasted, finishes.
    r.write("legacy/old.yaml", &text);
    let config = r.read(".sops.yaml");
    let out = r.sealed(&r.alice, &["team", "remove", "bob"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("sealed team remove bob --keep-file-recipients"),
        "{err}"
    );
    assert_eq!(r.read(".sops.yaml"), config);
    let out = r.ok(
        &r.alice,
        &["team", "remove", "bob", "--keep-file-recipients"],
    );
    assert!(
        stderr(&out).contains("legacy/old.yaml: no .sops.yaml rule matches it; kept"),
        "{}",
        stderr(&out)
    );
    let rotated = r.read("legacy/old.yaml");
    assert!(r.opens(&r.alice, &rotated) && !r.opens(&r.bob, &rotated));
    assert!(!r.read(".sops.yaml").contains(&r.bob.public));
}

#[test]
fn team_remove_rotates_a_file_whose_label_was_taken_out() {
    // An editor (bob himself, before leaving) relabels his entry: the file no longer names
    // him, but his rule does, so the file is still rotated.
    let Some(r) = Repo::new() else { return };
    let text = r.read("secrets/app.yaml");
    let relabeled = text.replacen(
        &format!("recipient: {}", r.bob.public),
        &format!("recipient: {}", r.carol.public),
        1,
    );
    assert_ne!(relabeled, text);
    r.write("secrets/app.yaml", &relabeled);
    assert!(r.opens(&r.bob, &relabeled));
    let out = r.ok(&r.alice, &["team", "remove", "bob"]);
    let rotated = r.read("secrets/app.yaml");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("rotated secrets/app.yaml"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!r.opens(&r.bob, &rotated), "bob still opens it");
    assert!(r.opens(&r.alice, &rotated));
}
