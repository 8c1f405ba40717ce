//! Team key rotation through real repositories: three identities made by `sealed keygen`,
//! the `git` CLI in temporary directories, and the real `sops` reading the config and every
//! file afterwards.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{bin, keygen_in, peer, tempdir};

/// The secrets of the test repository: path and plaintext. Each value is a fake secret.
const FILES: &[(&str, &str)] = &[
    (
        "secrets/app.yaml",
        "# app\ndb:\n  user: admin # owner\n  password: fake-pass-1\n  port: 5432\nhosts: [a, b]\n",
    ),
    (
        "secrets/api.json",
        "{\n  \"token\": \"fake-token-2\",\n  \"retries\": 3\n}\n",
    ),
    ("config/.env", "API_KEY=fake-key-3\nexport MODE=prod\n"),
];

/// A repository with `.sops.yaml` (a list rule and a comma-separated string rule for
/// alice and bob), the three files above encrypted and committed, and carol's key unused.
struct Team {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    alice: common::Key,
    bob: common::Key,
    carol: common::Key,
    sops: PathBuf,
}

/// git, sops and age, or `None` (the test is then skipped with a notice).
fn peers() -> Option<PathBuf> {
    let git = peer("git");
    let age = peer("age");
    let sops = peer("sops");
    git.and(age).and(sops)
}

impl Team {
    fn new() -> Option<Team> {
        let sops = peers()?;
        let tmp = tempdir();
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let alice = keygen_in(tmp.path(), "alice.txt");
        let bob = keygen_in(tmp.path(), "bob.txt");
        let carol = keygen_in(tmp.path(), "carol.txt");
        let root = tmp.path().join("repo");
        std::fs::create_dir_all(root.join("secrets")).unwrap();
        std::fs::create_dir_all(root.join("config")).unwrap();
        let team = Team {
            _tmp: tmp,
            root,
            home,
            alice,
            bob,
            carol,
            sops,
        };
        team.git(&["init", "-q", "-b", "main"]);
        team.write(
            ".sops.yaml",
            &format!(
                "# who may read what\ncreation_rules:\n  - path_regex: ^secrets/\n    age:\n      - {} # alice\n      - {} # bob\n  - path_regex: \\.env$\n    age: {},{}\n",
                team.alice.public, team.bob.public, team.alice.public, team.bob.public
            ),
        );
        for (path, text) in FILES {
            team.write(path, text);
            team.ok(&team.alice, &["encrypt", "-i", path]);
        }
        // A tracked file a rule matches but that is plaintext, and one no rule matches.
        team.write("secrets/notes.yaml", "public: yes\n");
        team.write("README.md", "hello\n");
        team.commit("init");
        Some(team)
    }

    fn cmd(&self, program: &Path) -> Command {
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
            // The git filter (once `sealed git init` ran) decrypts as alice.
            .env("SOPS_AGE_KEY_FILE", &self.alice.path);
        c
    }

    fn git(&self, args: &[&str]) -> String {
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

    fn commit(&self, msg: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", msg]);
    }

    /// `sealed ARGS` as the holder of `key`.
    fn sealed(&self, key: &common::Key, args: &[&str]) -> Output {
        self.cmd(&bin())
            .env("SOPS_AGE_KEY_FILE", &key.path)
            .args(args)
            .output()
            .expect("run sealed")
    }

    /// `sealed ARGS` that must succeed; its stdout.
    fn ok(&self, key: &common::Key, args: &[&str]) -> String {
        let out = self.sealed(key, args);
        assert!(
            out.status.success(),
            "sealed {args:?} failed ({:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.root.join(rel), text).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).unwrap()
    }

    /// `sealed decrypt` of the work-tree file as `key`: the plaintext, or `None`.
    fn decrypt(&self, key: &common::Key, rel: &str) -> Option<String> {
        let out = self.sealed(key, &["decrypt", rel]);
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).unwrap())
    }

