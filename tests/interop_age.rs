//! Interoperability with the real `age` CLI: the data key entries are ordinary age files,
//! and identities made by either tool work with the other.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{keygen_in, peer, sealed, tempdir};

fn run_ok(cmd: &mut std::process::Command, what: &str) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what}: exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn encrypt_file(public: &str, file: &Path) -> String {
    let out = sealed()
        .args(["encrypt", "--age", public])
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "sealed encrypt failed");
    String::from_utf8(out.stdout).unwrap()
}

/// The armored `enc` entries of a sealed-encrypted file, in any of the three syntaxes.
fn enc_entries(enc: &str, syntax: &str) -> Vec<String> {
    match syntax {
        "yaml" => {
            let mut out = Vec::new();
            let mut cur: Option<String> = None;
            for line in enc.lines() {
                let t = line.trim();
                if t == "-----BEGIN AGE ENCRYPTED FILE-----" {
                    cur = Some(String::new());
                }
                if let Some(c) = cur.as_mut() {
                    c.push_str(t);
                    c.push('\n');
                }
                if t == "-----END AGE ENCRYPTED FILE-----" {
                    out.extend(cur.take());
                }
            }
            out
        }
        "json" => {
            let v: serde_json::Value = serde_json::from_str(enc).unwrap();
            v["sops"]["age"]
                .as_array()
                .expect("sops.age list")
                .iter()
                .map(|e| e["enc"].as_str().unwrap().to_string())
                .collect()
        }
        _ => enc
            .lines()
            .filter_map(|l| l.split_once("__map_enc="))
            .map(|(_, v)| v.replace("\\n", "\n"))
            .collect(),
    }
}

#[test]
fn age_decrypts_each_enc_entry_to_a_32_byte_data_key() {
    let Some(age) = peer("age") else { return };
    let dir = tempdir();
    let a = keygen_in(dir.path(), "a.txt");
    let b = keygen_in(dir.path(), "b.txt");
    let both = format!("{},{}", a.public, b.public);
    for (name, syntax, src) in [
        ("s.yaml", "yaml", "a: demo-agecli-1\n"),
        ("s.json", "json", "{\"a\": \"demo-agecli-2\"}\n"),
        ("s.env", "dotenv", "A=demo-agecli-3\n"),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, src).unwrap();
        let enc = encrypt_file(&both, &file);
        let entries = enc_entries(&enc, syntax);
        assert_eq!(entries.len(), 2, "{name}: one entry per recipient");
        let mut keys = Vec::new();
        for (entry, key) in entries.iter().zip([&a, &b]) {
            let armored = dir.path().join("entry.age");
            std::fs::write(&armored, entry).unwrap();
            let data_key = run_ok(
                std::process::Command::new(&age)
                    .arg("-d")
                    .arg("-i")
                    .arg(&key.path)
                    .arg(&armored),
                "age -d",
            );
            assert_eq!(data_key.len(), 32, "{name}: the data key is 32 bytes");
            keys.push(data_key);
        }
        assert_eq!(
            keys[0], keys[1],
            "{name}: both recipients hold the same data key"
        );
    }
}

#[test]
fn age_keygen_identity_works_for_sealed() {
    let Some(age_keygen) = peer("age-keygen") else {
        return;
    };
    let dir = tempdir();
    let key = dir.path().join("age-keygen.txt");
    run_ok(
        std::process::Command::new(&age_keygen).arg("-o").arg(&key),
        "age-keygen",
    );
    let public = String::from_utf8(run_ok(
        std::process::Command::new(&age_keygen).arg("-y").arg(&key),
        "age-keygen -y",
    ))
    .unwrap();
    let src = "user: demo-agekeygen-1\n";
    let file = dir.path().join("s.yaml");
    std::fs::write(&file, src).unwrap();
    let enc = encrypt_file(public.trim(), &file);
    std::fs::write(&file, enc).unwrap();
    let out = sealed()
        .arg("decrypt")
        .arg(&file)
        .env("SOPS_AGE_KEY_FILE", &key)
        .output()
        .unwrap();
    assert!(out.status.success(), "decrypt with an age-keygen identity");
    assert_eq!(out.stdout, src.as_bytes());
}

