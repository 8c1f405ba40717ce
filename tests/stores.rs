//! sops's INI and binary stores (issue 16): sealed writes what the real sops reads and reads
//! what sops writes, keeps an INI file's bytes, refuses a tampered file, and the stores
//! work with `exec`, `exec-env`, `--output-type` and the git filter.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::git::GitRepo;
use common::{Key, keygen_in, peer, sealed, tempdir};

/// An INI file already in go-ini's layout, so that sops's re-emitted output is the same text.
const INI: &str = "[db]\nuser     = admin\npassword = fake-pass-1\n\n[api]\ntoken = fake-token-1\n";

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn sealed_in(key: &Key, args: &[&str], dir: &Path) -> Output {
    sealed()
        .current_dir(dir)
        .env("SOPS_AGE_KEY_FILE", &key.path)
        .args(args)
        .output()
        .unwrap()
}

fn sops_in(sops: &Path, key: &Key, args: &[&str], dir: &Path) -> Output {
    Command::new(sops)
        .current_dir(dir)
        .env_clear()
        .env("PATH", common::path_var())
        .env("HOME", common::empty_home())
        .env("SOPS_AGE_KEY_FILE", &key.path)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn ini_files_interoperate_with_sops_both_ways() {
    let Some(sops) = peer("sops") else { return };
    let tmp = tempdir();
    let dir = tmp.path();
    let key = keygen_in(dir, "key.txt");
    std::fs::write(dir.join("app.ini"), INI).unwrap();
    // sealed encrypts, sops decrypts.
    let enc = ok(
        &sealed_in(&key, &["encrypt", "--age", &key.public, "app.ini"], dir),
        "sealed encrypt",
    );
    assert!(
        enc.contains("\n\n[sops]\n") && !enc.contains("fake-pass-1"),
        "{enc}"
    );
    std::fs::write(dir.join("sealed.enc.ini"), &enc).unwrap();
    let by_sops = ok(
        &sops_in(&sops, &key, &["decrypt", "sealed.enc.ini"], dir),
        "sops decrypt",
    );
    assert_eq!(by_sops, INI);
    let by_sealed = ok(
        &sealed_in(&key, &["decrypt", "sealed.enc.ini"], dir),
        "sealed decrypt",
    );
    assert_eq!(by_sealed, INI);
    // sops encrypts, sealed decrypts (and the explicit type works on any name).
    let s = ok(
        &sops_in(
            &sops,
            &key,
            &["encrypt", "--age", &key.public, "app.ini"],
            dir,
        ),
        "sops encrypt",
    );
    std::fs::write(dir.join("sops.enc"), s).unwrap();
    let got = ok(
        &sealed_in(&key, &["decrypt", "--input-type", "ini", "sops.enc"], dir),
        "sealed decrypt of sops's file",
    );
    assert_eq!(got, INI);
    // A file with comments sops wrote (comments moved above their keys, as go-ini writes
    // them): sealed decrypts it to the text sops gives.
    let commented = "; head\ntop = 1\n# c1\n[db]\n; about user\nuser = admin ; inline\nq = `b#c`\n";
    std::fs::write(dir.join("c.ini"), commented).unwrap();
    let s = ok(
        &sops_in(
            &sops,
            &key,
            &["encrypt", "--age", &key.public, "c.ini"],
            dir,
        ),
        "sops encrypt with comments",
    );
    assert!(!s.contains("about user"));
    std::fs::write(dir.join("c.enc.ini"), s).unwrap();
    let theirs = ok(
        &sops_in(&sops, &key, &["decrypt", "c.enc.ini"], dir),
        "sops decrypt",
    );
    let ours = ok(
        &sealed_in(&key, &["decrypt", "c.enc.ini"], dir),
        "sealed decrypt",
    );
    assert_eq!(ours, theirs);
    assert!(ours.contains("; about user") && ours.contains("user = admin"));
    // One value as sops extracts it.
    let v = ok(
        &sealed_in(
            &key,
            &[
                "decrypt",
                "--extract",
                "[\"db\"][\"password\"]",
                "sealed.enc.ini",
            ],
            dir,
        ),
        "extract",
    );
    assert_eq!(v, "fake-pass-1");
}

#[test]
fn ini_bytes_and_comments_are_kept_through_a_round_trip() {
    let tmp = tempdir();
    let dir = tmp.path();
    let key = keygen_in(dir, "key.txt");
    let plain = "top=1\n; about the db\n[db]\n  user = admin ; the owner\npassword: \"fake pass 2\"\nempty =\n\n[db2]\nx = `a;b`\nm = \"\"\"line1\nline2\"\"\"\n";
    std::fs::write(dir.join("a.ini"), plain).unwrap();
    ok(
        &sealed_in(&key, &["encrypt", "-i", "--age", &key.public, "a.ini"], dir),
        "encrypt -i",
    );
    let enc = std::fs::read_to_string(dir.join("a.ini")).unwrap();
    for secret in ["admin", "fake pass 2", "about the db", "the owner", "line1"] {
        assert!(!enc.contains(secret), "{secret} left in clear");
    }
    let got = ok(&sealed_in(&key, &["decrypt", "a.ini"], dir), "decrypt");
    assert_eq!(got, plain);
}

#[test]
fn a_tampered_ini_file_is_refused() {
    let tmp = tempdir();
    let dir = tmp.path();
    let key = keygen_in(dir, "key.txt");
    std::fs::write(dir.join("a.ini"), INI.replace("[api]", "[api]\nflag =")).unwrap();
    let enc = ok(
        &sealed_in(&key, &["encrypt", "--age", &key.public, "a.ini"], dir),
        "encrypt",
    );
    let cases = [
        // A key added in clear text: no MAC covers it, sealed's layout digest does.
        (
            "added",
            enc.replace("[api]\n", "[api]\nhost = attacker.example\n"),
        ),
        // A section renamed: its values' additional data no longer matches.
        ("renamed", enc.replace("[db]", "[db_old]")),
        // A header removed: its keys join the section before.
        ("merged", enc.replace("\n[api]\n", "\n")),
    ];
    for (what, text) in cases {
        assert_ne!(text, enc, "{what}: the change applies");
        std::fs::write(dir.join("t.ini"), &text).unwrap();
        let out = sealed_in(&key, &["decrypt", "t.ini"], dir);
        assert!(!out.status.success(), "{what}: decrypted");
        assert!(out.stdout.is_empty(), "{what}: printed something");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("t.ini") && err.lines().count() == 1,
            "{what}: {err}"
        );
    }
}