    /// `sealed decrypt` of HEAD's version as `key`.
    fn decrypt_head(&self, key: &common::Key, rel: &str) -> Option<String> {
        let blob = self.git(&["show", &format!("HEAD:{rel}")]);
        let dir = self.root.parent().unwrap().join("head");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(Path::new(rel).file_name().unwrap());
        std::fs::write(&file, blob).unwrap();
        let out = self.sealed(key, &["decrypt", file.to_str().unwrap()]);
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).unwrap())
    }

    /// `sops decrypt` as `key` (the data, in sops's own output).
    fn sops_decrypt(&self, key: &common::Key, rel: &str) -> Output {
        self.cmd(&self.sops)
            .env("SOPS_AGE_KEY_FILE", &key.path)
            .args(["decrypt", rel])
            .output()
            .expect("run sops")
    }
}

/// Every `ENC[…]` token of a text, in order.
fn tokens(text: &str) -> Vec<String> {
    let re = regex::Regex::new(r"ENC\[AES256_GCM,[^\]]*\]").unwrap();
    re.find_iter(text).map(|m| m.as_str().to_string()).collect()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn paths() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(p, _)| *p)
}

#[test]
fn add_lets_the_new_member_decrypt_every_matched_file_with_the_same_value_tokens() {
    let Some(t) = Team::new() else { return };
    let before: Vec<(String, String)> = paths().map(|p| (p.to_string(), t.read(p))).collect();
    for p in paths() {
        assert!(
            t.decrypt(&t.carol, p).is_none(),
            "carol must not read {p} yet"
        );
    }
    let config_before = t.read(".sops.yaml");
    let out = t.ok(&t.alice, &["team", "add", "carol", &t.carol.public]);
    for p in paths() {
        assert!(out.contains(&format!("re-wrapped {p}")), "{out}");
    }
    assert!(
        !out.contains("notes.yaml") && !out.contains("README"),
        "{out}"
    );

    // .sops.yaml: carol appended to the list (with her name) and to the string, the rest
    // byte for byte the same.
    let config = t.read(".sops.yaml");
    let expected = config_before
        .replace(
            &format!("      - {} # bob\n", t.bob.public),
            &format!(
                "      - {} # bob\n      - {} # carol\n",
                t.bob.public, t.carol.public
            ),
        )
        .replace(
            &format!("age: {},{}\n", t.alice.public, t.bob.public),
            &format!(
                "age: {},{},{}\n",
                t.alice.public, t.bob.public, t.carol.public
            ),
        );
    assert!(config.starts_with(&expected), "{config}");
    assert!(config.contains(&format!("sealed_members:\n  carol: {}\n", t.carol.public)));

    for (p, old) in &before {
        let new = t.read(p);
        assert_eq!(tokens(old), tokens(&new), "{p}: value tokens changed");
        let plain = FILES.iter().find(|(f, _)| f == p).unwrap().1;
        assert_eq!(t.decrypt(&t.carol, p).as_deref(), Some(plain), "{p}");
        assert_eq!(t.decrypt(&t.bob, p).as_deref(), Some(plain), "{p}");
        let sops = t.sops_decrypt(&t.carol, p);
        assert!(sops.status.success(), "sops decrypt {p}: {}", stderr(&sops));
    }
    assert_eq!(t.read("secrets/notes.yaml"), "public: yes\n");

    // Running it again changes nothing.
    let after: Vec<String> = paths().map(|p| t.read(p)).collect();
    let again = t.ok(&t.alice, &["team", "add", "carol", &t.carol.public]);
    assert!(again.contains("already"), "{again}");
    assert_eq!(paths().map(|p| t.read(p)).collect::<Vec<_>>(), after);
    assert_eq!(t.read(".sops.yaml"), config);

    // The real sops reads the edited config: a new file is encrypted for carol too.
    t.write("secrets/new.yaml", "k: fake-new-4\n");
    let out = t
        .cmd(&t.sops)
        .args(["encrypt", "-i", "secrets/new.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "sops encrypt: {}", stderr(&out));
    assert_eq!(
        t.decrypt(&t.carol, "secrets/new.yaml").as_deref(),
        Some("k: fake-new-4\n")
    );
}

#[test]
fn remove_rotates_what_they_could_read_and_reports_the_exposed_keys() {
    let Some(t) = Team::new() else { return };
    t.ok(&t.alice, &["team", "add", "carol", &t.carol.public]);
    t.ok(&t.alice, &["team", "add", "bob", &t.bob.public]);
    // A sealed file no rule matches, for alice and bob: bob could read it too.
    std::fs::create_dir_all(t.root.join("legacy")).unwrap();
    t.write("legacy/old.yaml", "old: fake-old-5\n");
    let both = format!("{},{}", t.alice.public, t.bob.public);
    t.ok(
        &t.alice,
        &["encrypt", "-i", "--age", &both, "legacy/old.yaml"],
    );
    t.commit("carol joins");
    let before: Vec<String> = paths().map(|p| t.read(p)).collect();

    // No rule matches legacy/old.yaml: its remaining recipients come from the file only
    // with the explicit flag (tests/hardening_keys.rs has the refusal without it).
    let out = t.ok(
        &t.alice,
        &["team", "remove", "bob", "--keep-file-recipients"],
    );
    for p in paths() {
        assert!(out.contains(&format!("rotated {p}")), "{out}");
    }
    // The report names every exposed key path, and no value.
    for line in [
        "  secrets/app.yaml: db.user, db.password, db.port, hosts[0], hosts[1]",
        "  secrets/api.json: token, retries",
        "  config/.env: API_KEY, MODE",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    for secret in [
        "fake-pass-1",
        "fake-token-2",
        "fake-key-3",
        "admin",
        "owner",
    ] {
        assert!(!out.contains(secret), "the report shows a value");
    }
    let config = t.read(".sops.yaml");
    assert!(!config.contains(&t.bob.public), "{config}");
    assert!(config.contains(&format!("      - {} # carol\n", t.carol.public)));
    t.commit("bob leaves");

    for (i, (p, plain)) in FILES.iter().enumerate() {
        assert!(
            t.decrypt_head(&t.bob, p).is_none(),
            "bob still reads {p} at HEAD"
        );
        assert_eq!(t.decrypt_head(&t.alice, p).as_deref(), Some(*plain), "{p}");
        assert_eq!(t.decrypt_head(&t.carol, p).as_deref(), Some(*plain), "{p}");
        let old: BTreeSet<String> = tokens(&before[i]).into_iter().collect();
        let new = tokens(&t.read(p));
        assert_eq!(new.len(), old.len(), "{p}");
        assert!(
            new.iter().all(|tok| !old.contains(tok)),
            "{p}: a token survived rotation"
        );
        let sops = t.sops_decrypt(&t.alice, p);
        assert!(sops.status.success(), "sops decrypt {p}: {}", stderr(&sops));
        assert!(!t.sops_decrypt(&t.bob, p).status.success());
    }
    assert!(out.contains("  legacy/old.yaml: old"), "{out}");
    assert!(t.decrypt_head(&t.bob, "legacy/old.yaml").is_none());
    assert_eq!(
        t.decrypt_head(&t.alice, "legacy/old.yaml").as_deref(),
        Some("old: fake-old-5\n")
    );
    // ... while bob still reads the old commits: that is what the report is for.
    assert!(
        t.git(&["show", "HEAD~1:secrets/app.yaml"])
            .contains(&t.bob.public)
    );

    let list = t.ok(&t.alice, &["team", "list"]);
    assert!(
        list.contains(&format!("carol  {}", t.carol.public)),
        "{list}"
    );
    assert!(!list.contains(&t.bob.public), "{list}");
    assert!(
        list.contains("files (3): config/.env, secrets/api.json, secrets/app.yaml"),
        "{list}"
    );
}

#[test]
fn remove_no_rotate_rewraps_and_warns() {
    let Some(t) = Team::new() else { return };
    let before: Vec<String> = paths().map(|p| t.read(p)).collect();
    let out = t.sealed(&t.alice, &["team", "remove", "bob", "--no-rotate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: --no-rotate"),
        "{}",
        stderr(&out)
    );
    for (i, p) in paths().enumerate() {
        let now = t.read(p);
        assert!(!now.contains(&t.bob.public));
        // Same data key: the value tokens are unchanged.
        assert_eq!(tokens(&now), tokens(&before[i]), "{p}");
        assert!(t.decrypt(&t.bob, p).is_none());
    }
}

#[test]
fn updatekeys_follows_a_hand_edited_config() {
    let Some(t) = Team::new() else { return };
    let before: Vec<String> = paths().map(|p| t.read(p)).collect();
    // By hand: carol replaces bob in the list rule only.
    let config = t.read(".sops.yaml").replace(
        &format!("      - {} # bob\n", t.bob.public),
        &format!("      - {} # carol\n", t.carol.public),
    );
    t.write(".sops.yaml", &config);

    // In a pipe, without -y: shows the change, writes nothing.
    let out = t.sealed(&t.alice, &["updatekeys"]);
    assert!(!out.status.success());
    assert_ne!(out.status.code(), Some(101));
    assert!(stderr(&out).contains("pass -y"), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(
        shown.contains(&format!("  + {} (carol)", t.carol.public)),
        "{shown}"
    );
    assert!(shown.contains(&format!("  - {}", t.bob.public)), "{shown}");
    assert!(!shown.contains("config/.env"), "{shown}");
    for (i, p) in paths().enumerate() {
        assert_eq!(t.read(p), before[i], "{p} was written without -y");
    }

    let out = t.ok(&t.alice, &["updatekeys", "-y"]);
    assert!(
        out.contains("updated secrets/app.yaml") && out.contains("updated secrets/api.json"),
        "{out}"
    );
    for (i, (p, plain)) in FILES.iter().enumerate() {
        assert_eq!(tokens(&t.read(p)), tokens(&before[i]), "{p}: same data key");
        let env = p.ends_with(".env");
        assert_eq!(t.decrypt(&t.carol, p).is_some(), !env, "{p}");
        assert_eq!(t.decrypt(&t.bob, p).is_some(), env, "{p}");
        assert_eq!(t.decrypt(&t.alice, p).as_deref(), Some(*plain));
    }
    let again = t.ok(&t.alice, &["updatekeys"]);
    assert!(again.contains("already match"), "{again}");

    // A named file works outside the rule walk too, and sops agrees with the result.
    let sops = t.sops_decrypt(&t.carol, "secrets/app.yaml");
    assert!(sops.status.success(), "{}", stderr(&sops));
}

#[test]
fn rotate_changes_every_token_and_keeps_the_plaintext() {
    let Some(t) = Team::new() else { return };
    let before: Vec<String> = paths().map(|p| t.read(p)).collect();
    let run = t.sealed(&t.bob, &["rotate"]);
    assert!(run.status.success(), "{}", stderr(&run));
    // In a pipe: the results only, no progress bar.
    assert_eq!(stderr(&run), "");
    let out = stdout(&run);
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "3 file(s) rotated",
            "rotated config/.env",
            "rotated secrets/api.json",
            "rotated secrets/app.yaml"
        ]
    );
    for (i, (p, plain)) in FILES.iter().enumerate() {
        let now = t.read(p);
        let old: BTreeSet<String> = tokens(&before[i]).into_iter().collect();
        assert!(tokens(&now).iter().all(|tok| !old.contains(tok)), "{p}");
        assert_eq!(t.decrypt(&t.alice, p).as_deref(), Some(*plain));
        assert_eq!(t.decrypt(&t.bob, p).as_deref(), Some(*plain));
        assert!(t.sops_decrypt(&t.alice, p).status.success());
    }
    // One named file.
    let one = t.ok(&t.alice, &["rotate", "secrets/app.yaml"]);
    assert!(
        one.contains("rotated secrets/app.yaml") && one.contains("1 file(s)"),
        "{one}"
    );
}

#[test]
fn an_interrupted_run_says_what_is_done_and_a_rerun_finishes() {
    let Some(t) = Team::new() else { return };
    // One file fails midway: its MAC no longer matches (a value was altered).
    let bad = "secrets/api.json";
    let good = t.read(bad);
    let tampered = good.replacen("ENC[AES256_GCM,data:", "ENC[AES256_GCM,data:AA", 1);
    t.write(bad, &tampered);
    let before: Vec<String> = paths().map(|p| t.read(p)).collect();

    let out = t.sealed(&t.alice, &["team", "remove", "bob"]);
    assert!(!out.status.success());
    assert_ne!(out.status.code(), Some(101));
    let (so, se) = (stdout(&out), stderr(&out));
    assert!(
        so.contains("rotated secrets/app.yaml") && so.contains("rotated config/.env"),
        "{so}"
    );
    assert!(se.contains(bad), "{se}");
    assert!(
        se.contains("1 of 3 files failed") && se.contains("2 files are done"),
        "{se}"
    );
    assert!(se.contains("still lists bob"), "{se}");
    // Each file is either new or untouched; .sops.yaml still lists bob.
    assert_eq!(t.read(bad), tampered);
    assert_ne!(t.read("secrets/app.yaml"), before[0]);
    assert!(t.read(".sops.yaml").contains(&t.bob.public));
    assert!(t.decrypt(&t.bob, "secrets/app.yaml").is_none());

    // Fixed, then run again: it finishes.
    t.write(bad, &good);
    let out = t.ok(&t.alice, &["team", "remove", "bob"]);
    assert!(out.contains(&format!("rotated {bad}")), "{out}");
    assert!(
        !out.contains("rotated secrets/app.yaml"),
        "done files are not redone: {out}"
    );
    assert!(!t.read(".sops.yaml").contains(&t.bob.public));
    for p in paths() {
        assert!(t.decrypt(&t.bob, p).is_none(), "{p}");
        assert!(t.decrypt(&t.alice, p).is_some(), "{p}");
    }

    // rotate too: the failing file is named, the others are listed as done.
    t.write(bad, &tampered);
    let out = t.sealed(&t.alice, &["rotate"]);
    assert!(
        !out.status.success() && out.status.code() != Some(101),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("rotated secrets/app.yaml"));
    assert!(
        stderr(&out).contains(&format!("sealed: {bad}")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn files_kept_plaintext_by_the_git_filter_are_rotated_in_the_index() {
    let Some(t) = Team::new() else { return };
    let out = t.sealed(&t.alice, &["git", "init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The work tree now holds plaintext; the index the ciphertext.
    assert_eq!(t.read("secrets/app.yaml"), FILES[0].1);
    // notes.yaml was committed in clear before the filter existed: stage it through the
    // filter as the commit guard says (whether `git add` alone re-cleans it depends on
    // git's racy-timestamp check, i.e. on timing).
    t.git(&["rm", "-q", "--cached", "secrets/notes.yaml"]);
    t.commit("filter");
    let head_before = t.git(&["show", "HEAD:secrets/app.yaml"]);

    let out = t.ok(&t.alice, &["team", "remove", "bob"]);
    assert!(out.contains("rotated secrets/app.yaml (staged)"), "{out}");
    assert_eq!(
        t.read("secrets/app.yaml"),
        FILES[0].1,
        "work tree untouched"
    );
    t.git(&["commit", "-q", "-am", "bob leaves"]);
    assert_eq!(t.git(&["status", "--porcelain"]), "");
    let head = t.git(&["show", "HEAD:secrets/app.yaml"]);
    assert_ne!(head, head_before);
    for p in paths() {
        assert!(t.decrypt_head(&t.bob, p).is_none(), "{p}");
        assert!(t.decrypt_head(&t.alice, p).is_some(), "{p}");
    }
}

#[test]
fn bad_input_is_one_clear_line() {
    let Some(t) = Team::new() else { return };
    let carol = t.carol.public.as_str();
    let cases: &[(&[&str], &str)] = &[
        (&["team", "add", "carol", "not-a-key"], "invalid recipient"),
        (&["team", "add", "9x", carol], "invalid member name"),
        (&["team", "remove", "nobody"], "nobody is not a member"),
        (
            &["team", "add", "carol", carol, "--rule", "7"],
            "no creation_rules[7]",
        ),
        (&["rotate", "README.md"], "README.md"),
        (
            &["updatekeys", "secrets/notes.yaml"],
            "secrets/notes.yaml: the file is not encrypted",
        ),
    ];
    for (args, want) in cases {
        let out = t.sealed(&t.alice, args);
        assert!(!out.status.success(), "{args:?}");
        assert_ne!(out.status.code(), Some(101), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
    // Removing the last recipient of a rule is refused before anything is written.
    let config = t.read(".sops.yaml");
    t.ok(&t.alice, &["team", "remove", "bob"]);
    let out = t.sealed(&t.alice, &["team", "remove", "alice"]);
    assert!(
        stderr(&out).contains("only age recipient"),
        "{}",
        stderr(&out)
    );
    assert_ne!(t.read(".sops.yaml"), config);
    assert!(t.read(".sops.yaml").contains(&t.alice.public));
}

#[test]
fn key_groups_need_the_groups_share_and_sops_reads_the_result() {
    let Some(t) = Team::new() else { return };
    let mut config = t.read(".sops.yaml");
    config.push_str(&format!(
        "  - path_regex: ^shamir/\n    shamir_threshold: 2\n    key_groups:\n      - age:\n          - {}\n      - age:\n          - {}\n",
        t.alice.public, t.bob.public
    ));
    t.write(".sops.yaml", &config);
    std::fs::create_dir_all(t.root.join("shamir")).unwrap();
    t.write("shamir/s.yaml", "s: fake-shared-6\n");
    t.ok(&t.alice, &["encrypt", "-i", "shamir/s.yaml"]);
    t.commit("shamir");
    let both = |a: &common::Key, b: &common::Key, name: &str| {
        let text = format!(
            "{}{}",
            std::fs::read_to_string(&a.path).unwrap(),
            std::fs::read_to_string(&b.path).unwrap()
        );
        let path = t.root.parent().unwrap().join(name);
        common::write_private(&path, text.as_bytes());
        common::Key {
            path,
            public: String::new(),
        }
    };
    let add = [
        "team",
        "add",
        "carol",
        &t.carol.public,
        "--rule",
        "2",
        "--group",
        "1",
    ];
    // Alice holds no share of group 1: refused for that file, named, nothing written.
    let before = t.read("shamir/s.yaml");
    let out = t.sealed(&t.alice, &add);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("shamir/s.yaml: cannot add to key group 1"),
        "{}",
        stderr(&out)
    );
    assert_eq!(t.read("shamir/s.yaml"), before);
    // Bob does.
    let out = t.ok(&t.bob, &add);
    assert!(out.contains("re-wrapped shamir/s.yaml"), "{out}");
    assert_eq!(tokens(&t.read("shamir/s.yaml")), tokens(&before));
    let alice_carol = both(&t.alice, &t.carol, "ac.txt");
    let sops = t.sops_decrypt(&alice_carol, "shamir/s.yaml");
    assert!(sops.status.success(), "{}", stderr(&sops));
    assert_eq!(stdout(&sops), "s: fake-shared-6\n");
    assert!(
        !t.sops_decrypt(&t.carol, "shamir/s.yaml").status.success(),
        "one share is not enough"
    );

    // Removing bob rotates it for alice | carol, still split in two groups.
    t.ok(&alice_carol, &["team", "remove", "bob"]);
    let text = t.read("shamir/s.yaml");
    assert!(
        text.contains("shamir_threshold: 2") && !text.contains(&t.bob.public),
        "{text}"
    );
    assert_eq!(
        t.decrypt(&alice_carol, "shamir/s.yaml").as_deref(),
        Some("s: fake-shared-6\n")
    );
    assert!(
        t.decrypt(&both(&t.alice, &t.bob, "ab.txt"), "shamir/s.yaml")
            .is_none()
    );
    assert!(
        t.sops_decrypt(&alice_carol, "shamir/s.yaml")
            .status
            .success()
    );
}

#[test]
fn updatekeys_asks_on_a_terminal() {
    let Some(t) = Team::new() else { return };
    let Some(script) = peer("script") else { return };
    let config = t.read(".sops.yaml").replace(
        &format!("age: {},{}\n", t.alice.public, t.bob.public),
        &format!("age: {}\n", t.alice.public),
    );
    t.write(".sops.yaml", &config);
    let before = t.read("config/.env");
    let ask = |answer: &str| {
        let mut child = t
            .cmd(&script)
            .env("SOPS_AGE_KEY_FILE", &t.alice.path)
            .args([
                "-qec",
                &format!("{} updatekeys", bin().display()),
                "/dev/null",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run script");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(answer.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stdout(&out));
        stdout(&out)
    };
    let no = ask("n\n");
    assert!(
        no.contains("Apply these changes to 1 file(s)? [y/N]"),
        "{no}"
    );
    assert!(no.contains(&format!("  - {} (bob)", t.bob.public)), "{no}");
    assert_eq!(t.read("config/.env"), before);
    let yes = ask("y\n");
    assert!(yes.contains("updated config/.env (-1)"), "{yes}");
    assert!(!t.read("config/.env").contains(&t.bob.public));
}