#[test]
fn sealed_keygen_identity_works_for_age() {
    let (Some(age), Some(age_keygen)) = (peer("age"), peer("age-keygen")) else {
        return;
    };
    let dir = tempdir();
    let key = keygen_in(dir.path(), "sealed.txt");
    let public = run_ok(
        std::process::Command::new(&age_keygen)
            .arg("-y")
            .arg(&key.path),
        "age-keygen -y",
    );
    assert_eq!(String::from_utf8(public).unwrap().trim(), key.public);
    let plain = dir.path().join("msg.txt");
    std::fs::write(&plain, "demo-agemsg-1").unwrap();
    let encrypted = dir.path().join("msg.age");
    run_ok(
        std::process::Command::new(&age)
            .args(["-e", "-r", &key.public, "-o"])
            .arg(&encrypted)
            .arg(&plain),
        "age -e",
    );
    let out = run_ok(
        std::process::Command::new(&age)
            .arg("-d")
            .arg("-i")
            .arg(&key.path)
            .arg(&encrypted),
        "age -d",
    );
    assert_eq!(out, b"demo-agemsg-1");
}

/// A passphrase-protected identity file, made with the age library (`age -p` needs a
/// terminal). Returns (file, public key).
fn passphrase_identity(dir: &Path, armored: bool) -> (std::path::PathBuf, String) {
    use age::secrecy::{ExposeSecret, SecretString};
    use std::io::Write;
    let identity = age::x25519::Identity::generate();
    let public = identity.to_public().to_string();
    let text = format!("# demo key\n{}\n", identity.to_string().expose_secret());
    let mut recipient =
        age::scrypt::Recipient::new(SecretString::from("demo-passphrase-1".to_owned()));
    recipient.set_work_factor(10);
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .unwrap();
    let format = if armored {
        age::armor::Format::AsciiArmor
    } else {
        age::armor::Format::Binary
    };
    let mut out = Vec::new();
    {
        let armor = age::armor::ArmoredWriter::wrap_output(&mut out, format).unwrap();
        let mut w = encryptor.wrap_output(armor).unwrap();
        w.write_all(text.as_bytes()).unwrap();
        w.finish().and_then(|armor| armor.finish()).unwrap();
    }
    let path = dir.join(if armored {
        "protected.age.txt"
    } else {
        "protected.age"
    });
    common::write_private(&path, &out);
    (path, public)
}

/// Runs sealed decrypt in a new session (`setsid`), so it has no controlling terminal even
/// when the tests run from one.
fn decrypt_without_terminal(key_file: &Path, file: &Path) -> Option<std::process::Output> {
    let setsid = peer("setsid")?;
    let out = std::process::Command::new(setsid)
        .arg("--wait")
        .arg(common::bin())
        .arg("decrypt")
        .arg(file)
        .env_clear()
        .env("PATH", common::path_var())
        .env("HOME", common::empty_home())
        .env("SOPS_AGE_KEY_FILE", key_file)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    Some(out)
}

fn encrypted_for(dir: &Path, public: &str) -> std::path::PathBuf {
    let file = dir.join("s.yaml");
    std::fs::write(&file, "a: demo-protected-1\n").unwrap();
    let enc = encrypt_file(public, &file);
    std::fs::write(&file, enc).unwrap();
    file
}

#[test]
fn passphrase_protected_identity_without_terminal_is_a_clean_error() {
    let dir = tempdir();
    for armored in [true, false] {
        let (key_file, public) = passphrase_identity(dir.path(), armored);
        let file = encrypted_for(dir.path(), &public);
        let Some(out) = decrypt_without_terminal(&key_file, &file) else {
            return;
        };
        let code = out.status.code();
        assert!(!matches!(code, Some(0) | Some(101) | None), "exit {code:?}");
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.matches('\n').count(), 1, "one line: {stderr}");
        assert!(stderr.contains(&key_file.display().to_string()), "{stderr}");
        assert!(stderr.contains("passphrase"), "{stderr}");
    }
}