#[test]
fn binary_files_interoperate_with_sops_both_ways() {
    let Some(sops) = peer("sops") else { return };
    let tmp = tempdir();
    let dir = tmp.path();
    let key = keygen_in(dir, "key.txt");
    let data = "\"\"{}this_is_binary_data\nline 2\ttab\n";
    std::fs::write(dir.join("secret.bin"), data).unwrap();
    let enc = ok(
        &sealed_in(&key, &["encrypt", "--age", &key.public, "secret.bin"], dir),
        "sealed encrypt",
    );
    assert!(
        enc.starts_with("{\n\t\"data\": \"ENC[") && !enc.contains("this_is"),
        "{enc}"
    );
    std::fs::write(dir.join("sealed.bin"), &enc).unwrap();
    assert_eq!(
        ok(
            &sops_in(&sops, &key, &["decrypt", "sealed.bin"], dir),
            "sops"
        ),
        data
    );
    assert_eq!(
        ok(&sealed_in(&key, &["decrypt", "sealed.bin"], dir), "sealed"),
        data
    );
    // sops encrypts; sealed decrypts, and writes in place with -i.
    let s = ok(
        &sops_in(
            &sops,
            &key,
            &["encrypt", "--age", &key.public, "secret.bin"],
            dir,
        ),
        "sops encrypt",
    );
    std::fs::write(dir.join("sops.bin"), s).unwrap();
    ok(
        &sealed_in(&key, &["decrypt", "-i", "sops.bin"], dir),
        "decrypt -i",
    );
    assert_eq!(std::fs::read_to_string(dir.join("sops.bin")).unwrap(), data);
    // --input-type binary on a name of another syntax, read back by sops the same way.
    std::fs::write(dir.join("notes.yaml"), "not: [valid yaml").unwrap();
    let enc = ok(
        &sealed_in(
            &key,
            &[
                "encrypt",
                "--input-type",
                "binary",
                "--age",
                &key.public,
                "notes.yaml",
            ],
            dir,
        ),
        "encrypt --input-type binary",
    );
    std::fs::write(dir.join("notes.enc.yaml"), enc).unwrap();
    let back = ok(
        &sops_in(
            &sops,
            &key,
            &[
                "decrypt",
                "--input-type",
                "binary",
                "--output-type",
                "binary",
                "notes.enc.yaml",
            ],
            dir,
        ),
        "sops decrypt --input-type binary",
    );
    assert_eq!(back, "not: [valid yaml");
}

