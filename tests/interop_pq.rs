//! Post-quantum hybrid age keys (`age1pq1…`, `AGE-SECRET-KEY-PQ-1…`, the `mlkem768x25519`
//! stanza of age 1.3) through the real binary, against the real `sops` 3.11 and typage
//! (npm `age-encryption` 0.3.1, the age author's TypeScript implementation), and where
//! features meet: a keys file mixing PQ and X25519 identities, `SOPS_AGE_KEY`, a Shamir key
//! group with a PQ member, `team add` of a PQ member, and `rotate` keeping a PQ recipient
//! named by `.sops.yaml`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Key, keygen_in, peer, peers_required, sealed, tempdir, write_private};

// Indented as sops writes YAML, so that its output compares byte for byte.
const PLAIN: &str = "# app\ndb:\n    user: admin\n    password: fake-pq-pass-1\nport: 5432\n";

/// `sealed keygen --pq -o dir/name`.
fn keygen_pq(dir: &Path, name: &str) -> Key {
    let path = dir.join(name);
    let out = sealed()
        .args(["keygen", "--pq", "-o"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "sealed keygen --pq failed");
    let public = String::from_utf8(out.stderr)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Public key: ").map(str::to_owned))
        .expect("Public key: line");
    assert!(public.starts_with("age1pq1"));
    Key { path, public }
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run the command")
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn sops_cmd(sops: &Path, cwd: &Path, keys: &Path) -> Command {
    let mut c = Command::new(sops);
    c.env_clear()
        .env("PATH", common::path_var())
        .env("HOME", common::empty_home())
        .env("SOPS_AGE_KEY_FILE", keys)
        .current_dir(cwd);
    c
}

fn sealed_in(cwd: &Path, keys: &Path) -> Command {
    let mut c = Command::new(common::bin());
    c.env_clear()
        .env("PATH", common::path_var())
        .env("HOME", common::empty_home())
        .env("SOPS_AGE_KEY_FILE", keys)
        .current_dir(cwd);
    c
}

#[test]
fn keygen_pq_writes_what_age_keygen_pq_writes() {
    let dir = tempdir();
    let key = keygen_pq(dir.path(), "k.txt");
    let text = std::fs::read_to_string(&key.path).unwrap();
    let re = regex::Regex::new(
        r"\A# created: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n# public key: (age1pq1[0-9a-z]{1952})\nAGE-SECRET-KEY-PQ-1[0-9A-Z]{58}\n\z",
    )
    .unwrap();
    let caps = re.captures(&text).expect("age-keygen -pq format");
    assert_eq!(caps[1], key.public);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key.path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // Without -o the identity goes to stdout, the public key to stderr.
    let out = sealed().args(["keygen", "--pq"]).output().unwrap();
    let stdout = ok(out.clone(), "keygen --pq to stdout");
    assert!(stdout.contains("\nAGE-SECRET-KEY-PQ-1"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("SECRET"));

    // --append --pq adds a PQ identity to an X25519 keys file and keeps the old one.
    let x = keygen_in(dir.path(), "x.txt");
    let before = std::fs::read_to_string(&x.path).unwrap();
    let out = sealed()
        .args(["keygen", "--pq", "--append", "-o"])
        .arg(&x.path)
        .output()
        .unwrap();
    ok(out.clone(), "keygen --pq --append");
    assert!(String::from_utf8_lossy(&out.stderr).contains("now holds 2"));
    let after = std::fs::read_to_string(&x.path).unwrap();
    assert!(after.starts_with(&before) && after.contains("AGE-SECRET-KEY-PQ-1"));

    // An existing file is refused; the suggested command keeps --pq and works.
    let out = sealed()
        .args(["keygen", "--pq", "-o"])
        .arg(&key.path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("--append --pq"), "{err}");
}

/// A keys file with a PQ identity and an X25519 one: sops 3.11 encrypts to the PQ
/// recipient, sealed opens it; sealed encrypts to the PQ recipient, sops opens it; and the
/// X25519 identity beside the PQ one keeps working in both.
#[test]
fn sops_and_sealed_exchange_pq_files() {
    let Some(sops) = peer("sops") else { return };
    let dir = tempdir();
    let d = dir.path();
    let pq = keygen_pq(d, "keys.txt");
    let x = keygen_in(d, "x.txt");
    let mixed = format!(
        "{}{}",
        std::fs::read_to_string(&pq.path).unwrap(),
        std::fs::read_to_string(&x.path).unwrap()
    );
    let keys = d.join("mixed.txt");
    write_private(&keys, mixed.as_bytes());
    let only_x = x.path.clone();
    let only_pq = pq.path.clone();
    std::fs::write(d.join("s.yaml"), PLAIN).unwrap();

    // sops → sealed
    let enc = ok(
        run(sops_cmd(&sops, d, &keys).args(["encrypt", "--age", &pq.public, "s.yaml"])),
        "sops encrypt to age1pq1",
    );
    assert!(enc.contains(&pq.public));
    std::fs::write(d.join("by-sops.yaml"), &enc).unwrap();
    for k in [&keys, &only_pq] {
        let out = ok(
            run(sealed_in(d, k).args(["decrypt", "by-sops.yaml"])),
            "sealed decrypts sops's PQ file",
        );
        assert_eq!(out, PLAIN);
    }
    // The X25519 identity alone does not open it (exit 128, as sops).
    let out = run(sealed_in(d, &only_x).args(["decrypt", "by-sops.yaml"]));
    assert_eq!(out.status.code(), Some(128));

    // sealed → sops, to the PQ and the X25519 recipient.
    let recipients = format!("{},{}", pq.public, x.public);
    let enc = ok(
        run(sealed_in(d, &keys).args(["encrypt", "--age", &recipients, "s.yaml"])),
        "sealed encrypt to age1pq1",
    );
    std::fs::write(d.join("by-sealed.yaml"), &enc).unwrap();
    for k in [&keys, &only_pq, &only_x] {
        let out = ok(
            run(sops_cmd(&sops, d, k).args(["decrypt", "by-sealed.yaml"])),
            "sops decrypts sealed's PQ file",
        );
        assert_eq!(out, PLAIN);
    }

    // SOPS_AGE_KEY holding the PQ identity (and comment lines) opens it too.
    let secret = std::fs::read_to_string(&pq.path).unwrap();
    let out = sealed()
        .current_dir(d)
        .args(["decrypt", "by-sops.yaml"])
        .env("SOPS_AGE_KEY", &secret)
        .output()
        .unwrap();
    assert_eq!(ok(out, "SOPS_AGE_KEY with a PQ identity"), PLAIN);
}

/// typage (npm `age-encryption` 0.3.1) in `target/tmp/typage`, installed there with npm
/// when missing (`.ci/run` installs it beforehand). `None`, with a notice, when node, npm
/// or the package cannot be had; a failure under `SEALED_REQUIRE_PEERS=1`.
fn typage() -> Option<PathBuf> {
    let prefix = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("typage");
    let entry = prefix.join("node_modules/age-encryption/dist/index.js");
    let missing = |why: &str| {
        if peers_required() {
            panic!("typage required (SEALED_REQUIRE_PEERS=1): {why}");
        }
        eprintln!("skipping: typage (npm age-encryption 0.3.1): {why}");
        None
    };
    peer("node")?;
    if !entry.exists() {
        let Some(npm) = peer("npm") else {
            return missing("npm is not installed");
        };
        let out = Command::new(npm)
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg("age-encryption@0.3.1")
            .output();
        if !out.is_ok_and(|o| o.status.success()) || !entry.exists() {
            return missing("`npm install age-encryption@0.3.1` failed");
        }
    }
    Some(entry)
}

/// typage opens the data key sealed wrapped for a PQ identity, and wraps it again for
/// another PQ recipient; sealed, given only that second identity, opens the file with it.
/// The values decrypt (and the MAC verifies) only if both sides got the same data key.
#[test]
fn typage_and_sealed_exchange_data_keys() {
    let Some(entry) = typage() else { return };
    let dir = tempdir();
    let d = dir.path();
    let a = keygen_pq(d, "a.txt");
    let b = keygen_pq(d, "b.txt");
    let plain = "{\n  \"token\": \"fake-pq-token-2\",\n  \"n\": 3\n}\n";
    std::fs::write(d.join("s.json"), plain).unwrap();
    let enc = ok(
        run(sealed_in(d, &a.path).args(["encrypt", "--age", &a.public, "s.json"])),
        "sealed encrypt",
    );
    let mut doc: serde_json::Value = serde_json::from_str(&enc).unwrap();
    let wrapped = doc["sops"]["age"][0]["enc"].as_str().unwrap().to_owned();
    std::fs::write(d.join("enc.age"), &wrapped).unwrap();

    let a_secret = std::fs::read_to_string(&a.path).unwrap();
    let a_secret = a_secret
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-PQ-1"))
        .unwrap();
    std::fs::write(d.join("a.id"), a_secret).unwrap();
    let script = format!(
        r#"import * as age from {entry:?};
import {{ readFileSync }} from "node:fs";
const d = new age.Decrypter();
d.addIdentity(readFileSync("a.id", "utf8").trim());
const key = await d.decrypt(age.armor.decode(readFileSync("enc.age", "utf8")));
if (key.length !== 32) throw new Error("data key of " + key.length + " bytes");
const e = new age.Encrypter();
e.addRecipient(process.argv[2]);
process.stdout.write(age.armor.encode(await e.encrypt(key)));
"#,
        entry = format!("file://{}", entry.display())
    );
    std::fs::write(d.join("rewrap.mjs"), script).unwrap();
    let out = run(Command::new("node")
        .current_dir(d)
        .arg("rewrap.mjs")
        .arg(&b.public));
    let rewrapped = ok(out, "typage unwraps and rewraps the data key");
    assert!(rewrapped.contains("-----BEGIN AGE ENCRYPTED FILE-----"));
    assert!(rewrapped.len() > 1500, "a hybrid stanza is about 2 KB");

    doc["sops"]["age"][0]["recipient"] = b.public.clone().into();
    doc["sops"]["age"][0]["enc"] = format!("{}\n", rewrapped.trim_end()).into();
    std::fs::write(
        d.join("s.enc.json"),
        serde_json::to_string_pretty(&doc).unwrap() + "\n",
    )
    .unwrap();
    let out = ok(
        run(sealed_in(d, &b.path).args(["decrypt", "s.enc.json"])),
        "sealed opens typage's wrap",
    );
    assert_eq!(out, plain);
    // And a is no longer a recipient.
    let out = run(sealed_in(d, &a.path).args(["decrypt", "s.enc.json"]));
    assert_eq!(out.status.code(), Some(128));
}

/// A git repository with `.sops.yaml` and three people: a PQ key, an X25519 key, and a
/// PQ newcomer.
struct Repo {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    pq: Key,
    x: Key,
    carol: Key,
}

impl Repo {
    fn new(rules: impl Fn(&Key, &Key) -> String) -> Option<Repo> {
        peer("git")?;
        let tmp = tempdir();
        let pq = keygen_pq(tmp.path(), "pq.txt");
        let x = keygen_in(tmp.path(), "x.txt");
        let carol = keygen_pq(tmp.path(), "carol.txt");
        let root = tmp.path().join("repo");
        std::fs::create_dir_all(root.join("secrets")).unwrap();
        let r = Repo {
            _tmp: tmp,
            root,
            pq,
            x,
            carol,
        };
        r.git(&["init", "-q", "-b", "main"]);
        std::fs::write(r.root.join(".sops.yaml"), rules(&r.pq, &r.x)).unwrap();
        std::fs::write(r.root.join("secrets/app.yaml"), PLAIN).unwrap();
        ok(
            run(r.sealed(&r.pq).args(["encrypt", "-i", "secrets/app.yaml"])),
            "encrypt",
        );
        r.git(&["add", "-A"]);
        r.git(&["commit", "-q", "-m", "init"]);
        Some(r)
    }

    fn git(&self, args: &[&str]) {
        let out = Command::new("git")
            .current_dir(&self.root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", common::empty_home())
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .args(args)
            .output()
            .unwrap();
        ok(out, "git");
    }

    fn sealed(&self, key: &Key) -> Command {
        sealed_in(&self.root, &key.path)
    }

    /// Whether these identities (concatenated into SOPS_AGE_KEY) open the file.
    fn opens(&self, keys: &[&Key]) -> bool {
        let text: String = keys
            .iter()
            .map(|k| std::fs::read_to_string(&k.path).unwrap())
            .collect();
        let out = run(Command::new(common::bin())
            .env_clear()
            .env("PATH", common::path_var())
            .env("HOME", common::empty_home())
            .env("SOPS_AGE_KEY", text)
            .current_dir(&self.root)
            .args(["decrypt", "secrets/app.yaml"]));
        out.status.success() && out.stdout == PLAIN.as_bytes()
    }

    fn file(&self) -> String {
        std::fs::read_to_string(self.root.join("secrets/app.yaml")).unwrap()
    }
}

#[test]
fn shamir_group_with_a_pq_member() {
    let Some(r) = Repo::new(|pq, x| {
        format!(
            "creation_rules:\n  - path_regex: ^secrets/\n    shamir_threshold: 2\n    key_groups:\n      - age: [{}]\n      - age: [{}]\n",
            pq.public, x.public
        )
    }) else {
        return;
    };
    let enc = r.file();
    assert!(enc.contains("shamir_threshold: 2") && enc.contains(&r.pq.public));
    assert!(r.opens(&[&r.pq, &r.x]), "both groups open it");
    assert!(!r.opens(&[&r.pq]), "one group of two is not enough");
    assert!(!r.opens(&[&r.x]), "one group of two is not enough");
    // sops agrees.
    let Some(sops) = peer("sops") else { return };
    let both = r.root.join("../both.txt");
    let text = format!(
        "{}{}",
        std::fs::read_to_string(&r.pq.path).unwrap(),
        std::fs::read_to_string(&r.x.path).unwrap()
    );
    write_private(&both, text.as_bytes());
    let out = ok(
        run(sops_cmd(&sops, &r.root, &both).args(["decrypt", "secrets/app.yaml"])),
        "sops decrypts a Shamir file with a PQ group",
    );
    assert_eq!(out, PLAIN);
}

#[test]
fn rotate_and_team_add_keep_pq_recipients() {
    let Some(r) = Repo::new(|pq, x| {
        format!(
            "creation_rules:\n  - path_regex: ^secrets/\n    age: >-\n      {},\n      {}\n",
            pq.public, x.public
        )
    }) else {
        return;
    };
    let before = r.file();
    assert!(r.opens(&[&r.pq]) && r.opens(&[&r.x]));

    // rotate: new data key, the PQ recipient from .sops.yaml kept.
    ok(run(r.sealed(&r.pq).args(["rotate"])), "rotate");
    let after = r.file();
    assert_ne!(before, after);
    assert!(after.contains(&r.pq.public));
    assert!(r.opens(&[&r.pq]), "the PQ member opens the rotated file");
    assert!(r.opens(&[&r.x]));

    // team add of a PQ member: added to .sops.yaml, the data key re-wrapped for them.
    assert!(!r.opens(&[&r.carol]));
    ok(
        run(r
            .sealed(&r.x)
            .args(["team", "add", "carol", &r.carol.public])),
        "team add a PQ member",
    );
    let rules = std::fs::read_to_string(r.root.join(".sops.yaml")).unwrap();
    assert!(rules.contains(&r.carol.public));
    assert!(r.opens(&[&r.carol]), "the new PQ member opens the file");

    // updatekeys after removing the first PQ key from .sops.yaml: it no longer opens.
    let rules = rules.replace(&format!("{},", r.pq.public), "");
    std::fs::write(r.root.join(".sops.yaml"), rules).unwrap();
    ok(
        run(r
            .sealed(&r.x)
            .args(["updatekeys", "-y", "secrets/app.yaml"])),
        "updatekeys",
    );
    assert!(!r.file().contains(&r.pq.public));
    assert!(r.opens(&[&r.carol]) && r.opens(&[&r.x]));
}

/// The git filter's storage mode (plaintext work tree, ciphertext in commits) with a PQ
/// recipient, and a teammate's fresh clone opened with the PQ identity.
#[test]
fn git_filter_with_a_pq_recipient() {
    use common::git::GitRepo;
    let Some(repo) = GitRepo::new() else { return };
    let pq = keygen_pq(repo.tmp.path(), "pq.txt");
    let as_pq = |dir: &Path, args: &[&str]| {
        let mut c = repo.cmd_in(&common::bin(), dir);
        c.env("SOPS_AGE_KEY_FILE", &pq.path).args(args);
        ok(run(&mut c), &format!("sealed {args:?}"))
    };
    repo.write(
        ".sops.yaml",
        &format!(
            "creation_rules:\n  - path_regex: ^secrets/\n    age: {}\n",
            pq.public
        ),
    );
    as_pq(&repo.root, &["git", "init"]);
    repo.write("secrets/app.yaml", PLAIN);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "pq secrets"]);
    let stored = repo.git(&["show", "HEAD:secrets/app.yaml"]);
    assert!(stored.contains("password: ENC[") && stored.contains(&pq.public));
    assert!(!stored.contains("fake-pq-pass-1"));
    assert_eq!(repo.read("secrets/app.yaml"), PLAIN);

    // A teammate's clone: ciphertext until `sealed git init` with the PQ identity.
    let clone = repo.tmp.path().join("clone");
    repo.git(&[
        "clone",
        "-q",
        repo.root.to_str().unwrap(),
        clone.to_str().unwrap(),
    ]);
    assert!(
        std::fs::read_to_string(clone.join("secrets/app.yaml"))
            .unwrap()
            .contains("ENC[")
    );
    as_pq(&clone, &["git", "init"]);
    assert_eq!(
        std::fs::read_to_string(clone.join("secrets/app.yaml")).unwrap(),
        PLAIN
    );
}
