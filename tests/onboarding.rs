//! The first steps of a new user and of a new teammate (issue 14): `sealed init` in a
//! fresh HOME, `keygen --append`, and the messages met most often, each naming its cause
//! and, where it suggests a command, that command working when pasted.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{bin, path_var, peer, tempdir};

const SECRET: &str = "s3cr3t-Value-4217";

/// A person: their own HOME (no key unless one is made), sealed and git run with nothing
/// else from the environment, and never a terminal on stdin.
struct Person {
    home: PathBuf,
}

impl Person {
    fn new(root: &Path, name: &str) -> Person {
        let home = root.join(format!("home-{name}"));
        std::fs::create_dir_all(&home).unwrap();
        Person { home }
    }

    fn env(&self, c: &mut Command) {
        c.env_clear()
            .env("PATH", path_var())
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .stdin(Stdio::null());
    }

    fn sealed(&self, dir: &Path) -> Command {
        let mut c = Command::new(bin());
        self.env(&mut c);
        c.current_dir(dir);
        c
    }

    fn git(&self, dir: &Path, args: &[&str]) -> String {
        let git = peer("git").expect("git");
        let mut c = Command::new(git);
        self.env(&mut c);
        let out = c.current_dir(dir).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn keys_file(&self) -> PathBuf {
        self.home.join(".config/sops/age/keys.txt")
    }
}

fn run(mut c: Command, args: &[&str]) -> Output {
    c.args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "failed: {}", stderr(&o));
    o
}

/// The `age1…` key after "Public key: " on stderr.
fn public_key(text: &str) -> String {
    let at = text.find("Public key: ").expect("a public key line") + "Public key: ".len();
    text[at..].split_whitespace().next().unwrap().to_string()
}

fn git_repo(p: &Person, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    p.git(dir, &["init", "-q", "-b", "main"]);
    p.git(dir, &["config", "user.name", "Ada Lovelace"]);
}

/// A snapshot of the files init may write.
fn snapshot(p: &Person, repo: &Path) -> Vec<Option<Vec<u8>>> {
    [
        p.keys_file(),
        repo.join(".sops.yaml"),
        repo.join(".gitattributes"),
        repo.join(".git/config"),
        repo.join(".git/hooks/pre-commit"),
        repo.join(".git/info/attributes"),
    ]
    .iter()
    .map(|f| std::fs::read(f).ok())
    .collect()
}