#[test]
fn a_tampered_binary_file_is_refused() {
    let tmp = tempdir();
    let dir = tmp.path();
    let key = keygen_in(dir, "key.txt");
    std::fs::write(dir.join("s.bin"), "fake-secret-3").unwrap();
    let enc = ok(
        &sealed_in(&key, &["encrypt", "--age", &key.public, "s.bin"], dir),
        "encrypt",
    );
    // The data replaced by a clear value: the MAC no longer matches.
    let start = enc.find("ENC[").unwrap();
    let end = start + enc[start..].find('"').unwrap();
    let tampered = format!("{}attacker{}", &enc[..start], &enc[end..]);
    std::fs::write(dir.join("t.bin"), tampered).unwrap();
    let out = sealed_in(&key, &["decrypt", "t.bin"], dir);
    assert!(!out.status.success() && out.stdout.is_empty());
}

#[test]
fn yaml_decrypts_to_ini_as_sops_writes_it() {
    let Some(sops) = peer("sops") else { return };
    let tmp = tempdir();
    let dir = tmp.path();
    let key = keygen_in(dir, "key.txt");
    let yaml =
        "the_section:\n  int: 123\n  long_name: x y\n  semi: a;b\n  pad: ' p '\nother:\n  k: v\n";
    std::fs::write(dir.join("y.yaml"), yaml).unwrap();
    ok(
        &sealed_in(
            &key,
            &["encrypt", "-i", "--age", &key.public, "y.yaml"],
            dir,
        ),
        "encrypt",
    );
    let args = ["decrypt", "--output-type", "ini", "y.yaml"];
    let ours = ok(&sealed_in(&key, &args, dir), "sealed");
    let theirs = ok(&sops_in(&sops, &key, &args, dir), "sops");
    assert_eq!(ours, theirs);
    // A top-level scalar has no section: refused, as sops refuses it.
    std::fs::write(dir.join("z.yaml"), "top: 1\n").unwrap();
    ok(
        &sealed_in(
            &key,
            &["encrypt", "-i", "--age", &key.public, "z.yaml"],
            dir,
        ),
        "encrypt",
    );
    let out = sealed_in(&key, &["decrypt", "--output-type", "ini", "z.yaml"], dir);
    assert!(!out.status.success() && out.stdout.is_empty());
}

#[test]
fn exec_flattens_ini_sections_and_exec_env_refuses_them_as_sops_does() {
    let tmp = tempdir();
    let dir = tmp.path();
    let key = keygen_in(dir, "key.txt");
    std::fs::write(dir.join("app.ini"), INI).unwrap();
    ok(
        &sealed_in(
            &key,
            &["encrypt", "-i", "--age", &key.public, "app.ini"],
            dir,
        ),
        "encrypt",
    );
    let out = sealed_in(
        &key,
        &[
            "exec",
            "-f",
            "app.ini",
            "--",
            "sh",
            "-c",
            "printf '%s %s' \"$DB_PASSWORD\" \"$API_TOKEN\"",
        ],
        dir,
    );
    assert_eq!(ok(&out, "exec"), "fake-pass-1 fake-token-1");
    // sops exec-env names variables by top-level key: an INI section is a complex value.
    let out = sealed_in(&key, &["exec-env", "app.ini", "true"], dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot use complex value"));
    if let Some(sops) = peer("sops") {
        let theirs = sops_in(&sops, &key, &["exec-env", "app.ini", "true"], dir);
        assert_eq!(theirs.status.code(), Some(1));
    }
}

#[test]
fn the_git_filter_keeps_an_ini_secret_encrypted_in_history() {
    let Some(r) = GitRepo::new() else { return };
    r.rules(&["\\.ini$"]);
    ok(&r.run(&["git", "init"]), "sealed git init");
    r.write("secrets/app.ini", INI);
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "ini secret"]);
    assert_eq!(
        r.read("secrets/app.ini"),
        INI,
        "the work tree keeps the plaintext"
    );
    let blob = r.git(&["show", "HEAD:secrets/app.ini"]);
    assert!(
        blob.contains("\n[sops]\n") && !blob.contains("fake-pass-1"),
        "{blob}"
    );
    // The stored blob is a file sops reads.
    if let Some(sops) = peer("sops") {
        std::fs::write(r.tmp.path().join("blob.ini"), &blob).unwrap();
        let out = sops_in(&sops, &r.key, &["decrypt", "blob.ini"], r.tmp.path());
        assert_eq!(ok(&out, "sops decrypt of the blob"), INI);
    }
    // A change re-encrypts only what changed; the guard accepts the commit.
    r.write(
        "secrets/app.ini",
        &INI.replace("fake-token-1", "fake-token-2"),
    );
    r.git(&["commit", "-q", "-am", "rotate token"]);
    let blob2 = r.git(&["show", "HEAD:secrets/app.ini"]);
    let user = |b: &str| {
        b.lines()
            .find(|l| l.starts_with("user"))
            .unwrap()
            .to_string()
    };
    assert_eq!(
        user(&blob),
        user(&blob2),
        "an unchanged value keeps its token"
    );
    let shown = ok(&r.run(&["decrypt", "secrets/app.ini"]), "decrypt");
    assert!(shown.contains("fake-token-2"));
}

