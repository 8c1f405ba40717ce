//! `sealed git init` covers files added later, refuses an empty setup, names a moved
//! binary, locks and unlocks; every fix a git command prints works when pasted (issue 14).

mod common;

use common::git::{GitRepo as Repo, fix_after, stderr};

const SECRET: &str = "db:\n  password: fake-pass-1234\n";

fn init(r: &Repo) {
    let out = r.run(&["git", "init"]);
    assert!(out.status.success(), "sealed git init: {}", stderr(&out));
}

fn is_ciphertext(blob: &str) -> bool {
    blob.contains("sops:") && blob.contains("ENC[AES256_GCM") && !blob.contains("fake-pass")
}

// Reproduction: a secret file added after `sealed git init` was staged in clear.
#[test]
fn a_secret_file_added_after_setup_is_staged_as_ciphertext() {
    let Some(r) = Repo::new() else { return };
    r.rules(&[r"secrets/.*\.(yaml|env)$"]);
    r.write("secrets/app.yaml", SECRET);
    r.write("config.yaml", "port: 80 # not secret\n");
    init(&r);
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "init"]);
    r.write("secrets/new.yaml", SECRET);
    r.write("secrets/deep/er/new.env", "TOKEN=fake-pass-5678\n");
    r.write("notes.yaml", "a: fake-pass-public\n");
    r.git(&["add", "-A"]);
    assert!(is_ciphertext(&r.git(&["show", ":secrets/new.yaml"])));
    assert!(
        r.git(&["show", ":secrets/deep/er/new.env"])
            .contains("ENC[AES256_GCM")
    );
    // Files no rule matches are stored as they are.
    assert_eq!(r.git(&["show", ":notes.yaml"]), "a: fake-pass-public\n");
    assert_eq!(r.git(&["show", ":config.yaml"]), "port: 80 # not secret\n");
    r.git(&["commit", "-q", "-m", "more"]);
    assert_eq!(r.git(&["status", "--porcelain"]), "");
    assert_eq!(r.read("secrets/new.yaml"), SECRET);
}

// A regex without a glob: every YAML/JSON/.env file gets the attribute and the filter
// decides per path, passing the others through byte for byte (no `git status` noise).
#[test]
fn a_rule_without_a_glob_is_decided_per_file_by_the_filter() {
    let Some(r) = Repo::new() else { return };
    r.rules(&[r"^sec\d+/.+\.yaml$"]);
    r.write("sec1/app.yaml", SECRET);
    // Odd bytes that any re-encoding would change.
    let other = "a:   1 # spaced\r\nb: \"x\"\n\n";
    r.write("other.yaml", other);
    r.write("data.json", "{ \"k\" : 1 }");
    init(&r);
    assert!(r.read(".gitattributes").contains("filter=sealed-rules"));
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "init"]);
    r.write("sec22/new.yaml", SECRET);
    r.git(&["add", "-A"]);
    assert!(is_ciphertext(&r.git(&["show", ":sec22/new.yaml"])));
    assert!(is_ciphertext(&r.git(&["show", "HEAD:sec1/app.yaml"])));
    assert_eq!(r.git(&["show", "HEAD:other.yaml"]), other);
    assert_eq!(r.git(&["show", "HEAD:data.json"]), "{ \"k\" : 1 }");
    r.git(&["commit", "-q", "-m", "new"]);
    // A fresh checkout of the non-secret files is byte-identical and status is clean.
    std::fs::remove_file(r.root.join("other.yaml")).unwrap();
    r.git(&["checkout", "--", "other.yaml"]);
    assert_eq!(r.read("other.yaml"), other);
    assert_eq!(r.git(&["status", "--porcelain"]), "");
}

/// Paths to compare a regex with its globs on.
const PATHS: &[&str] = &[
    "secrets/a.yaml",
    "secrets/b/c.yaml",
    "x/secrets/a.yaml",
    "mysecrets/a.yaml",
    "secrets.yaml",
    "a.yaml",
    "a.env",
    ".env",
    "x/.env",
    "secrets/a.json",
    "prod/a.json",
    "dev/x/a.json",
    "prod.json",
    "a.enc.yaml",
    "x/y/a.enc.yaml",
    "secretsXa.yaml",
    "config/prod.yaml",
    "x/config/prod.yaml",
];