#[test]
fn init_in_a_fresh_home_sets_everything_up_and_a_second_run_changes_nothing() {
    if peer("git").is_none() {
        return;
    }
    let tmp = tempdir();
    let ada = Person::new(tmp.path(), "ada");
    let repo = tmp.path().join("repo");
    git_repo(&ada, &repo);
    std::fs::create_dir_all(repo.join("src/deep")).unwrap();

    // From a subdirectory: the .sops.yaml goes to the top level.
    let out = ok(run(ada.sealed(&repo.join("src/deep")), &["init"]));
    let err = stderr(&out);
    let public = public_key(&err);
    let keys = ada.keys_file();
    let mode = std::fs::metadata(&keys).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let key_text = std::fs::read_to_string(&keys).unwrap();
    assert!(key_text.contains(&format!("# public key: {public}")));
    assert!(err.contains("~/.config/sops/age/keys.txt"), "{err}");
    assert!(err.contains("next:"), "{err}");
    assert!(!repo.join("src/deep/.sops.yaml").exists());

    let config = std::fs::read_to_string(repo.join(".sops.yaml")).unwrap();
    assert!(
        config.contains(&format!("- {public} # ada-lovelace")),
        "{config}"
    );
    assert!(config.contains(&format!("sealed_members:\n  ada-lovelace: {public}")));
    // `sealed team` reads the member entry.
    let list = ok(run(ada.sealed(&repo), &["team", "list"]));
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(
        list.contains("ada-lovelace") && list.contains(&public),
        "{list}"
    );
    // Everything `sealed git init` does.
    let filter = ada.git(&repo, &["config", "--get", "filter.sealed.process"]);
    assert!(filter.contains("git filter-process"), "{filter}");
    assert!(repo.join(".git/hooks/pre-commit").exists());

    // The rule works for sealed and for sops, at the paths it promises.
    for (path, want) in [
        ("secrets/app.yaml", true),
        (".env", true),
        ("config/.env.production", true),
        ("notes.yaml", false),
    ] {
        let plain = tmp.path().join("plain.yaml");
        std::fs::write(&plain, format!("token: {SECRET}\n")).unwrap();
        let o = run(
            ada.sealed(&repo),
            &[
                "encrypt",
                "--input-type",
                "yaml",
                "--filename-override",
                path,
                plain.to_str().unwrap(),
            ],
        );
        assert_eq!(o.status.success(), want, "{path}: {}", stderr(&o));
    }
    if let Some(sops) = peer("sops") {
        std::fs::create_dir_all(repo.join("secrets")).unwrap();
        std::fs::write(repo.join("secrets/x.yaml"), format!("token: {SECRET}\n")).unwrap();
        let mut c = Command::new(sops);
        ada.env(&mut c);
        let o = ok(c
            .current_dir(&repo)
            .args(["encrypt", "secrets/x.yaml"])
            .output()
            .unwrap());
        let enc = String::from_utf8(o.stdout).unwrap();
        assert!(enc.contains(&public), "sops used the rule's recipient");
        std::fs::remove_file(repo.join("secrets/x.yaml")).unwrap();
        std::fs::remove_dir(repo.join("secrets")).unwrap();
    }

    // Again: nothing changes, and it says so.
    let before = snapshot(&ada, &repo);
    let out = ok(run(ada.sealed(&repo), &["init"]));
    let err = stderr(&out);
    assert!(err.contains("nothing to do"), "{err}");
    assert!(err.contains(&public), "{err}");
    assert_eq!(snapshot(&ada, &repo), before);
}

#[test]
fn init_honours_xdg_config_home_and_an_existing_identity() {
    let tmp = tempdir();
    let p = Person::new(tmp.path(), "x");
    let dir = tmp.path().join("plain-dir");
    std::fs::create_dir_all(&dir).unwrap();
    let xdg = tmp.path().join("xdg");
    let mut c = p.sealed(&dir);
    c.env("XDG_CONFIG_HOME", &xdg).env("USER", "grace");
    let out = ok(run(c, &["init"]));
    let public = public_key(&stderr(&out));
    assert!(xdg.join("sops/age/keys.txt").exists());
    assert!(!p.keys_file().exists());
    let config = std::fs::read_to_string(dir.join(".sops.yaml")).unwrap();
    assert!(config.contains(&format!("  grace: {public}")), "{config}");
    // Not a git repository: nothing of git.
    assert!(!dir.join(".gitattributes").exists());

    // An identity found where sops looks is used, and no key is made.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let key = common::keygen_in(tmp.path(), "mine.txt");
    let mut c = p.sealed(&other);
    c.env("SOPS_AGE_KEY_FILE", &key.path).env("USER", "grace");
    let out = ok(run(c, &["init"]));
    assert!(!stderr(&out).contains("Public key:"));
    let config = std::fs::read_to_string(other.join(".sops.yaml")).unwrap();
    assert!(config.contains(&key.public), "{config}");
    assert!(!p.keys_file().exists());

    // The sops-style path then works in the plain directory.
    std::fs::create_dir_all(dir.join("secrets")).unwrap();
    std::fs::write(dir.join("secrets/app.yaml"), format!("token: {SECRET}\n")).unwrap();
    let mut c = p.sealed(&dir);
    c.env("XDG_CONFIG_HOME", &xdg);
    ok(run(c, &["encrypt", "-i", "secrets/app.yaml"]));
    let mut c = p.sealed(&dir);
    c.env("XDG_CONFIG_HOME", &xdg);
    let out = ok(run(c, &["decrypt", "secrets/app.yaml"]));
    assert_eq!(out.stdout, format!("token: {SECRET}\n").as_bytes());
}