#[test]
fn rotate_gives_ini_and_binary_files_new_data_keys() {
    let tmp = tempdir();
    let dir = tmp.path();
    let key = keygen_in(dir, "key.txt");
    std::fs::write(dir.join("a.ini"), INI).unwrap();
    std::fs::write(dir.join("b.bin"), "fake-secret-4\n").unwrap();
    for f in ["a.ini", "b.bin"] {
        ok(
            &sealed_in(&key, &["encrypt", "-i", "--age", &key.public, f], dir),
            "encrypt",
        );
        let before = std::fs::read_to_string(dir.join(f)).unwrap();
        ok(
            &sealed_in(&key, &["rotate", "--keep-file-recipients", f], dir),
            "rotate",
        );
        let after = std::fs::read_to_string(dir.join(f)).unwrap();
        assert_ne!(before, after, "{f}: not rotated");
        let plain = ok(&sealed_in(&key, &["decrypt", f], dir), "decrypt");
        assert_eq!(plain, if f == "a.ini" { INI } else { "fake-secret-4\n" });
    }
}

#[test]
fn edit_opens_the_file_a_binary_store_holds() {
    let tmp = tempdir();
    let dir = tmp.path();
    let key = keygen_in(dir, "key.txt");
    std::fs::write(dir.join("b.bin"), "fake-secret-5\n").unwrap();
    ok(
        &sealed_in(&key, &["encrypt", "-i", "--age", &key.public, "b.bin"], dir),
        "encrypt",
    );
    let out = sealed()
        .current_dir(dir)
        .env("SOPS_AGE_KEY_FILE", &key.path)
        .env("EDITOR", "sed -i s/secret-5/secret-6/")
        .args(["edit", "b.bin"])
        .output()
        .unwrap();
    ok(&out, "edit");
    let enc = std::fs::read_to_string(dir.join("b.bin")).unwrap();
    assert!(enc.starts_with("{\n\t\"data\": \"ENC[") && !enc.contains("secret-6"));
    assert_eq!(
        ok(&sealed_in(&key, &["decrypt", "b.bin"], dir), "decrypt"),
        "fake-secret-6\n"
    );
}

#[test]
fn sops_fixtures_decrypt_as_sops_decrypts_them() {
    let Some(shared) = common::shared() else {
        return;
    };
    let fx = shared.join("sops-fixtures/sops-pr1031-age");
    let tmp = tempdir();
    let dir = tmp.path();
    let keys = dir.join("keys.txt");
    common::write_private(&keys, &std::fs::read(fx.join("keys.txt")).unwrap());
    for f in ["example.ini", "example.txt"] {
        std::fs::copy(fx.join(f), dir.join(f)).unwrap();
        let ours = sealed()
            .current_dir(dir)
            .env("SOPS_AGE_KEY_FILE", &keys)
            .args(["decrypt", f])
            .output()
            .unwrap();
        let ours = ok(&ours, f);
        assert!(!ours.contains("ENC["), "{f}");
        if let Some(sops) = peer("sops") {
            let theirs = Command::new(sops)
                .current_dir(dir)
                .env_clear()
                .env("HOME", common::empty_home())
                .env("SOPS_AGE_KEY_FILE", &keys)
                .args(["decrypt", f])
                .output()
                .unwrap();
            assert_eq!(ours, ok(&theirs, "sops"), "{f}");
        }
    }
}