// The globs match exactly what the rules match (git's own attribute matching).
#[test]
fn rule_globs_match_what_the_regexes_match() {
    let regexes = [
        r"secrets/.*\.(yaml|env)$",
        r"^secrets/",
        r"\.env$",
        r"(prod|dev)/[^/]*\.json$",
        r"\.enc\.ya?ml$",
        r"^config/prod\.yaml$",
        r"secrets",
    ];
    for re in regexes {
        let Some(r) = Repo::new() else { return };
        r.rules(&[re]);
        init(&r);
        assert!(
            !r.read(".gitattributes").contains("*.[yY]"),
            "{re}: translated"
        );
        let compiled = regex::Regex::new(re).unwrap();
        let out = r.git(
            &[&["check-attr", "filter", "--"][..], PATHS]
                .concat()
                .iter()
                .map(|s| &**s)
                .collect::<Vec<_>>(),
        );
        for (line, path) in out.lines().zip(PATHS) {
            let has = line.ends_with(": sealed-rules");
            assert_eq!(has, compiled.is_match(path), "{re} on {path}: {line}");
        }
    }
}

// Reproduction: `sealed git init` with nothing to protect said `protecting 0 pattern(s)`
// and exited 0.
#[test]
fn init_with_nothing_to_protect_fails_and_its_fix_works() {
    let Some(r) = Repo::new() else { return };
    r.write("secrets/app.yaml", SECRET);
    let out = r.run(&["git", "init"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("`sealed init`"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!r.root.join(".gitattributes").exists(), "nothing written");
    // A rule without path_regex protects nothing either.
    r.write(
        ".sops.yaml",
        &format!("creation_rules:\n  - age: {}\n", r.key.public),
    );
    assert!(!r.run(&["git", "init"]).status.success());
    let fix = fix_after(&err, "name the files to protect: ");
    assert_eq!(fix, "sealed git init 'secrets/*.yaml'");
    let out = r.paste(&fix);
    assert!(out.status.success(), "{fix}: {}", stderr(&out));
    r.git(&["add", "-A"]);
    assert!(is_ciphertext(&r.git(&["show", ":secrets/app.yaml"])));
}

// Reproduction: the guard's advice for a protected file staged in clear failed ("staged
// content different from both the file and the HEAD"). Here a rule is added to
// `.sops.yaml` after the file was staged.
#[test]
fn the_guards_advice_for_a_file_staged_in_clear_works_when_pasted() {
    let Some(r) = Repo::new() else { return };
    r.rules(&[r"^secrets/"]);
    r.write("secrets/app.yaml", SECRET);
    init(&r);
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "init"]);
    r.write("config/prod yaml.yaml", SECRET);
    r.git(&["add", "-A"]);
    r.rules(&[r"^secrets/", r"^config/prod"]);
    r.git(&["add", ".sops.yaml"]);
    let out = r.git_output(&["commit", "-q", "-m", "prod"]);
    assert!(!out.status.success(), "the guard refuses");
    let err = stderr(&out);
    let fix = fix_after(&err, "stage it encrypted: ");
    assert_eq!(
        fix,
        "sealed git init && git add --renormalize -- 'config/prod yaml.yaml'"
    );
    // `sealed git status` lists it and exits non-zero, with the same fix; --json too.
    let status = r.run(&["git", "status"]);
    assert!(!status.status.success());
    assert!(String::from_utf8_lossy(&status.stdout).contains(&fix));
    let json = r.run(&["git", "status", "--json"]);
    assert!(!json.status.success());
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["refused"], 1);
    let refused: Vec<_> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["state"] == "refused")
        .collect();
    assert_eq!(refused[0]["path"], "config/prod yaml.yaml");
    // The fix works.
    let out = r.paste(&fix);
    assert!(out.status.success(), "{fix}: {}", stderr(&out));
    r.git(&["commit", "-q", "-m", "prod"]);
    assert!(is_ciphertext(
        &r.git(&["show", "HEAD:config/prod yaml.yaml"])
    ));
    let status = r.run(&["git", "status", "--json"]);
    assert!(status.status.success(), "{}", stderr(&status));
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v["refused"], 0);
    assert_eq!(v["files"].as_array().unwrap().len(), 2);
}

