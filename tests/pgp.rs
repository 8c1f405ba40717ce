//! PGP keys through GnuPG (issue 17): each test has its own `GNUPGHOME` with keys made by
//! `gpg --quick-gen-key`, and checks sealed against the real `gpg` and the real `sops`:
//! files keyed to PGP both ways, mixed pgp+age groups, Shamir with a pgp group, rotate and
//! updatekeys with PGP members, the git filter with a PGP key, the error without gpg, and
//! key services sealed does not reach (kept byte for byte, named in the error).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::git::GitRepo;
use common::{bin, empty_home, keygen_in, path_var, peer, tempdir};

/// Spelled as sops writes YAML, so that sops's decryption gives it back byte for byte.
const PLAIN: &str = "db:\n    user: admin\n    password: fake-pass-1\nport: 5432\n";

/// A private GnuPG home with generated keys; its agent is stopped when dropped.
struct Gpg {
    _tmp: tempfile::TempDir,
    home: PathBuf,
}

impl Gpg {
    /// A fresh keyring; `None` (skipped, or failing under `SEALED_REQUIRE_PEERS=1`)
    /// without `gpg`.
    fn new() -> Option<Gpg> {
        peer("gpg")?;
        let tmp = tempdir();
        let home = tmp.path().join("g");
        std::fs::create_dir(&home).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
        Some(Gpg { _tmp: tmp, home })
    }

    fn gpg(&self) -> Command {
        let mut c = Command::new("gpg");
        c.env("GNUPGHOME", &self.home).stdin(Stdio::null());
        c
    }