/// The teammate's path: clone, `sealed init` (a key, the config left alone, advice), a
/// member pastes the advice, and the teammate reads the committed secret.
#[test]
fn init_in_a_clone_leaves_the_config_and_its_advice_lets_the_newcomer_in() {
    if peer("git").is_none() {
        return;
    }
    let tmp = tempdir();
    let ada = Person::new(tmp.path(), "ada");
    let bob = Person::new(tmp.path(), "bob");
    let origin = tmp.path().join("origin");
    git_repo(&ada, &origin);
    ok(run(ada.sealed(&origin), &["init"]));
    std::fs::create_dir_all(origin.join("secrets")).unwrap();
    std::fs::write(
        origin.join("secrets/app.yaml"),
        format!("token: {SECRET}\n"),
    )
    .unwrap();
    ok(run(
        ada.sealed(&origin),
        &["encrypt", "-i", "secrets/app.yaml"],
    ));
    ada.git(&origin, &["add", "-A"]);
    ada.git(&origin, &["commit", "-qm", "secrets"]);
    let config = std::fs::read(origin.join(".sops.yaml")).unwrap();

    // Bob clones and runs init: his key is made, the config is left alone, and he is told
    // what to ask for.
    let clone = tmp.path().join("clone");
    bob.git(
        tmp.path(),
        &["clone", "-q", origin.to_str().unwrap(), "clone"],
    );
    let mut c = bob.sealed(&clone);
    c.env("USER", "bob");
    let out = ok(run(c, &["init", "extra/"]));
    let err = stderr(&out);
    assert_eq!(std::fs::read(clone.join(".sops.yaml")).unwrap(), config);
    assert!(err.contains("left as it is"), "{err}");
    assert!(err.contains("patterns given are not used"), "{err}");
    let bob_key = public_key(&err);
    let advice = err
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("sealed team add "))
        .expect("advice to run `sealed team add`")
        .to_string();
    assert!(
        advice.contains(&bob_key) && advice.contains(" bob "),
        "{advice}"
    );

    // The committed file does not open for Bob yet; the message names it and the way in.
    let blob = bob.git(&clone, &["show", "HEAD:secrets/app.yaml"]);
    std::fs::write(tmp.path().join("blob.yaml"), &blob).unwrap();
    let out = run(bob.sealed(tmp.path()), &["decrypt", "blob.yaml"]);
    assert_eq!(out.status.code(), Some(128));
    let err = stderr(&out);
    assert!(
        err.contains("blob.yaml: no identity opens this file"),
        "{err}"
    );
    assert!(err.contains("sealed team add"), "{err}");
    assert!(!err.contains(SECRET));

    // Ada pastes the advice and commits; Bob pulls and can read it.
    let mut sh = Command::new("sh");
    ada.env(&mut sh);
    let sh = sh
        .arg("-c")
        .arg(format!(
            "'{}' {}",
            bin().display(),
            advice.trim_start_matches("sealed ")
        ))
        .current_dir(&origin)
        .output()
        .unwrap();
    assert!(sh.status.success(), "{}", stderr(&sh));
    ada.git(&origin, &["commit", "-qam", "add bob"]);
    bob.git(&clone, &["pull", "-q"]);
    let blob = bob.git(&clone, &["show", "HEAD:secrets/app.yaml"]);
    std::fs::write(tmp.path().join("blob.yaml"), &blob).unwrap();
    let out = ok(run(bob.sealed(tmp.path()), &["decrypt", "blob.yaml"]));
    assert_eq!(out.stdout, format!("token: {SECRET}\n").as_bytes());
}