#[test]
fn exec_file_gives_a_binary_file_itself() {
    let tmp = tempdir();
    let dir = tmp.path();
    let key = keygen_in(dir, "key.txt");
    std::fs::write(dir.join("cert.bin"), "fake-cert-7\n").unwrap();
    ok(
        &sealed_in(
            &key,
            &["encrypt", "-i", "--age", &key.public, "cert.bin"],
            dir,
        ),
        "encrypt",
    );
    let out = sealed_in(&key, &["exec-file", "cert.bin", "cat {}"], dir);
    assert_eq!(ok(&out, "exec-file"), "fake-cert-7\n");
}

/// A file of another name under a path a `.sops.yaml` rule protects is sops's binary
/// store to the git filter too: ciphertext in every commit (a file sops decrypts),
/// plaintext in the work tree, no `git status` noise, and a teammate's clone gets the file
/// back byte for byte. Before, such a name passed through the filter in clear.
#[test]
fn the_git_filter_keeps_a_file_of_any_name_encrypted_in_history() {
    let Some(r) = GitRepo::new() else { return };
    const KEY: &str = "-----BEGIN FAKE KEY-----\nfake-tls-material-1\n-----END FAKE KEY-----\n";
    r.rules(&["^secrets/"]);
    ok(&r.run(&["git", "init"]), "sealed git init");
    r.write("secrets/tls.key", KEY);
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "tls key"]);
    let blob = r.git(&["show", "HEAD:secrets/tls.key"]);
    assert!(
        blob.contains("\"data\": \"ENC[AES256_GCM,") && !blob.contains("fake-tls-material"),
        "{blob}"
    );
    assert_eq!(
        r.read("secrets/tls.key"),
        KEY,
        "the work tree keeps the plaintext"
    );
    assert_eq!(r.git(&["status", "--porcelain"]), "", "no status noise");
    // Commands read the work tree's plaintext as the file itself.
    assert_eq!(ok(&r.run(&["decrypt", "secrets/tls.key"]), "decrypt"), KEY);
    // `sealed scan` knows its values: a copy elsewhere is found, never printed.
    r.write("notes.txt", "pasted: fake-tls-material-1\n");
    let scan = r.run(&["scan"]);
    assert_eq!(
        scan.status.code(),
        Some(1),
        "{}",
        common::git::stderr(&scan)
    );
    let found = String::from_utf8_lossy(&scan.stdout);
    assert!(
        found.contains("notes.txt:1") && found.contains("secrets/tls.key"),
        "{found}"
    );
    assert!(!found.contains("fake-tls-material"), "{found}");
    std::fs::remove_file(r.root.join("notes.txt")).unwrap();
    if let Some(sops) = peer("sops") {
        std::fs::write(r.tmp.path().join("blob.key"), &blob).unwrap();
        let out = sops_in(&sops, &r.key, &["decrypt", "blob.key"], r.tmp.path());
        assert_eq!(ok(&out, "sops decrypt of the blob"), KEY);
    }
    // A change is committed encrypted again; the diff shows the plaintext change.
    r.write("secrets/tls.key", &KEY.replace("-1", "-2"));
    let diff = r.git(&["diff"]);
    assert!(diff.contains("+fake-tls-material-2"), "{diff}");
    r.git(&["commit", "-q", "-am", "new key"]);
    let log = r.git(&["log", "--format=%H"]);
    for commit in log.lines() {
        let blob = r.git(&["show", &format!("{commit}:secrets/tls.key")]);
        assert!(!blob.contains("fake-tls-material"), "{commit}: {blob}");
    }
    // A teammate's clone: `sealed git init` writes the file back as it was.
    let clone = r.tmp.path().join("clone");
    let out = r
        .cmd(Path::new("git"))
        .args(["clone", "-q"])
        .arg(&r.root)
        .arg(&clone)
        .output()
        .unwrap();
    ok(&out, "git clone");
    let out = r
        .cmd_in(&common::bin(), &clone)
        .args(["git", "init"])
        .output()
        .unwrap();
    ok(&out, "sealed git init in the clone");
    assert_eq!(
        std::fs::read_to_string(clone.join("secrets/tls.key")).unwrap(),
        KEY.replace("-1", "-2")
    );
    let status = r
        .cmd_in(Path::new("git"), &clone)
        .args(["status", "--porcelain"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&status.stdout), "");
}

