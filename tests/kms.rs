//! AWS KMS master keys (issue 18) against moto's real server (`moto_server`, PyPI
//! `moto[server]`), started per test on a free loopback port and stopped by its pid, and
//! the real `sops` against the same server: files keyed to KMS both ways, the encryption
//! context, mixed age+kms key groups (Shamir), rotate and updatekeys, the git filter, a role
//! named only by the file, a service that is down or never answers, no credentials.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::moto::{ACCESS_KEY, Moto, SECRET_KEY};
use common::{bin, keygen_in, peer, tempdir};

/// Spelled as sops writes YAML, so that sops's decryption gives it back byte for byte.
const PLAIN: &str = "db:\n    user: admin\n    password: fake-pass-1\nport: 5432\n";

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

/// Asserts that no credential and no secret value appears in `out`'s streams.
fn no_leak(out: &Output) {
    for stream in [&out.stdout, &out.stderr] {
        let s = String::from_utf8_lossy(stream);
        assert!(!s.contains(SECRET_KEY) && !s.contains(ACCESS_KEY), "{s}");
    }
    assert!(!String::from_utf8_lossy(&out.stderr).contains("fake-pass-1"));
}

/// The `kms` entries' lines, with the values that change per run (`created_at`, `enc`)
/// reduced to their field names.
fn kms_shape(text: &str) -> Vec<String> {
    let block = &text[text.find("\nsops:\n").expect("a sops block")..];
    block
        .lines()
        .skip_while(|l| l.trim() != "kms:")
        .skip(1)
        .take_while(|l| l.starts_with("        "))
        .map(|l| {
            let t = l.trim_start_matches([' ', '-']);
            if t.starts_with("created_at:") || t.starts_with("enc:") {
                t.split(':').next().unwrap().to_string()
            } else {
                l.to_string()
            }
        })
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn sealed_and_sops_open_each_others_kms_files_with_an_encryption_context() {
    let Some(moto) = Moto::start() else { return };
    let Some(_) = peer("sops") else { return };
    let arn = moto.create_key();
    let dir = tempdir();
    let d = dir.path();
    write(d, "app.yaml", PLAIN);
    for context in [None, Some("app:web,env:prod")] {
        // sops encrypts, sealed decrypts.
        let mut c = moto.sops(d).unwrap();
        c.args(["-e", "--kms", &arn]);
        if let Some(ctx) = context {
            c.args(["--encryption-context", ctx]);
        }
        let out = c.arg("app.yaml").output().unwrap();
        let by_sops = ok(&out, "sops -e");
        write(d, "by-sops.yaml", &by_sops);
        let out = moto
            .sealed(d)
            .args(["decrypt", "by-sops.yaml"])
            .output()
            .unwrap();
        no_leak(&out);
        assert_eq!(ok(&out, "sealed decrypt"), PLAIN);

        // sealed encrypts, sops decrypts; the entry has sops's fields in sops's order.
        let mut c = moto.sealed(d);
        c.args(["encrypt", "--kms", &arn]);
        if let Some(ctx) = context {
            c.args(["--encryption-context", ctx]);
        }
        let out = c.arg("app.yaml").output().unwrap();
        no_leak(&out);
        let by_sealed = ok(&out, "sealed encrypt");
        assert_eq!(kms_shape(&by_sealed), kms_shape(&by_sops));
        assert!(!kms_shape(&by_sealed).is_empty());
        if context.is_some() {
            assert!(by_sealed.contains("          context:\n"), "{by_sealed}");
        }
        write(d, "by-sealed.yaml", &by_sealed);
        let out = moto
            .sops(d)
            .unwrap()
            .args(["-d", "by-sealed.yaml"])
            .output()
            .unwrap();
        assert_eq!(ok(&out, "sops -d"), PLAIN);
    }

    // The context is checked by KMS: an edited one opens nothing, and says who refused.
    let text = std::fs::read_to_string(d.join("by-sealed.yaml")).unwrap();
    write(d, "edited.yaml", &text.replace("app: web", "app: api"));
    let out = moto
        .sealed(d)
        .args(["decrypt", "edited.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(128));
    assert!(out.stdout.is_empty());
    let e = err(&out);
    assert!(e.contains("AWS KMS at http://127.0.0.1:"), "{e}");
    assert!(e.contains("InvalidCiphertextException"), "{e}");
    no_leak(&out);
}

#[test]
fn a_role_named_only_by_the_file_is_not_assumed() {
    let Some(moto) = Moto::start() else { return };
    let Some(_) = peer("sops") else { return };
    let arn = moto.create_key();
    let role = "arn:aws:iam::123456789012:role/sops-decrypt";
    let dir = tempdir();
    let d = dir.path();
    write(d, "app.yaml", PLAIN);
    // sops writes the role and assumes it (moto's STS) to encrypt.
    let out = moto
        .sops(d)
        .unwrap()
        .args(["-e", "--kms", &format!("{arn}+{role}"), "app.yaml"])
        .output()
        .unwrap();
    let text = ok(&out, "sops -e with a role");
    assert!(text.contains(&format!("role: {role}")), "{text}");
    write(d, "enc.yaml", &text);

    // Nothing outside the file names the role: refused, naming it and the fix.
    let out = moto
        .sealed(d)
        .args(["decrypt", "enc.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(128));
    assert!(out.stdout.is_empty());
    let e = err(&out);
    assert!(
        e.contains("sealed does not assume a role named only by the encrypted file"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
    no_leak(&out);
    // The fix the message gives, pasted: SOPS_KMS_ARN='ARN+ROLE'.
    let fix = e
        .split("set SOPS_KMS_ARN='")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .expect("the message names SOPS_KMS_ARN")
        .to_string();
    let out = moto
        .sealed(d)
        .env("SOPS_KMS_ARN", &fix)
        .args(["decrypt", "enc.yaml"])
        .output()
        .unwrap();
    assert_eq!(ok(&out, "decrypt with SOPS_KMS_ARN"), PLAIN);
    // A .sops.yaml rule naming the role is the other way.
    write(
        d,
        ".sops.yaml",
        &format!("creation_rules:\n  - kms: {arn}+{role}\n"),
    );
    let out = moto
        .sealed(d)
        .args(["decrypt", "enc.yaml"])
        .output()
        .unwrap();
    assert_eq!(ok(&out, "decrypt with the rule"), PLAIN);
    // sealed writes the role as sops does, and sops opens it.
    let out = moto
        .sealed(d)
        .args(["encrypt", "app.yaml"])
        .output()
        .unwrap();
    let by_sealed = ok(&out, "encrypt by the rule");
    assert_eq!(kms_shape(&by_sealed), kms_shape(&text));
    write(d, "by-sealed.yaml", &by_sealed);
    let out = moto
        .sops(d)
        .unwrap()
        .args(["-d", "by-sealed.yaml"])
        .output()
        .unwrap();
    assert_eq!(ok(&out, "sops -d"), PLAIN);
}

#[test]
fn a_service_that_is_down_slow_or_without_credentials_fails_in_one_line_writing_nothing() {
    let Some(moto) = Moto::start() else { return };
    let arn = moto.create_key();
    let dir = tempdir();
    let d = dir.path();
    let plain = write(d, "app.yaml", PLAIN);
    let out = moto
        .sealed(d)
        .args(["encrypt", "--kms", &arn, "app.yaml"])
        .output()
        .unwrap();
    write(d, "enc.yaml", &ok(&out, "encrypt"));

    // Down: a port nothing listens on.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let down = format!("http://127.0.0.1:{closed}");
    // Slow: a server that accepts and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let slow = format!("http://127.0.0.1:{}", silent.local_addr().unwrap().port());
    let _held = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in silent.incoming().take(4) {
            held.push(s);
        }
        held
    });
    for (endpoint, why) in [
        (down.as_str(), "connection refused"),
        (slow.as_str(), "timed out"),
    ] {
        let started = std::time::Instant::now();
        let out = moto
            .sealed(d)
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("SEALED_SERVICE_TIMEOUT", "2")
            .args(["encrypt", "-i", "--kms", &arn, "app.yaml"])
            .output()
            .unwrap();
        assert_ne!(out.status.code(), Some(0));
        let e = err(&out);
        assert!(e.contains(&format!("AWS KMS at {endpoint}/: ")), "{e}");
        assert!(e.contains(why), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        no_leak(&out);
        assert_eq!(std::fs::read_to_string(&plain).unwrap(), PLAIN);

        let out = moto
            .sealed(d)
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("SEALED_SERVICE_TIMEOUT", "2")
            .args(["decrypt", "enc.yaml"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(128));
        assert!(out.stdout.is_empty());
        let e = err(&out);
        assert!(e.contains(&format!("AWS KMS at {endpoint}/: ")), "{e}");
        assert!(e.contains(why), "{e}");
        no_leak(&out);
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    // No credentials anywhere: said before anything is sent.
    let out = moto
        .sealed(d)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .args(["decrypt", "enc.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(128));
    let e = err(&out);
    assert!(e.contains("no AWS credentials"), "{e}");
    // A profile named by the user but absent from ~/.aws: named.
    let out = moto
        .sealed(d)
        .args([
            "encrypt",
            "--kms",
            &arn,
            "--aws-profile",
            "prod",
            "app.yaml",
        ])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(
        err(&out).contains("the AWS profile \"prod\""),
        "{}",
        err(&out)
    );
    // The profile from ~/.aws/credentials works (and its secret is never shown).
    std::fs::create_dir_all(moto.home.join(".aws")).unwrap();
    std::fs::write(
        moto.home.join(".aws/credentials"),
        format!("[prod]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"),
    )
    .unwrap();
    let out = moto
        .sealed(d)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .args([
            "encrypt",
            "--kms",
            &arn,
            "--aws-profile",
            "prod",
            "app.yaml",
        ])
        .output()
        .unwrap();
    no_leak(&out);
    let text = ok(&out, "encrypt with a profile");
    assert!(text.contains("aws_profile: prod"), "{text}");
}

#[test]
fn mixed_kms_and_age_key_groups_with_rotate_and_updatekeys() {
    let Some(moto) = Moto::start() else { return };
    let Some(_) = peer("sops") else { return };
    let arn = moto.create_key();
    let dir = tempdir();
    let d = dir.path();
    let alice = keygen_in(d, "alice.txt");
    let bob = keygen_in(d, "bob.txt");
    let rule = |extra: &str| {
        format!(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - kms:\n          - arn: {arn}\n            context:\n              team: ops\n{extra}      - age: [{}]\n",
            alice.public
        )
    };
    write(d, ".sops.yaml", &rule(""));
    write(d, "app.yaml", PLAIN);
    let out = moto
        .sealed(d)
        .args(["encrypt", "-i", "app.yaml"])
        .output()
        .unwrap();
    ok(&out, "encrypt -i");
    let text = std::fs::read_to_string(d.join("app.yaml")).unwrap();
    assert!(
        text.contains("key_groups:") && text.contains("team: ops"),
        "{text}"
    );
    // Both groups are needed: sops with alice's key and KMS opens it; alone, nothing.
    let out = moto
        .sops(d)
        .unwrap()
        .env("SOPS_AGE_KEY_FILE", &alice.path)
        .args(["-d", "app.yaml"])
        .output()
        .unwrap();
    assert_eq!(ok(&out, "sops -d"), PLAIN);
    let out = moto
        .sealed(d)
        .args(["decrypt", "app.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(128));
    // sops's file by the same rule opens in sealed.
    write(d, "plain2.yaml", PLAIN);
    let out = moto
        .sops(d)
        .unwrap()
        .args(["-e", "plain2.yaml"])
        .output()
        .unwrap();
    write(d, "by-sops.yaml", &ok(&out, "sops -e by the rule"));
    let out = moto
        .sealed(d)
        .env("SOPS_AGE_KEY_FILE", &alice.path)
        .args(["decrypt", "by-sops.yaml"])
        .output()
        .unwrap();
    assert_eq!(ok(&out, "sealed decrypt of sops's file"), PLAIN);

    // rotate: a new data key, wrapped again through KMS; sops still opens it.
    let before = std::fs::read_to_string(d.join("app.yaml")).unwrap();
    let out = moto
        .sealed(d)
        .env("SOPS_AGE_KEY_FILE", &alice.path)
        .args(["rotate", "app.yaml"])
        .output()
        .unwrap();
    ok(&out, "rotate");
    no_leak(&out);
    let rotated = std::fs::read_to_string(d.join("app.yaml")).unwrap();
    let enc = |t: &str| {
        t.lines()
            .find(|l| l.trim_start().starts_with("enc: ") && !l.contains('|'))
            .unwrap()
            .to_string()
    };
    assert_ne!(enc(&rotated), enc(&before));
    let out = moto
        .sops(d)
        .unwrap()
        .env("SOPS_AGE_KEY_FILE", &alice.path)
        .args(["-d", "app.yaml"])
        .output()
        .unwrap();
    assert_eq!(ok(&out, "sops -d after rotate"), PLAIN);

    // bob joins the KMS group in .sops.yaml: updatekeys wraps that group's share to him,
    // keeping the kms entry as it was.
    write(
        d,
        ".sops.yaml",
        &rule(&format!("        age: [{}]\n", bob.public)),
    );
    let out = moto
        .sealed(d)
        .env("SOPS_AGE_KEY_FILE", &alice.path)
        .args(["updatekeys", "-y", "app.yaml"])
        .output()
        .unwrap();
    ok(&out, "updatekeys");
    let updated = std::fs::read_to_string(d.join("app.yaml")).unwrap();
    assert!(updated.contains(&bob.public), "{updated}");
    assert_eq!(enc(&updated), enc(&rotated));
    // Without KMS (down), bob and alice together open it; sops agrees.
    let both = d.join("both.txt");
    std::fs::write(
        &both,
        format!(
            "{}{}",
            std::fs::read_to_string(&alice.path).unwrap(),
            std::fs::read_to_string(&bob.path).unwrap()
        ),
    )
    .unwrap();
    for program in ["sealed", "sops"] {
        let mut c = if program == "sealed" {
            moto.sealed(d)
        } else {
            moto.sops(d).unwrap()
        };
        let out = c
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("SOPS_AGE_KEY_FILE", &both)
            .args(["-d", "app.yaml"])
            .output()
            .unwrap();
        assert_eq!(ok(&out, program), PLAIN, "{program}");
    }

    // rotate --kms names the new recipients: one group, KMS only.
    let out = moto
        .sealed(d)
        .env("SOPS_AGE_KEY_FILE", &alice.path)
        .args(["rotate", "--kms", &arn, "app.yaml"])
        .output()
        .unwrap();
    ok(&out, "rotate --kms");
    let only_kms = std::fs::read_to_string(d.join("app.yaml")).unwrap();
    assert!(!only_kms.contains("key_groups") && !only_kms.contains(&alice.public));
    let out = moto
        .sops(d)
        .unwrap()
        .args(["-d", "app.yaml"])
        .output()
        .unwrap();
    assert_eq!(ok(&out, "sops -d after rotate --kms"), PLAIN);
}

#[test]
fn the_git_filter_encrypts_through_kms() {
    let Some(moto) = Moto::start() else { return };
    let Some(r) = common::git::GitRepo::new() else {
        return;
    };
    let Some(sops) = peer("sops") else { return };
    let arn = moto.create_key();
    r.write(
        ".sops.yaml",
        &format!("creation_rules:\n  - path_regex: ^secrets/\n    kms: {arn}\n"),
    );
    r.write("secrets/app.yaml", PLAIN);
    let run = |program: &Path, args: &[&str]| {
        let mut c = r.cmd_as(program, &r.root, false);
        moto.env(&mut c);
        let out = c.env("HOME", &r.home).args(args).output().unwrap();
        no_leak(&out);
        ok(&out, &format!("{program:?} {args:?}"))
    };
    run(&bin(), &["git", "init"]);
    run(Path::new("git"), &["add", "-A"]);
    run(Path::new("git"), &["commit", "-q", "-m", "init"]);
    let blob = run(Path::new("git"), &["show", "HEAD:secrets/app.yaml"]);
    assert!(
        blob.contains(&format!("arn: {arn}")) && !blob.contains("fake-pass-1"),
        "{blob}"
    );
    // The committed file is sops's: sops opens it through the same KMS.
    std::fs::write(r.tmp.path().join("blob.yaml"), &blob).unwrap();
    let out = run(
        &sops,
        &["-d", r.tmp.path().join("blob.yaml").to_str().unwrap()],
    );
    assert_eq!(out, PLAIN);
    // A fresh checkout is smudged through KMS.
    std::fs::remove_file(r.root.join("secrets/app.yaml")).unwrap();
    run(Path::new("git"), &["checkout", "--", "secrets/app.yaml"]);
    assert_eq!(r.read("secrets/app.yaml"), PLAIN);
}

#[test]
fn team_add_and_remove_over_a_repository_keyed_to_kms_and_age() {
    let Some(moto) = Moto::start() else { return };
    let Some(r) = common::git::GitRepo::new() else {
        return;
    };
    let Some(sops) = peer("sops") else { return };
    let arn = moto.create_key();
    let bob = keygen_in(r.tmp.path(), "bob.txt");
    r.write(
        ".sops.yaml",
        &format!(
            "creation_rules:\n  - path_regex: ^secrets/\n    kms: {arn}\n    age: {}\n",
            r.key.public
        ),
    );
    let run = |program: &Path, key: Option<&Path>, args: &[&str]| {
        let mut c = r.cmd_as(program, &r.root, false);
        moto.env(&mut c);
        c.env("HOME", &r.home);
        if let Some(k) = key {
            c.env("SOPS_AGE_KEY_FILE", k);
        }
        let out = c.args(args).output().unwrap();
        no_leak(&out);
        out
    };
    let names: Vec<String> = (0..6).map(|i| format!("secrets/s{i}.yaml")).collect();
    for n in &names {
        r.write(n, PLAIN);
        ok(&run(&bin(), None, &["encrypt", "-i", n]), "encrypt -i");
    }
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "secrets"]);
    let kms_enc = |text: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with("enc: ") && !l.contains('|'))
            .unwrap()
            .to_string()
    };
    let before: Vec<String> = names.iter().map(|n| kms_enc(&r.read(n))).collect();

    // team add: every file re-wrapped to bob (the data key through KMS or alice's key).
    let out = run(
        &bin(),
        Some(&r.key.path),
        &["team", "add", "bob", &bob.public],
    );
    ok(&out, "team add");
    for (n, enc) in names.iter().zip(&before) {
        let text = r.read(n);
        assert!(text.contains(&bob.public), "{n}: {text}");
        assert_eq!(&kms_enc(&text), enc, "{n}: the kms entry is kept");
        let out = run(&sops, Some(&bob.path), &["-d", n]);
        assert_eq!(ok(&out, "sops -d as bob"), PLAIN);
    }
    assert!(r.read(".sops.yaml").contains(&format!("kms: {arn}")));

    // team remove: every file rotated, the new data key wrapped through KMS again.
    let out = run(&bin(), Some(&r.key.path), &["team", "remove", "bob"]);
    ok(&out, "team remove");
    for (n, enc) in names.iter().zip(&before) {
        let text = r.read(n);
        assert!(!text.contains(&bob.public), "{n}");
        assert_ne!(&kms_enc(&text), enc, "{n}: a new KMS wrap");
        // Opened through KMS alone (no age key), by sops and by sealed.
        for program in [&sops, &bin()] {
            let out = run(program, None, &["-d", n]);
            assert_eq!(ok(&out, "decrypt through KMS"), PLAIN);
        }
    }
}

/// The Secrets Manager destination of `sealed publish` (not wired to a command yet): the
/// library call against moto, read back with boto3.
#[test]
fn secrets_manager_destination_creates_then_updates_a_secret() {
    use sealed::keys::aws::Credentials;
    use sealed::keys::aws::secretsmanager::{Put, SecretsManager};
    let Some(moto) = Moto::start() else { return };
    let creds = || Credentials::new(ACCESS_KEY.into(), SECRET_KEY.into(), None);
    let sm = SecretsManager::new("us-east-1", &moto.url, creds());
    let doc = "{\"db\":{\"password\":\"fake-pass-1\"}}";
    assert_eq!(sm.put("app/prod", doc).unwrap(), Put::Created);
    let doc2 = doc.replace("fake-pass-1", "fake-pass-2");
    assert_eq!(sm.put("app/prod", &doc2).unwrap(), Put::Updated);
    let mut c = Command::new("python3");
    moto.env(&mut c);
    let out = c
        .args([
            "-c",
            "import boto3; print(boto3.client('secretsmanager', region_name='us-east-1').get_secret_value(SecretId='app/prod')['SecretString'])",
        ])
        .output()
        .unwrap();
    assert_eq!(ok(&out, "get-secret-value").trim_end(), doc2);
    // Down: one line naming the service and address; the value is not in it.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = SecretsManager::new("us-east-1", &format!("http://127.0.0.1:{closed}"), creds());
    let e = down.put("app/prod", doc).unwrap_err();
    assert!(
        e.starts_with(&format!(
            "AWS Secrets Manager at http://127.0.0.1:{closed}/: "
        )),
        "{e}"
    );
    assert!(!e.contains("fake-pass") && !e.contains(SECRET_KEY), "{e}");
}

#[test]
fn wrong_credentials_are_refused_in_one_line_without_showing_them() {
    // moto checks credentials after the key is made: the fake ones are unknown to its IAM.
    let Some(moto) = Moto::start_with(Some(1)) else {
        return;
    };
    let arn = moto.create_key();
    let dir = tempdir();
    let d = dir.path();
    write(d, "app.yaml", PLAIN);
    let out = moto
        .sealed(d)
        .args(["encrypt", "-i", "--kms", &arn, "app.yaml"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let e = err(&out);
    assert!(
        e.contains(&format!(
            "AWS KMS at {}/: Encrypt with key {arn} refused: HTTP 403",
            moto.url
        )),
        "{e}"
    );
    assert!(
        e.contains("InvalidClientTokenId") || e.contains("UnrecognizedClient"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
    no_leak(&out);
    assert_eq!(std::fs::read_to_string(d.join("app.yaml")).unwrap(), PLAIN);
}

/// The secret's `SecretString`, read back with boto3.
fn read_secret(moto: &Moto, id: &str) -> serde_json::Value {
    let mut c = Command::new("python3");
    moto.env(&mut c);
    let out = c
        .args([
            "-c",
            &format!(
                "import boto3; print(boto3.client('secretsmanager', region_name='us-east-1').get_secret_value(SecretId='{id}')['SecretString'])"
            ),
        ])
        .output()
        .unwrap();
    serde_json::from_str(&ok(&out, "get-secret-value")).unwrap()
}

/// `sealed publish` to AWS Secrets Manager (sealed's own `aws_secrets_manager_*`
/// destination fields): one named secret created then updated, one secret per file under a
/// prefix, the values read back with boto3; no region, and a service that is down, give one
/// line and no value.
#[test]
fn publish_to_secrets_manager_read_back_with_boto3() {
    let Some(moto) = Moto::start() else { return };
    let arn = moto.create_key();
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        ".sops.yaml",
        "destination_rules:\n  - path_regex: one\\.yaml$\n    aws_secrets_manager_secret: app/prod\n  - aws_secrets_manager_prefix: apps/\n    aws_secrets_manager_region: us-east-1\n",
    );
    for name in ["one.yaml", "two.yaml"] {
        write(d, name, PLAIN);
        let out = moto
            .sealed(d)
            .args(["encrypt", "-i", "--kms", &arn, name])
            .output()
            .unwrap();
        ok(&out, "encrypt");
    }
    let expected =
        serde_json::json!({"db": {"user": "admin", "password": "fake-pass-1"}, "port": 5432});
    let out = moto
        .sealed(d)
        .args(["publish", "-y", "one.yaml"])
        .output()
        .unwrap();
    ok(&out, "publish one.yaml");
    no_leak(&out);
    assert_eq!(read_secret(&moto, "app/prod"), expected);

    // A new value: a new version of the same secret.
    let out = moto
        .sealed(d)
        .args([
            "set",
            "one.yaml",
            "[\"db\"][\"password\"]",
            "\"fake-pass-2\"",
        ])
        .output()
        .unwrap();
    ok(&out, "set");
    let out = moto
        .sealed(d)
        .args(["publish", "--yes", "one.yaml"])
        .output()
        .unwrap();
    ok(&out, "publish again");
    assert_eq!(
        read_secret(&moto, "app/prod")["db"]["password"],
        "fake-pass-2"
    );

    // The prefix rule: the file's name (without its extension) after the prefix.
    let out = moto
        .sealed(d)
        .args(["publish", "-y", "--omit-extensions", "two.yaml"])
        .output()
        .unwrap();
    ok(&out, "publish two.yaml");
    assert_eq!(read_secret(&moto, "apps/two"), expected);

    // The question names the secret and region; "n" publishes nothing.
    let mut c = moto.sealed(d);
    let out = c
        .args(["publish", "one.yaml"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let e = err(&out);
    assert!(
        e.contains("uploading one.yaml to AWS Secrets Manager secret app/prod in us-east-1 ?"),
        "{e}"
    );
    assert!(e.contains("publication canceled"), "{e}");

    // No region anywhere: one line saying where to set it.
    let out = moto
        .sealed(d)
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .args(["publish", "-y", "one.yaml"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let e = err(&out);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains("one.yaml") && e.contains("AWS Secrets Manager: no region for app/prod"),
        "{e}"
    );

    // Secrets Manager down (KMS still up): one line naming the service and address.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = moto
        .sealed(d)
        .env(
            "AWS_ENDPOINT_URL_SECRETSMANAGER",
            format!("http://127.0.0.1:{closed}"),
        )
        .args(["publish", "-y", "one.yaml"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let e = err(&out);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains(&format!(
            "AWS Secrets Manager at http://127.0.0.1:{closed}/"
        )),
        "{e}"
    );
    no_leak(&out);
    assert!(!e.contains("fake-pass"), "{e}");
}

/// `team add ci arn:aws:kms:…` writes the key into the rule's `kms:` and wraps every file's
/// data key through KMS (sops then opens them with no age key, and reads the edited
/// `.sops.yaml`); `team remove ci` rotates them without it. In an encrypted work tree and in
/// the git filter's plaintext work tree (the index is re-wrapped, the work tree untouched).
#[test]
fn team_add_and_remove_of_a_kms_member_in_both_storage_modes() {
    let Some(moto) = Moto::start() else { return };
    let Some(sops) = peer("sops") else { return };
    let arn = moto.create_key();
    for filter in [false, true] {
        let Some(r) = common::git::GitRepo::new() else {
            return;
        };
        r.write(
            ".sops.yaml",
            &format!(
                "creation_rules:\n  - path_regex: ^secrets/\n    age: {}\n",
                r.key.public
            ),
        );
        let run = |program: &Path, key: bool, args: &[&str]| {
            let mut c = r.cmd_as(program, &r.root, false);
            moto.env(&mut c);
            c.env("HOME", &r.home);
            if key {
                c.env("SOPS_AGE_KEY_FILE", &r.key.path);
            }
            let out = c.args(args).output().unwrap();
            no_leak(&out);
            out
        };
        let names = ["secrets/a.yaml", "secrets/b.yaml", "secrets/c.yaml"];
        for n in names {
            r.write(n, PLAIN);
        }
        if filter {
            ok(&run(&bin(), true, &["git", "init"]), "sealed git init");
        } else {
            for n in names {
                ok(&run(&bin(), true, &["encrypt", "-i", n]), "encrypt -i");
            }
        }
        r.git(&["add", "-A"]);
        r.git(&["commit", "-q", "-m", "secrets"]);
        // The encrypted text: the index's blob with the filter, else the file.
        let encrypted = |n: &str| {
            if filter {
                r.git(&["show", &format!(":{n}")])
            } else {
                r.read(n)
            }
        };
        let copy = |n: &str| {
            let p = r.tmp.path().join(n.replace('/', "-"));
            std::fs::write(&p, encrypted(n)).unwrap();
            p
        };

        let out = run(&bin(), true, &["team", "add", "ci", &arn]);
        let said = ok(&out, "team add ci ARN");
        assert!(said.contains("added ci"), "{said}");
        let config = r.read(".sops.yaml");
        assert!(
            config.contains(&format!("    kms:\n      - {arn} # ci\n")),
            "{config}"
        );
        assert!(config.contains(&format!("  ci: kms:{arn}")), "{config}");
        for n in names {
            let text = encrypted(n);
            assert!(
                text.contains(&format!("arn: {arn}")),
                "{filter} {n}: {text}"
            );
            if filter {
                assert_eq!(r.read(n), PLAIN, "{n}: the work tree is untouched");
            }
            // Through KMS alone: sops and sealed, no age key.
            let p = copy(n);
            for program in [&sops, &bin()] {
                let out = run(program, false, &["-d", p.to_str().unwrap()]);
                assert_eq!(ok(&out, "decrypt through KMS"), PLAIN, "{program:?} {n}");
            }
        }
        if !filter {
            // sops reads the edited .sops.yaml: the files already have its keys.
            let out = run(&sops, true, &["updatekeys", "-y", names[0]]);
            ok(&out, "sops updatekeys");
            assert_eq!(r.read(names[0]), encrypted(names[0]));
        }
        r.git(&["commit", "-q", "-am", "ci joins"]);

        let out = run(&bin(), true, &["team", "remove", "ci"]);
        ok(&out, "team remove ci");
        let config = r.read(".sops.yaml");
        assert!(!config.contains(&arn), "{config}");
        for n in names {
            let text = encrypted(n);
            assert!(!text.contains("arn:"), "{n}: {text}");
            let p = copy(n);
            let out = run(&bin(), false, &["decrypt", p.to_str().unwrap()]);
            assert_ne!(out.status.code(), Some(0), "{n}: KMS no longer opens it");
            let out = run(&bin(), true, &["decrypt", p.to_str().unwrap()]);
            assert_eq!(ok(&out, "decrypt with age"), PLAIN);
        }
    }
}

/// `--encryption-context` applies to a rule's own `kms:` keys, as in `sops -e` (cmd/sops
/// main action, config.go getKeyGroupsFromCreationRule), and not to a key group's `kms:`
/// entries, which carry their own `context`: the same entries as sops writes, each program
/// opening the other's file.
#[test]
fn encryption_context_applies_to_a_rules_plain_kms_as_in_sops() {
    let Some(moto) = Moto::start() else { return };
    let Some(_) = peer("sops") else { return };
    let arn = moto.create_key();
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        ".sops.yaml",
        &format!(
            "creation_rules:\n  - path_regex: plain\n    kms: {arn}\n\
             \x20 - path_regex: grouped\n    key_groups:\n      - kms:\n          - arn: {arn}\n\
             \x20           context:\n              team: ops\n"
        ),
    );
    for (name, context_line) in [("plain.yaml", "app: web"), ("grouped.yaml", "team: ops")] {
        write(d, name, PLAIN);
        let args = ["encrypt", "--encryption-context", "app:web,env:prod", name];
        // `sops -e` (its `encrypt` subcommand loads the rule without the context).
        let out = moto
            .sops(d)
            .unwrap()
            .args(["-e", "--encryption-context", "app:web,env:prod", name])
            .output()
            .unwrap();
        let by_sops = ok(&out, "sops encrypt");
        let out = moto.sealed(d).args(args).output().unwrap();
        no_leak(&out);
        let by_sealed = ok(&out, "sealed encrypt");
        assert!(by_sealed.contains(context_line), "{name}: {by_sealed}");
        if name == "plain.yaml" {
            assert!(by_sealed.contains("env: prod"), "{by_sealed}");
            assert_eq!(kms_shape(&by_sealed), kms_shape(&by_sops));
        } else {
            assert!(!by_sealed.contains("app: web"), "{by_sealed}");
        }
        write(d, "by-sops.yaml", &by_sops);
        write(d, "by-sealed.yaml", &by_sealed);
        let out = moto
            .sealed(d)
            .args(["decrypt", "by-sops.yaml"])
            .output()
            .unwrap();
        assert_eq!(ok(&out, "sealed decrypt"), PLAIN, "{name}");
        let out = moto
            .sops(d)
            .unwrap()
            .args(["-d", "by-sealed.yaml"])
            .output()
            .unwrap();
        assert_eq!(ok(&out, "sops -d"), PLAIN, "{name}");
    }
}