#[test]
fn keygen_never_destroys_a_key_and_appends_on_request() {
    let tmp = tempdir();
    let p = Person::new(tmp.path(), "k");
    let keys = p.keys_file();
    let first = public_key(&stderr(&ok(run(
        p.sealed(tmp.path()),
        &["keygen", "-o", keys.to_str().unwrap()],
    ))));
    let old = std::fs::read(&keys).unwrap();

    let out = run(
        p.sealed(tmp.path()),
        &["keygen", "-o", keys.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("already exists") && err.contains("--append"),
        "{err}"
    );
    assert_eq!(std::fs::read(&keys).unwrap(), old);

    // The command the message names works.
    let fix = err[err.find("sealed keygen").unwrap()..].trim().to_string();
    let sh = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' {}",
            bin().display(),
            fix.trim_start_matches("sealed ")
        ))
        .env_clear()
        .env("PATH", path_var())
        .env("HOME", &p.home)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(sh.status.success(), "{}", stderr(&sh));
    let err = stderr(&sh);
    assert!(
        err.contains("appended a new identity") && err.contains("now holds 2"),
        "{err}"
    );
    let second = public_key(&err);
    let text = std::fs::read(&keys).unwrap();
    assert!(text.starts_with(&old));
    let mode = std::fs::metadata(&keys).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // Both identities open what is encrypted for them.
    for public in [&first, &second] {
        let plain = tmp.path().join("p.yaml");
        std::fs::write(&plain, format!("a: {SECRET}\n")).unwrap();
        let enc = ok(run(
            p.sealed(tmp.path()),
            &["encrypt", "--age", public, plain.to_str().unwrap()],
        ));
        std::fs::write(tmp.path().join("e.yaml"), &enc.stdout).unwrap();
        let dec = ok(run(p.sealed(tmp.path()), &["decrypt", "e.yaml"]));
        assert_eq!(dec.stdout, format!("a: {SECRET}\n").as_bytes());
    }
    // init with several keys uses the first.
    let out = ok(run(p.sealed(tmp.path()), &["init"]));
    let config = std::fs::read_to_string(tmp.path().join(".sops.yaml")).unwrap();
    assert!(
        config.contains(&first) && !config.contains(&second),
        "{}",
        stderr(&out)
    );
}

#[test]
fn recipients_from_the_environment_overriding_a_rule_are_said_once() {
    let tmp = tempdir();
    let p = Person::new(tmp.path(), "e");
    let dir = tmp.path().join("d");
    std::fs::create_dir_all(dir.join("secrets")).unwrap();
    let mut c = p.sealed(&dir);
    c.env("USER", "eve");
    ok(run(c, &["init"]));
    let other = common::keygen_in(tmp.path(), "other.txt");
    for f in ["a", "b"] {
        std::fs::write(dir.join(format!("secrets/{f}.yaml")), "x: 1\n").unwrap();
    }
    let mut c = p.sealed(&dir);
    c.env("SOPS_AGE_RECIPIENTS", &other.public);
    let out = ok(run(c, &["encrypt", "secrets/a.yaml"]));
    let err = stderr(&out);
    assert_eq!(
        err.matches("SOPS_AGE_RECIPIENTS overrides").count(),
        1,
        "{err}"
    );
    assert!(err.contains(".sops.yaml"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&other.public));
    // No rule matches: nothing to override, nothing said.
    std::fs::write(dir.join("free.yaml"), "x: 1\n").unwrap();
    let mut c = p.sealed(&dir);
    c.env("SOPS_AGE_RECIPIENTS", &other.public);
    let out = ok(run(c, &["encrypt", "free.yaml"]));
    assert_eq!(stderr(&out), "");
}

#[test]
fn no_rule_matches_names_the_file_and_the_patterns() {
    let tmp = tempdir();
    let p = Person::new(tmp.path(), "n");
    let dir = tmp.path().join("d");
    std::fs::create_dir_all(&dir).unwrap();
    let mut c = p.sealed(&dir);
    c.env("USER", "nia");
    ok(run(c, &["init", "/config/*.yaml"]));
    std::fs::write(dir.join("app.yaml"), format!("a: {SECRET}\n")).unwrap();
    let out = run(p.sealed(&dir), &["encrypt", "app.yaml"]);
    assert_eq!(out.status.code(), Some(111));
    let err = stderr(&out);
    assert!(err.contains("no creation rule matches app.yaml"), "{err}");
    assert!(err.contains(r"'^config/[^/]*\.yaml$'"), "{err}");
    assert!(!err.contains(SECRET));
    // Moved where the rule matches, it is encrypted.
    std::fs::create_dir_all(dir.join("config")).unwrap();
    std::fs::rename(dir.join("app.yaml"), dir.join("config/app.yaml")).unwrap();
    ok(run(p.sealed(&dir), &["encrypt", "-i", "config/app.yaml"]));
}