/// A rule whose regex has no glob marks only the names sealed encrypts value by value for
/// the filter, and the files of other names it matches when `sealed git init` runs; a file
/// of another name added later is refused in clear by the guard, whose fix, pasted, stages
/// it encrypted.
#[test]
fn the_guard_refuses_a_file_of_any_name_a_rule_protects_in_clear() {
    let Some(r) = GitRepo::new() else { return };
    r.rules(&["secrets/.+\\.key$"]);
    ok(&r.run(&["git", "init"]), "sealed git init");
    r.write("secrets/tls.key", "fake-tls-material-3\n");
    r.git(&["add", "-A"]);
    let out = r.git_output(&["commit", "-q", "-m", "tls key"]);
    assert!(!out.status.success(), "the commit went through");
    let err = common::git::stderr(&out);
    assert!(err.contains("secrets/tls.key"), "{err}");
    assert!(!err.contains("fake-tls-material"), "{err}");
    assert!(
        r.git_output(&["rev-parse", "-q", "--verify", "HEAD"])
            .stdout
            .is_empty(),
        "a commit was made"
    );
    let fix = common::git::fix_after(&err, "stage it encrypted: ");
    let out = r.paste(&fix);
    assert!(out.status.success(), "{fix}: {}", common::git::stderr(&out));
    r.git(&["add", ".gitattributes"]);
    r.git(&["commit", "-q", "-m", "tls key"]);
    let blob = r.git(&["show", "HEAD:secrets/tls.key"]);
    assert!(
        blob.contains("\"data\": \"ENC[AES256_GCM,") && !blob.contains("fake-tls-material"),
        "{blob}"
    );
    assert_eq!(r.read("secrets/tls.key"), "fake-tls-material-3\n");
}

/// A YAML timestamp converted to JSON or INI is written as sops writes it (RFC 3339, as
/// Go formats the time yaml.v3 reads); `exec` and `--extract` keep the text as written.
#[test]
fn yaml_timestamps_convert_as_sops_writes_them() {
    let tmp = tempdir();
    let dir = tmp.path();
    let key = keygen_in(dir, "key.txt");
    let yaml = "s:\n  date: 2025-01-02\n  timestamp: 2025-01-02 03:04:05\n  utc: 2025-01-02T03:04:05Z\n  quoted: \"2025-01-02\"\n";
    std::fs::write(dir.join("t.yaml"), yaml).unwrap();
    ok(
        &sealed_in(
            &key,
            &["encrypt", "-i", "--age", &key.public, "t.yaml"],
            dir,
        ),
        "encrypt",
    );
    let ini = ok(
        &sealed_in(&key, &["decrypt", "--output-type", "ini", "t.yaml"], dir),
        "decrypt to ini",
    );
    assert_eq!(
        ini,
        "[s]\ndate      = 2025-01-02T00:00:00Z\ntimestamp = 2025-01-02T03:04:05Z\nutc       = 2025-01-02T03:04:05Z\nquoted    = 2025-01-02\n"
    );
    let json = ok(
        &sealed_in(&key, &["decrypt", "--output-type", "json", "t.yaml"], dir),
        "decrypt to json",
    );
    assert!(
        json.contains("\"date\": \"2025-01-02T00:00:00Z\""),
        "{json}"
    );
    assert!(json.contains("\"quoted\": \"2025-01-02\""), "{json}");
    if let Some(sops) = peer("sops") {
        for t in ["ini", "json"] {
            let out = sops_in(&sops, &key, &["decrypt", "--output-type", t, "t.yaml"], dir);
            let theirs = ok(&out, "sops decrypt");
            assert_eq!(&theirs, if t == "ini" { &ini } else { &json }, "{t}");
        }
    }
    let extract = ok(
        &sealed_in(
            &key,
            &["decrypt", "--extract", "[\"s\"][\"date\"]", "t.yaml"],
            dir,
        ),
        "extract",
    );
    assert_eq!(extract, "2025-01-02");
}