#[test]
fn lock_and_unlock_round_trip_and_lock_keeps_unstaged_changes() {
    let Some(r) = Repo::new() else { return };
    r.rules(&[r"secrets/.*\.yaml$"]);
    r.write("secrets/app.yaml", SECRET);
    init(&r);
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "init"]);
    // An unstaged change: lock refuses, touches nothing, and its fix works.
    r.write("secrets/app.yaml", "db:\n  password: fake-pass-changed\n");
    let out = r.run(&["git", "lock"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(r.read("secrets/app.yaml").contains("fake-pass-changed"));
    let fix = fix_after(&err, "stage them (");
    assert_eq!(fix, "git add -- secrets/app.yaml");
    assert!(r.paste(&fix).status.success());
    let out = r.run(&["git", "lock"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        r.read("secrets/app.yaml"),
        r.git(&["show", ":secrets/app.yaml"])
    );
    assert!(!r.git(&["config", "--list"]).contains("sealed"));
    assert_eq!(r.git(&["status", "--porcelain"]), "M  secrets/app.yaml\n");
    r.git(&["commit", "-q", "-m", "changed"]);
    // Locked: a new checkout of the file is its ciphertext.
    std::fs::remove_file(r.root.join("secrets/app.yaml")).unwrap();
    r.git(&["checkout", "--", "secrets/app.yaml"]);
    assert!(is_ciphertext(&r.read("secrets/app.yaml")));
    let out = r.run(&["git", "unlock"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        r.read("secrets/app.yaml"),
        "db:\n  password: fake-pass-changed\n"
    );
    assert_eq!(r.git(&["status", "--porcelain"]), "");
}

// Reproduction: a sealed binary moved after `sealed git init` made every git command
// fail with `…/sealed: not found`.
#[test]
fn a_moved_binary_gives_one_clear_error_and_its_fix_works() {
    let Some(r) = Repo::new() else { return };
    r.rules(&[r"secrets/.*\.yaml$"]);
    r.write("secrets/app.yaml", SECRET);
    let copy_dir = r.tmp.path().join("bin-copy");
    std::fs::create_dir_all(&copy_dir).unwrap();
    let copy = copy_dir.join("sealed");
    std::fs::copy(common::bin(), &copy).unwrap();
    let out = r
        .cmd_in(&copy, &r.root)
        .args(["git", "init"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "init"]);
    std::fs::remove_file(&copy).unwrap();
    r.write("secrets/new.yaml", SECRET);
    // PATH without any sealed: one line naming the fix.
    let git_dir = common::peer("git").unwrap();
    let path = format!("{}:/usr/bin:/bin", git_dir.parent().unwrap().display());
    let out = r
        .cmd_in(std::path::Path::new("git"), &r.root)
        .env("PATH", &path)
        .args(["add", "secrets/new.yaml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(!err.contains("not found"), "{err}");
    assert_eq!(err.matches("is gone").count(), 1, "{err}");
    assert!(
        err.contains("run `sealed git init` in this repository"),
        "{err}"
    );
    assert!(
        !r.git(&["diff", "--cached", "--name-only"])
            .contains("new.yaml")
    );
    // With a sealed on PATH, git uses it.
    let out = r.paste("git add secrets/new.yaml");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(is_ciphertext(&r.git(&["show", ":secrets/new.yaml"])));
    // The fix: `sealed git init` with the installed binary.
    let out = r.paste("sealed git init");
    assert!(out.status.success(), "{}", stderr(&out));
    let wrapper = r.read(".git/sealed/run");
    assert!(
        wrapper.contains(&*common::bin().to_string_lossy()),
        "{wrapper}"
    );
    r.write("secrets/third.yaml", SECRET);
    let out = r
        .cmd_in(std::path::Path::new("git"), &r.root)
        .env("PATH", &path)
        .args(["add", "secrets/third.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}