#[test]
fn a_key_indented_under_a_value_is_named() {
    let tmp = tempdir();
    let p = Person::new(tmp.path(), "i");
    let key = common::keygen_in(tmp.path(), "k.txt");
    std::fs::write(
        tmp.path().join("bad.yaml"),
        format!("db:\n  user: admin\n    password: {SECRET}\n"),
    )
    .unwrap();
    let out = run(
        p.sealed(tmp.path()),
        &["encrypt", "--age", &key.public, "bad.yaml"],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.starts_with("sealed: bad.yaml:3:"), "{err}");
    assert!(err.contains("a key is indented under a value"), "{err}");
    assert!(!err.contains(SECRET));
}

/// A real merge conflict in an encrypted file (the sops-style path: ciphertext in the work
/// tree, no merge driver): decrypting names the markers and their line.
#[test]
fn conflict_markers_left_by_a_merge_are_named() {
    if peer("git").is_none() {
        return;
    }
    let tmp = tempdir();
    let p = Person::new(tmp.path(), "m");
    let repo = tmp.path().join("r");
    git_repo(&p, &repo);
    let key = common::keygen_in(tmp.path(), "k.txt");
    let sealed = |args: &[&str]| {
        let mut c = p.sealed(&repo);
        c.env("SOPS_AGE_KEY_FILE", &key.path);
        ok(run(c, args))
    };
    for (name, plain) in [
        ("s.yaml", "user: a\npassword: one\n"),
        ("s.env", "USER=a\nPASSWORD=one\n"),
        ("s.json", "{\"user\": \"a\", \"password\": \"one\"}\n"),
    ] {
        std::fs::write(repo.join(name), plain).unwrap();
        sealed(&["encrypt", "-i", "--age", &key.public, name]);
    }
    p.git(&repo, &["add", "."]);
    p.git(&repo, &["commit", "-qm", "base"]);
    p.git(&repo, &["checkout", "-qb", "other"]);
    for name in ["s.yaml", "s.env", "s.json"] {
        sealed(&[
            "set",
            name,
            if name == "s.env" {
                r#"["PASSWORD"]"#
            } else {
                r#"["password"]"#
            },
            "\"two\"",
        ]);
    }
    p.git(&repo, &["commit", "-qam", "two"]);
    p.git(&repo, &["checkout", "-q", "main"]);
    for name in ["s.yaml", "s.env", "s.json"] {
        sealed(&[
            "set",
            name,
            if name == "s.env" {
                r#"["PASSWORD"]"#
            } else {
                r#"["password"]"#
            },
            "\"three\"",
        ]);
    }
    p.git(&repo, &["commit", "-qam", "three"]);
    let git = peer("git").unwrap();
    let mut c = Command::new(git);
    p.env(&mut c);
    let merge = c
        .current_dir(&repo)
        .args(["merge", "other"])
        .output()
        .unwrap();
    assert!(!merge.status.success(), "the merge conflicts");
    for name in ["s.yaml", "s.env", "s.json"] {
        let text = std::fs::read_to_string(repo.join(name)).unwrap();
        let line = text
            .lines()
            .position(|l| l.starts_with("<<<<<<<"))
            .expect("markers")
            + 1;
        let mut c = p.sealed(&repo);
        c.env("SOPS_AGE_KEY_FILE", &key.path);
        let out = run(c, &["decrypt", name]);
        assert!(!out.status.success(), "{name}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "{name}:{line}:1: unresolved conflict markers at line {line}"
            )),
            "{name}: {err}"
        );
        assert_eq!(err.lines().count(), 1);
    }
}