    /// Generates a key without passphrase (sign + encrypt subkey); its fingerprint.
    fn key(&self, name: &str) -> String {
        let out = self
            .gpg()
            .args(["--batch", "--passphrase", "", "--quick-gen-key"])
            .arg(format!("{name} <{name}@example.invalid>"))
            .args(["future-default", "default", "never"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = self
            .gpg()
            .args(["--with-colons", "--list-keys"])
            .arg(format!("<{name}@example.invalid>"))
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("fpr:::::::::"))
            .map(|l| l.trim_end_matches(':').to_string())
            .expect("a fingerprint")
    }

    /// Removes the secret key of `fp` (the public key stays): this keyring can then
    /// encrypt to it but not open what is encrypted to it.
    fn forget_secret(&self, fp: &str) {
        let out = self
            .gpg()
            .args(["--batch", "--yes", "--delete-secret-keys", fp])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `program` with a clean environment: this GNUPGHOME, an empty HOME, no age key.
    fn cmd(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .env("PATH", path_var())
            .env("HOME", empty_home())
            .env("GNUPGHOME", &self.home)
            .current_dir(self.home.parent().unwrap())
            .stdin(Stdio::null());
        c
    }

    fn sealed(&self) -> Command {
        self.cmd(&bin())
    }

    fn dir(&self) -> &Path {
        self.home.parent().unwrap()
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        // This keyring's own agent only.
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", &self.home)
            .args(["--kill", "gpg-agent"])
            .output();
    }
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn err(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The lines of the metadata block's entries (everything after `sops:` but `mac`,
/// `lastmodified` and sealed's field, which a rewrite changes).
fn entries(text: &str) -> Vec<String> {
    let block = &text[text.find("\nsops:\n").expect("a sops block")..];
    block
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !(t.starts_with("mac:") || t.starts_with("lastmodified:") || t.starts_with("sealed:"))
        })
        .map(str::to_string)
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn sealed_and_sops_open_each_others_pgp_files() {
    let Some(g) = Gpg::new() else { return };
    let Some(sops) = peer("sops") else { return };
    let fp = g.key("alice");
    let plain = write(g.dir(), "app.yaml", PLAIN);

    // sealed → sops.
    let enc = ok(
        &g.sealed()
            .args(["encrypt", "--pgp", &fp])
            .arg(&plain)
            .output()
            .unwrap(),
        "sealed encrypt --pgp",
    );
    assert!(!enc.contains("fake-pass-1"));
    let md = &enc[enc.find("\nsops:\n").unwrap()..];
    assert!(md.contains("    pgp:\n        - created_at: \""), "{md}");
    assert!(
        md.contains("          enc: |-\n            -----BEGIN PGP MESSAGE-----\n"),
        "{md}"
    );
    assert!(md.contains(&format!("          fp: {fp}\n")), "{md}");
    assert!(!md.contains("age:"), "{md}");
    let sealed_file = write(g.dir(), "by-sealed.yaml", &enc);
    let out = g
        .cmd(&sops)
        .arg("decrypt")
        .arg(&sealed_file)
        .output()
        .unwrap();
    assert_eq!(ok(&out, "sops decrypt"), PLAIN);

    // sops → sealed, with the fingerprint from SOPS_PGP_FP (sops's variable) too.
    let out = g
        .cmd(&sops)
        .env("SOPS_PGP_FP", &fp)
        .arg("encrypt")
        .arg(&plain)
        .output()
        .unwrap();
    let by_sops = write(g.dir(), "by-sops.yaml", &ok(&out, "sops encrypt"));
    let out = g.sealed().arg("decrypt").arg(&by_sops).output().unwrap();
    assert_eq!(ok(&out, "sealed decrypt"), PLAIN);
    let out = g
        .sealed()
        .env("SOPS_PGP_FP", &fp)
        .arg("encrypt")
        .arg(&plain)
        .output()
        .unwrap();
    let again = write(
        g.dir(),
        "env.yaml",
        &ok(&out, "sealed encrypt with SOPS_PGP_FP"),
    );
    let out = g.cmd(&sops).arg("decrypt").arg(&again).output().unwrap();
    assert_eq!(ok(&out, "sops decrypt"), PLAIN);

    // A keyring without the secret key: no key, exit 128, the recipient named by kind.
    g.forget_secret(&fp);
    let out = g.sealed().arg("decrypt").arg(&by_sops).output().unwrap();
    assert_eq!(out.status.code(), Some(128), "{}", err(&out));
    assert!(out.stdout.is_empty());
    let e = err(&out);
    assert!(e.contains(&format!("encrypted for: pgp {fp}")), "{e}");
    assert!(e.contains("the gpg keyring"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn a_mixed_pgp_and_age_file_from_sops_keeps_its_entries_when_sealed_sets_a_value() {
    let Some(g) = Gpg::new() else { return };
    let Some(sops) = peer("sops") else { return };
    let fp = g.key("alice");
    let age = keygen_in(g.dir(), "age.txt");
    let plain = write(g.dir(), "app.yaml", PLAIN);
    let out = g
        .cmd(&sops)
        .args(["encrypt", "--pgp", &fp, "--age", &age.public])
        .arg(&plain)
        .output()
        .unwrap();
    let before = ok(&out, "sops encrypt");
    let file = write(g.dir(), "mixed.yaml", &before);

    // Opened through gpg alone (no age identity anywhere), and through age alone.
    let out = g.sealed().arg("decrypt").arg(&file).output().unwrap();
    assert_eq!(ok(&out, "decrypt through gpg"), PLAIN);
    let out = g
        .sealed()
        .env("GNUPGHOME", g.dir().join("nowhere"))
        .env("SOPS_AGE_KEY_FILE", &age.path)
        .arg("decrypt")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(ok(&out, "decrypt through age"), PLAIN);

    let out = g
        .sealed()
        .args(["set"])
        .arg(&file)
        .args(["[\"port\"]", "6543"])
        .output()
        .unwrap();
    ok(&out, "sealed set through gpg");
    let after = std::fs::read_to_string(&file).unwrap();
    assert_eq!(entries(&after), entries(&before), "entries changed");
    for key in ["with gpg", "with age"] {
        let mut c = g.cmd(&sops);
        if key == "with age" {
            c.env("GNUPGHOME", g.dir().join("nowhere"))
                .env("SOPS_AGE_KEY_FILE", &age.path);
        }
        let out = c.arg("decrypt").arg(&file).output().unwrap();
        assert_eq!(
            ok(&out, "sops decrypt"),
            PLAIN.replace("5432", "6543"),
            "{key}"
        );
    }
}

#[test]
fn shamir_with_a_pgp_key_group() {
    let Some(g) = Gpg::new() else { return };
    let Some(sops) = peer("sops") else { return };
    let fp = g.key("alice");
    let age = keygen_in(g.dir(), "age.txt");
    write(
        g.dir(),
        ".sops.yaml",
        &format!(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - pgp: [{fp}]\n      - age: [{}]\n",
            age.public
        ),
    );
    let plain = write(g.dir(), "app.yaml", PLAIN);
    let out = g.sealed().arg("encrypt").arg(&plain).output().unwrap();
    let file = write(g.dir(), "shamir.yaml", &ok(&out, "sealed encrypt"));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("    key_groups:\n        - pgp:\n"), "{text}");

    for program in [bin(), sops.clone()] {
        let out = g
            .cmd(&program)
            .env("SOPS_AGE_KEY_FILE", &age.path)
            .arg("decrypt")
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(ok(&out, "decrypt with both groups"), PLAIN, "{program:?}");
    }
    // A Shamir file sops wrote (with its `hc_vault: []` in each group): sealed sets a value
    // through both groups, every entry stays byte for byte, sops still opens it.
    let out = g.cmd(&sops).arg("encrypt").arg(&plain).output().unwrap();
    let by_sops = ok(&out, "sops encrypt");
    assert!(by_sops.contains("hc_vault: []"), "{by_sops}");
    let sops_file = write(g.dir(), "sops-shamir.yaml", &by_sops);
    let out = g
        .sealed()
        .env("SOPS_AGE_KEY_FILE", &age.path)
        .arg("set")
        .arg(&sops_file)
        .args(["[\"port\"]", "6543"])
        .output()
        .unwrap();
    ok(&out, "sealed set");
    let after = std::fs::read_to_string(&sops_file).unwrap();
    assert_eq!(entries(&after), entries(&by_sops));
    let out = g
        .cmd(&sops)
        .env("SOPS_AGE_KEY_FILE", &age.path)
        .arg("decrypt")
        .arg(&sops_file)
        .output()
        .unwrap();
    assert_eq!(ok(&out, "sops decrypt"), PLAIN.replace("5432", "6543"));

    // With the age key only, the pgp group is missing: the message says so.
    let out = g
        .sealed()
        .env("GNUPGHOME", g.dir().join("nowhere"))
        .env("SOPS_AGE_KEY_FILE", &age.path)
        .arg("decrypt")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(128));
    let e = err(&out);
    assert!(
        e.contains("1 of 2 opened, 2 needed; not opened: key group 0"),
        "{e}"
    );
    assert!(
        e.contains(&format!("pgp {fp}")) && e.contains(&format!("age {}", age.public)),
        "{e}"
    );
}

#[test]
fn rotate_and_updatekeys_wrap_to_pgp_members_of_the_rule_never_of_the_file() {
    let Some(g) = Gpg::new() else { return };
    let Some(sops) = peer("sops") else { return };
    let alice = g.key("alice");
    let bob = g.key("bob");
    let mallory = g.key("mallory");
    let rule = |fps: &[&str]| {
        format!(
            "creation_rules:\n  - path_regex: \\.yaml$\n    pgp: {}\n",
            fps.join(",")
        )
    };
    write(g.dir(), ".sops.yaml", &rule(&[&alice]));
    let plain = write(g.dir(), "app.yaml", PLAIN);
    ok(
        &g.sealed()
            .args(["encrypt", "-i"])
            .arg(&plain)
            .output()
            .unwrap(),
        "encrypt -i",
    );
    // An editor adds a pgp entry for mallory (one sops made for another file: whatever it
    // holds, only the rule decides whom the new data key is wrapped to).
    let out = g
        .cmd(&sops)
        .args(["encrypt", "--pgp", &mallory])
        .arg(write(g.dir(), "x.yaml", "a: 1\n"))
        .output()
        .unwrap();
    let other = ok(&out, "sops encrypt");
    let pgp_entry: String = {
        let at = other.find("    pgp:\n").unwrap() + "    pgp:\n".len();
        let end = other[at..].find("    unencrypted_suffix").unwrap() + at;
        other[at..end].to_string()
    };
    let text = std::fs::read_to_string(&plain).unwrap();
    let at = text.find("    pgp:\n").unwrap() + "    pgp:\n".len();
    let tampered = format!("{}{pgp_entry}{}", &text[..at], &text[at..]);
    std::fs::write(&plain, &tampered).unwrap();
    assert!(tampered.contains(&mallory));
    // This keyring is the team's: it does not hold mallory's secret key.
    g.forget_secret(&mallory);

    let out = g.sealed().arg("rotate").arg(&plain).output().unwrap();
    ok(&out, "rotate");
    let e = err(&out);
    assert!(e.contains(&format!("dropped pgp:{mallory}")), "{e}");
    let rotated = std::fs::read_to_string(&plain).unwrap();
    assert!(!rotated.contains(&mallory) && rotated.contains(&alice));

    // bob joins in .sops.yaml: updatekeys wraps the same data key to him.
    write(g.dir(), ".sops.yaml", &rule(&[&alice, &bob]));
    let out = g
        .sealed()
        .args(["updatekeys", "-y"])
        .arg(&plain)
        .output()
        .unwrap();
    ok(&out, "updatekeys");
    let updated = std::fs::read_to_string(&plain).unwrap();
    assert!(updated.contains(&format!("fp: {bob}")), "{updated}");
    g.forget_secret(&alice);
    for program in [bin(), sops.clone()] {
        let out = g.cmd(&program).arg("decrypt").arg(&plain).output().unwrap();
        assert_eq!(ok(&out, "decrypt as bob"), PLAIN, "{program:?}");
    }
    // rotate --pgp names the recipients on the command line.
    let out = g
        .sealed()
        .args(["rotate", "--pgp", &bob])
        .arg(&plain)
        .output()
        .unwrap();
    ok(&out, "rotate --pgp");
    let only_bob = std::fs::read_to_string(&plain).unwrap();
    assert!(!only_bob.contains(&alice) && only_bob.contains(&bob));
}

#[test]
fn the_git_filter_encrypts_to_a_pgp_key() {
    let Some(g) = Gpg::new() else { return };
    let Some(r) = GitRepo::new() else { return };
    let fp = g.key("alice");
    r.write(
        ".sops.yaml",
        &format!("creation_rules:\n  - path_regex: ^secrets/\n    pgp: {fp}\n"),
    );
    r.write("secrets/app.yaml", PLAIN);
    let run = |program: &Path, args: &[&str]| {
        let out = r
            .cmd_as(program, &r.root, false)
            .env("GNUPGHOME", &g.home)
            .args(args)
            .output()
            .unwrap();
        ok(&out, &format!("{program:?} {args:?}"))
    };
    run(&bin(), &["git", "init"]);
    run(Path::new("git"), &["add", "-A"]);
    run(Path::new("git"), &["commit", "-q", "-m", "init"]);
    let blob = run(Path::new("git"), &["show", "HEAD:secrets/app.yaml"]);
    assert!(
        blob.contains(&format!("fp: {fp}")) && !blob.contains("fake-pass-1"),
        "{blob}"
    );
    assert_eq!(r.read("secrets/app.yaml"), PLAIN);
    // A fresh checkout is smudged through gpg.
    std::fs::remove_file(r.root.join("secrets/app.yaml")).unwrap();
    run(Path::new("git"), &["checkout", "--", "secrets/app.yaml"]);
    assert_eq!(r.read("secrets/app.yaml"), PLAIN);
    // An edit is cleaned again; the pgp entry is kept as it was.
    r.write("secrets/app.yaml", &PLAIN.replace("5432", "6543"));
    run(Path::new("git"), &["commit", "-q", "-am", "port"]);
    let blob2 = run(Path::new("git"), &["show", "HEAD:secrets/app.yaml"]);
    assert_eq!(entries(&blob2), entries(&blob));
    assert!(!blob2.contains("6543"));
}

#[test]
fn without_gpg_the_error_names_it() {
    let Some(g) = Gpg::new() else { return };
    let fp = g.key("alice");
    let plain = write(g.dir(), "app.yaml", PLAIN);
    let missing = g.dir().join("no-such-gpg");
    let out = g
        .sealed()
        .env("SOPS_GPG_EXEC", &missing)
        .args(["encrypt", "--pgp", &fp])
        .arg(&plain)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let e = err(&out);
    assert!(
        e.contains("no-such-gpg` was not found: PGP keys need GnuPG"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");

    let out = g
        .sealed()
        .args(["encrypt", "--pgp", &fp])
        .arg(&plain)
        .output()
        .unwrap();
    let file = write(g.dir(), "enc.yaml", &ok(&out, "encrypt"));
    let out = g
        .sealed()
        .env("PATH", g.dir())
        .arg("decrypt")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(128));
    assert!(out.stdout.is_empty());
    let e = err(&out);
    assert!(
        e.contains("`gpg` was not found: PGP keys need GnuPG (install the `gnupg` package"),
        "{e}"
    );

    // SOPS_GPG_EXEC names the binary to use.
    let gpg = peer("gpg").unwrap();
    let out = g
        .sealed()
        .env("PATH", g.dir())
        .env("SOPS_GPG_EXEC", gpg)
        .arg("decrypt")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(ok(&out, "decrypt with SOPS_GPG_EXEC"), PLAIN);
}

#[test]
fn a_pgp_entry_is_handed_to_gpg_only_as_an_armored_message_on_stdin() {
    let Some(g) = Gpg::new() else { return };
    let fp = g.key("alice");
    let plain = write(g.dir(), "app.yaml", PLAIN);
    let out = g
        .sealed()
        .args(["encrypt", "--pgp", &fp])
        .arg(&plain)
        .output()
        .unwrap();
    let text = ok(&out, "encrypt");
    // A gpg that records its arguments and standard input.
    let log = g.dir().join("gpg-args");
    let fake = write(
        g.dir(),
        "fake-gpg",
        &format!(
            "#!/bin/sh\necho \"$@\" > '{}'\ncat >> '{}'\nexit 2\n",
            log.display(),
            log.display()
        ),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let start = text.find("-----BEGIN PGP MESSAGE-----").unwrap();
    let end = text.find("-----END PGP MESSAGE-----").unwrap();
    let hostile = format!(
        "{}--output /tmp/x --exec evil\n{}",
        &text[..start],
        &text[end + "-----END PGP MESSAGE-----".len()..]
    );
    let file = write(g.dir(), "hostile.yaml", &hostile);
    let out = g
        .sealed()
        .env("SOPS_GPG_EXEC", &fake)
        .arg("decrypt")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        err(&out).contains("not an armored PGP message"),
        "{}",
        err(&out)
    );
    assert!(!log.exists(), "gpg ran on a blob that is not a PGP message");

    let file = write(g.dir(), "fine.yaml", &text);
    let out = g
        .sealed()
        .env("SOPS_GPG_EXEC", &fake)
        .arg("decrypt")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let seen = std::fs::read_to_string(&log).unwrap();
    let (args, stdin) = seen.split_once('\n').unwrap();
    assert_eq!(args, "--no-auto-key-retrieve --use-agent --decrypt");
    assert!(stdin.starts_with("-----BEGIN PGP MESSAGE-----"), "{stdin}");
}

/// A gcp_kms entry as sops writes one (the `enc` is not a real wrapped key: sealed never
/// uses it, it only has to survive). AWS KMS entries are used: tests/kms.rs.
const KMS: &str = "    gcp_kms:\n        - resource_id: projects/p/locations/global/keyRings/r/cryptoKeys/k\n          created_at: \"2024-01-01T00:00:00Z\"\n          enc: CiQAfake\n";

#[test]
fn entries_of_services_sealed_does_not_reach_are_kept_and_named() {
    let dir = tempdir();
    let age = keygen_in(dir.path(), "age.txt");
    let plain = write(dir.path(), "app.yaml", PLAIN);
    let sealed = |key: bool, args: &[&str]| {
        let mut c = common::sealed();
        if key {
            c.env("SOPS_AGE_KEY_FILE", &age.path);
        }
        c.args(args).output().unwrap()
    };
    let p = plain.to_str().unwrap();
    let out = sealed(false, &["encrypt", "--age", &age.public, p]);
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    ok(&out, "encrypt");
    let with_kms = text.replacen("\nsops:\n", &format!("\nsops:\n{KMS}"), 1);
    std::fs::write(&plain, &with_kms).unwrap();

    let out = sealed(true, &["decrypt", p]);
    assert_eq!(ok(&out, "decrypt"), PLAIN);
    let out = sealed(true, &["set", p, "[\"port\"]", "1"]);
    ok(&out, "set");
    let after = std::fs::read_to_string(&plain).unwrap();
    assert!(after.contains(KMS), "{after}");
    assert_eq!(entries(&after), entries(&with_kms));

    // Re-wrapping keeps the service's entry; a new data key cannot be wrapped to it.
    let other = keygen_in(dir.path(), "other.txt");
    write(
        dir.path(),
        ".sops.yaml",
        &format!(
            "creation_rules:\n  - path_regex: app\\.yaml$\n    age: {},{}\n",
            age.public, other.public
        ),
    );
    let out = sealed(true, &["updatekeys", "-y", p]);
    ok(&out, "updatekeys");
    let after = std::fs::read_to_string(&plain).unwrap();
    assert!(
        after.contains(KMS) && after.contains(&other.public),
        "{after}"
    );
    let out = sealed(true, &["rotate", p]);
    assert!(!out.status.success());
    let e = err(&out);
    assert!(
        e.contains("GCP KMS keys, which sealed does not reach yet"),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&plain).unwrap(), after);

    // Only the service could open it: one line naming the service.
    let kms_only = {
        let at = after.find("    age:\n").unwrap();
        let end = after[at..].find("    lastmodified:").unwrap() + at;
        format!("{}{}", &after[..at], &after[end..])
    };
    std::fs::write(&plain, &kms_only).unwrap();
    let out = sealed(true, &["decrypt", p]);
    assert_eq!(out.status.code(), Some(128));
    let e = err(&out);
    assert!(e.contains("sealed does not reach GCP KMS yet"), "{e}");
    assert!(
        e.contains("GCP KMS projects/p/locations/global/keyRings/r/cryptoKeys/k"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn team_add_and_remove_a_pgp_member_in_both_storage_modes() {
    for filter in [false, true] {
        let Some(g) = Gpg::new() else { return };
        let Some(r) = GitRepo::new() else { return };
        let bob = g.key("bob");
        r.write(
            ".sops.yaml",
            &format!(
                "creation_rules:\n  - path_regex: ^secrets/\n    age: {}\n",
                r.key.public
            ),
        );
        r.write("secrets/app.yaml", PLAIN);
        // `key`: with the repository's age key; without it, only bob's keyring.
        let run = |key: bool, program: &Path, args: &[&str]| {
            let out = r
                .cmd_as(program, &r.root, key)
                .env("GNUPGHOME", &g.home)
                .args(args)
                .output()
                .unwrap();
            ok(&out, &format!("{program:?} {args:?} (filter: {filter})"))
        };
        let git = Path::new("git");
        if filter {
            run(true, &bin(), &["git", "init"]);
        } else {
            run(true, &bin(), &["encrypt", "-i", "secrets/app.yaml"]);
        }
        run(true, git, &["add", "-A"]);
        run(true, git, &["commit", "-q", "-m", "init"]);

        run(true, &bin(), &["team", "add", "bob", &bob]);
        let config = r.read(".sops.yaml");
        assert!(
            config.contains(&format!("    pgp:\n      - {bob} # bob\n")),
            "{config}"
        );
        assert!(config.contains(&format!("  bob: pgp:{bob}\n")), "{config}");
        run(true, git, &["add", "-A"]);
        run(true, git, &["commit", "-q", "-m", "bob"]);
        let blob = run(true, git, &["show", "HEAD:secrets/app.yaml"]);
        assert!(blob.contains(&format!("fp: {bob}")), "{blob}");
        // bob, with his keyring only, opens the committed file.
        let stored = r.root.join("bob.yaml");
        std::fs::write(&stored, &blob).unwrap();
        assert_eq!(run(false, &bin(), &["decrypt", "bob.yaml"]), PLAIN);
        std::fs::remove_file(&stored).unwrap();

        let out = run(true, &bin(), &["team", "list"]);
        assert!(out.contains(&format!("bob  pgp:{bob}")), "{out}");
        run(true, &bin(), &["team", "remove", "bob"]);
        run(true, git, &["add", "-A"]);
        run(true, git, &["commit", "-q", "-m", "no bob"]);
        let blob = run(true, git, &["show", "HEAD:secrets/app.yaml"]);
        assert!(!blob.contains(&bob), "{blob}");
        assert!(!r.read(".sops.yaml").contains(&bob));
        let stored = r.root.join("bob.yaml");
        std::fs::write(&stored, &blob).unwrap();
        let out = r
            .cmd_as(&bin(), &r.root, false)
            .env("GNUPGHOME", &g.home)
            .args(["decrypt", "bob.yaml"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(128), "filter: {filter}");
    }
}

#[test]
fn a_pgp_key_gpg_cannot_unlock_is_reported_as_such() {
    let Some(g) = Gpg::new() else { return };
    // A passphrase-protected key, and a pinentry that always fails (no prompt can hang).
    let out = g
        .gpg()
        .args([
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "pw",
        ])
        .args(["--quick-gen-key", "Locked <locked@example.invalid>"])
        .args(["future-default", "default", "never"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", err(&out));
    let _ = Command::new("gpgconf")
        .env("GNUPGHOME", &g.home)
        .args(["--kill", "gpg-agent"])
        .output();
    std::fs::write(
        g.home.join("gpg-agent.conf"),
        "pinentry-program /bin/false\n",
    )
    .unwrap();
    let fp = {
        let out = g
            .gpg()
            .args(["--with-colons", "--list-keys", "<locked@example.invalid>"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("fpr:::::::::"))
            .map(|l| l.trim_end_matches(':').to_string())
            .unwrap()
    };
    let plain = write(g.dir(), "app.yaml", PLAIN);
    let out = g
        .sealed()
        .args(["encrypt", "--pgp", &fp])
        .arg(&plain)
        .output()
        .unwrap();
    let file = write(
        g.dir(),
        "locked.yaml",
        &ok(&out, "encrypt (needs no passphrase)"),
    );
    let out = g.sealed().arg("decrypt").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(128));
    assert!(out.stdout.is_empty());
    let e = err(&out);
    assert!(
        e.contains("gpg holds the key but cannot use it: gpg: public key decryption failed"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
}