#[test]
fn passphrase_protected_identity_without_terminal_says_why() {
    let dir = tempdir();
    let (key_file, public) = passphrase_identity(dir.path(), true);
    let file = encrypted_for(dir.path(), &public);
    let Some(out) = decrypt_without_terminal(&key_file, &file) else {
        return;
    };
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("terminal"), "{stderr}");
}

/// Runs `cmd` on a pseudo-terminal made by `script`, typing `input` on it.
fn on_terminal(cmd: &str, input: &str) -> Option<std::process::Output> {
    let script = peer("script")?;
    let out = assert_cmd::Command::new(script)
        .args(["--quiet", "--return", "--command", cmd, "/dev/null"])
        .env_clear()
        .env("PATH", common::path_var())
        .env("HOME", common::empty_home())
        .env("TERM", "dumb")
        .write_stdin(input.to_owned())
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    Some(out)
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

#[test]
fn passphrase_protected_identity_from_age_p_is_unlocked_on_the_terminal() {
    let (Some(age), Some(_)) = (peer("age"), peer("script")) else {
        return;
    };
    let dir = tempdir();
    let key = keygen_in(dir.path(), "plain-key.txt");
    let protected = dir.path().join("protected.age");
    // `age -p` reads the passphrase (twice) from the terminal.
    let out = on_terminal(
        &format!(
            "{} -p -a -o {} {}",
            quote(&age),
            quote(&protected),
            quote(&key.path)
        ),
        "demo-passphrase-2\ndemo-passphrase-2\n",
    )
    .unwrap();
    assert!(out.status.success(), "age -p on a terminal failed");
    let head = std::fs::read_to_string(&protected).unwrap();
    assert!(head.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));

    let file = encrypted_for(dir.path(), &key.public);
    let result = dir.path().join("plain.yaml");
    let cmd = format!(
        "SOPS_AGE_KEY_FILE={} {} decrypt -o {} {}",
        quote(&protected),
        quote(&common::bin()),
        quote(&result),
        quote(&file)
    );
    let out = on_terminal(&cmd, "demo-passphrase-2\n").unwrap();
    assert!(
        out.status.success(),
        "decrypt with the passphrase typed on the terminal failed"
    );
    assert_eq!(
        std::fs::read_to_string(&result).unwrap(),
        "a: demo-protected-1\n"
    );
}

#[test]
fn wrong_passphrase_typed_on_the_terminal_fails_cleanly() {
    if peer("script").is_none() {
        return;
    }
    let dir = tempdir();
    // A cheap scrypt work factor keeps the three attempts fast in debug builds.
    let (protected, public) = passphrase_identity(dir.path(), true);
    let file = encrypted_for(dir.path(), &public);
    let cmd = |out: &Path| {
        format!(
            "SOPS_AGE_KEY_FILE={} {} decrypt -o {} {}",
            quote(&protected),
            quote(&common::bin()),
            quote(out),
            quote(&file)
        )
    };
    let never = dir.path().join("never.yaml");
    let out = on_terminal(&cmd(&never), "wrong-1\nwrong-2\nwrong-3\n").unwrap();
    assert!(!out.status.success(), "a wrong passphrase must fail");
    assert!(!never.exists(), "no output on failure");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(screen.contains("wrong passphrase"), "the terminal says why");
    // The right one works.
    let good = dir.path().join("good.yaml");
    let out = on_terminal(&cmd(&good), "demo-passphrase-1\n").unwrap();
    assert!(
        out.status.success(),
        "the right passphrase unlocks the identity"
    );
    assert_eq!(
        std::fs::read_to_string(&good).unwrap(),
        "a: demo-protected-1\n"
    );
}
