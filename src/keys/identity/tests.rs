use super::*;
use crate::keys::{Recipient, wrap_data_key};
use age::secrecy::ExposeSecret;
use std::collections::HashMap;
use std::io::Write;

fn fixtures() -> Option<PathBuf> {
    crate::testutil::sops_fixtures()
}

/// A new identity: (secret line, recipient).
fn new_identity() -> (String, Recipient) {
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    (
        id.to_string().expose_secret().to_owned(),
        Recipient::parse(&public).unwrap(),
    )
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

fn write_private(path: &Path, content: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// The armored text of every `enc: |` block of a sops YAML file.
fn yaml_enc_blocks(yaml: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut lines = yaml.lines();
    while let Some(line) = lines.next() {
        if line.trim_end().ends_with("enc: |") {
            let mut block = String::new();
            for l in lines.by_ref() {
                block.push_str(l.trim());
                block.push('\n');
                if l.trim() == "-----END AGE ENCRYPTED FILE-----" {
                    break;
                }
            }
            blocks.push(block);
        }
    }
    blocks
}

fn no_tty(_: &str) -> Result<Zeroizing<String>, String> {
    Err("there is no terminal to ask for the passphrase on".to_owned())
}

fn never_asked(p: &str) -> Result<Zeroizing<String>, String> {
    panic!("unexpected passphrase prompt: {p}")
}

fn passphrase_file(identities: &str, passphrase: &str, armor: bool) -> Vec<u8> {
    use age::armor::{ArmoredWriter, Format};
    // A low scrypt work factor keeps the tests fast (the default takes ~1 s per try).
    let mut recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
    recipient.set_work_factor(10);
    let enc = age::Encryptor::with_recipients(std::iter::once(&recipient as _)).unwrap();
    let format = if armor {
        Format::AsciiArmor
    } else {
        Format::Binary
    };
    let aw = ArmoredWriter::wrap_output(Vec::new(), format).unwrap();
    let mut w = enc.wrap_output(aw).unwrap();
    w.write_all(identities.as_bytes()).unwrap();
    w.finish().unwrap().finish().unwrap()
}

#[test]
fn unwraps_real_sops_enc_entries() {
    let Some(dir) = fixtures() else { return };
    let keys = std::fs::read_to_string(dir.join("keys.txt")).unwrap();
    let ids = IdentitySet::from_keys_text(&keys, "keys.txt").unwrap();
    assert!(!ids.is_empty());
    let yaml = std::fs::read_to_string(dir.join("secrets.enc.yaml")).unwrap();
    let blocks = yaml_enc_blocks(&yaml);
    assert!(blocks.len() >= 2, "expected two recipients in the fixture");
    let first = ids.unwrap(&blocks[0]).unwrap();
    assert_eq!(first.len(), 32);
    for b in &blocks[1..] {
        assert_eq!(
            ids.unwrap(b).unwrap(),
            first,
            "all entries hold the same key"
        );
    }
    // Indented like in the YAML block, too.
    let indented: String = blocks[0].lines().map(|l| format!("    {l}\n")).collect();
    assert_eq!(ids.unwrap(&indented).unwrap(), first);
}

#[test]
fn unwraps_real_sops_ssh_recipient_entry() {
    let Some(dir) = fixtures() else { return };
    let env_file = std::fs::read_to_string(dir.join("secrets.ssh-recipient.enc.env")).unwrap();
    let enc = env_file
        .lines()
        .find_map(|l| l.strip_prefix("sops_age__list_0__map_enc="))
        .expect("enc line")
        .replace("\\n", "\n");
    let key_path = dir.join("ssh_ed25519_test_key").display().to_string();
    let env = env_of(&[("SOPS_AGE_SSH_PRIVATE_KEY_FILE", &key_path)]);
    let home = tempfile::tempdir().unwrap();
    let ids = IdentitySet::discover_with(&env, Some(home.path().into())).unwrap();
    assert_eq!(ids.unwrap(&enc).unwrap().len(), 32);
}

#[test]
fn nothing_found_lists_every_place() {
    let home = tempfile::tempdir().unwrap();
    let env = env_of(&[]);
    let ids = IdentitySet::discover_with(&env, Some(home.path().into())).unwrap();
    assert!(ids.is_empty());
    assert_eq!(
        ids.searched(),
        [
            "SOPS_AGE_KEY (not set)",
            "SOPS_AGE_KEY_FILE (not set)",
            "SOPS_AGE_KEY_CMD (not set)",
            "SOPS_AGE_SSH_PRIVATE_KEY_FILE (not set)",
            "SOPS_AGE_SSH_PRIVATE_KEY_CMD (not set)",
            "~/.config/sops/age/keys.txt (not found)",
            "~/.ssh/id_ed25519 (not found)",
            "~/.ssh/id_rsa (not found)",
        ]
    );
    let (_, r) = new_identity();
    let enc = wrap_data_key(&[0; 32], &r).unwrap();
    assert!(matches!(
        ids.unwrap(&enc),
        Err(KeyError::NoMatchingIdentity)
    ));

    let missing = home.path().join("nope.txt").display().to_string();
    let env = env_of(&[
        ("SOPS_AGE_KEY_FILE", &missing),
        ("XDG_CONFIG_HOME", "/nonexistent-xdg"),
    ]);
    let ids = IdentitySet::discover_with(&env, Some(home.path().into())).unwrap();
    assert_eq!(
        ids.searched()[1],
        format!("SOPS_AGE_KEY_FILE={missing} (not found)")
    );
    assert_eq!(
        ids.searched()[5],
        "/nonexistent-xdg/sops/age/keys.txt (not found)"
    );
}

#[test]
fn discovery_combines_all_sources_in_order() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let (k_env, r_env) = new_identity();
    let (k_file, r_file) = new_identity();
    let (k_cmd, r_cmd) = new_identity();
    let (k_default, r_default) = new_identity();

    let key_file = h.join("elsewhere/keys.txt");
    write_private(&key_file, format!("# a comment\n\n{k_file}\n").as_bytes());
    let cmd_out = h.join("cmd-out.txt");
    write_private(&cmd_out, format!("{k_cmd}\n").as_bytes());
    write_private(
        &h.join(".config/sops/age/keys.txt"),
        format!("# created: x\n{k_default}\n").as_bytes(),
    );
    let mut ssh_recipient = None;
    if let Some(dir) = fixtures() {
        let key = std::fs::read(dir.join("ssh_ed25519_test_key")).unwrap();
        write_private(&h.join(".ssh/id_ed25519"), &key);
        let public = std::fs::read_to_string(dir.join("ssh_ed25519_test_key.pub")).unwrap();
        ssh_recipient = Some(Recipient::parse(&public).unwrap());
    }

    let sops_age_key = format!("  # two keys, indented\n  {k_env}\n\n");
    let key_file_s = key_file.display().to_string();
    let cmd = format!("cat '{}'", cmd_out.display());
    let env = env_of(&[
        ("SOPS_AGE_KEY", &sops_age_key),
        ("SOPS_AGE_KEY_FILE", &key_file_s),
        ("SOPS_AGE_KEY_CMD", &cmd),
    ]);
    let ids = IdentitySet::discover_with(&env, Some(h.into()))
        .unwrap()
        .with_prompter(never_asked);
    let searched = ids.searched();
    assert_eq!(searched[0], "SOPS_AGE_KEY (1 identity)");
    assert_eq!(
        searched[1],
        format!("SOPS_AGE_KEY_FILE={key_file_s} (1 identity)")
    );
    assert_eq!(searched[2], "SOPS_AGE_KEY_CMD (run when an entry needs it)");
    assert_eq!(searched[3], "SOPS_AGE_SSH_PRIVATE_KEY_FILE (not set)");
    assert_eq!(searched[4], "SOPS_AGE_SSH_PRIVATE_KEY_CMD (not set)");
    assert_eq!(searched[5], "~/.config/sops/age/keys.txt (1 identity)");
    if ssh_recipient.is_some() {
        assert_eq!(searched[6], "~/.ssh/id_ed25519 (1 identity)");
    }
    assert_eq!(searched[7], "~/.ssh/id_rsa (not found)");
    assert_eq!(searched.len(), 8);
    assert!(ids.warnings.is_empty(), "{:?}", ids.warnings);

    for (i, r) in [r_env, r_file, r_cmd, r_default]
        .iter()
        .chain(ssh_recipient.iter())
        .enumerate()
    {
        let key = [i as u8; 32];
        let enc = wrap_data_key(&key, r).unwrap();
        assert_eq!(&ids.unwrap(&enc).unwrap()[..], &key, "source {i}");
    }

    // XDG_CONFIG_HOME moves the default file.
    let xdg = h.join("xdg");
    let (k_xdg, r_xdg) = new_identity();
    write_private(
        &xdg.join("sops/age/keys.txt"),
        format!("{k_xdg}\n").as_bytes(),
    );
    let xdg_s = xdg.display().to_string();
    let env = env_of(&[("XDG_CONFIG_HOME", &xdg_s)]);
    let ids = IdentitySet::discover_with(&env, Some(h.into())).unwrap();
    assert_eq!(ids.searched()[5], "~/xdg/sops/age/keys.txt (1 identity)");
    let enc = wrap_data_key(&[9; 32], &r_xdg).unwrap();
    assert_eq!(&ids.unwrap(&enc).unwrap()[..], &[9; 32]);
}

#[test]
fn broken_sources_are_errors_naming_them_without_key_material() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let (k, _) = new_identity();
    let broken = format!("{k}\n{}\n", &k[..40]);

    let env = env_of(&[("SOPS_AGE_KEY", &broken)]);
    let err = IdentitySet::discover_with(&env, Some(h.into())).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("SOPS_AGE_KEY: "), "{msg}");
    assert!(msg.contains("line 2"), "{msg}");
    assert!(!msg.contains(&k[16..30]), "key material in {msg}");
    assert!(!format!("{err:?}").contains(&k[16..30]));

    let path = h.join("bad.txt");
    write_private(&path, broken.as_bytes());
    let path_s = path.display().to_string();
    let env = env_of(&[("SOPS_AGE_KEY_FILE", &path_s)]);
    let err = IdentitySet::discover_with(&env, Some(h.into())).unwrap_err();
    assert!(
        matches!(&err, KeyError::BadIdentity { source_name, .. } if *source_name == path_s),
        "{err}"
    );

    // A failing command is found out when an entry needs it.
    let env = env_of(&[("SOPS_AGE_KEY_CMD", "echo oops >&2; exit 3")]);
    let ids = IdentitySet::discover_with(&env, Some(h.into())).unwrap();
    let (_, r) = new_identity();
    let enc = wrap_data_key(&[1; 32], &r).unwrap();
    let err = ids.unwrap(&enc).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("SOPS_AGE_KEY_CMD: the command failed"),
        "{err}"
    );

    write_private(&h.join(".config/sops/age/keys.txt"), b"not a key\n");
    let err = IdentitySet::discover_with(&env_of(&[]), Some(h.into())).unwrap_err();
    assert!(
        err.to_string().starts_with("~/.config/sops/age/keys.txt: "),
        "{err}"
    );
    std::fs::remove_file(h.join(".config/sops/age/keys.txt")).unwrap();

    // An ssh key given as a keys file gets a hint.
    if let Some(dir) = fixtures() {
        let p = dir.join("ssh_ed25519_test_key").display().to_string();
        let err = IdentitySet::discover_with(&env_of(&[("SOPS_AGE_KEY_FILE", &p)]), Some(h.into()))
            .unwrap_err();
        assert!(
            err.to_string().contains("SOPS_AGE_SSH_PRIVATE_KEY_FILE"),
            "{err}"
        );
    }

    // Garbage at the default ssh location is an error too; at an explicit one as well.
    write_private(&h.join(".ssh/id_rsa"), b"garbage\n");
    let err = IdentitySet::discover_with(&env_of(&[]), Some(h.into())).unwrap_err();
    assert!(err.to_string().starts_with("~/.ssh/id_rsa: "), "{err}");
}

#[test]
fn group_readable_identity_file_warns_once() {
    let home = tempfile::tempdir().unwrap();
    let (k, _) = new_identity();
    let path = home.path().join(".config/sops/age/keys.txt");
    write_private(&path, format!("{k}\n").as_bytes());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let ids = IdentitySet::discover_with(&env_of(&[]), Some(home.path().into())).unwrap();
    assert_eq!(
        ids.warnings,
        [
            "sealed: warning: identity file ~/.config/sops/age/keys.txt is readable by others \
          (mode 0644); chmod 600 it"
        ]
    );
}

#[test]
fn passphrase_protected_identity_file_is_detected_and_unlocked_lazily() {
    for armor in [true, false] {
        let home = tempfile::tempdir().unwrap();
        let (k_locked, r_locked) = new_identity();
        let (k_plain, r_plain) = new_identity();
        let path = home.path().join("locked.age");
        write_private(
            &path,
            &passphrase_file(&format!("# c\n{k_locked}\n"), "hunter2", armor),
        );
        let path_s = path.display().to_string();
        let env = env_of(&[("SOPS_AGE_KEY_FILE", &path_s), ("SOPS_AGE_KEY", &k_plain)]);
        let discover = || IdentitySet::discover_with(&env, Some(home.path().into())).unwrap();

        let ids = discover();
        assert_eq!(
            ids.searched()[1],
            format!("SOPS_AGE_KEY_FILE={path_s} (passphrase-protected)")
        );
        assert!(!ids.is_empty());

        // A plain identity that fits: no prompt at all.
        let plain_enc = wrap_data_key(&[1; 32], &r_plain).unwrap();
        let ids = ids.with_prompter(never_asked);
        assert_eq!(&ids.unwrap(&plain_enc).unwrap()[..], &[1; 32]);

        // No terminal: a clear error naming the file.
        let locked_enc = wrap_data_key(&[2; 32], &r_locked).unwrap();
        let ids = discover().with_prompter(no_tty);
        let err = ids.unwrap(&locked_enc).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(&err, KeyError::BadIdentity { source_name, .. } if *source_name == path_s),
            "{msg}"
        );
        assert!(
            msg.contains("passphrase-protected") && msg.contains("terminal"),
            "{msg}"
        );

        // With the passphrase: asked once, then cached.
        let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = asked.clone();
        let expected_prompt = format!("Passphrase for {path_s}: ");
        let ids = discover().with_prompter(move |p| {
            assert_eq!(p, expected_prompt);
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(Zeroizing::new("hunter2".to_owned()))
        });
        assert_eq!(&ids.unwrap(&locked_enc).unwrap()[..], &[2; 32]);
        assert_eq!(&ids.unwrap(&locked_enc).unwrap()[..], &[2; 32]);
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);

        // Wrong passphrase: gives up after the attempts, and does not ask again.
        let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = asked.clone();
        let ids = discover().with_prompter(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(Zeroizing::new("wrong".to_owned()))
        });
        let err = ids.unwrap(&locked_enc).unwrap_err();
        assert!(err.to_string().contains("wrong passphrase"), "{err}");
        assert!(ids.unwrap(&locked_enc).is_err());
        assert_eq!(
            asked.load(std::sync::atomic::Ordering::SeqCst),
            PASSPHRASE_ATTEMPTS
        );
    }
}

#[test]
fn real_tty_prompt_fails_cleanly_without_a_terminal() {
    // Only meaningful where there is no controlling terminal (CI, agents).
    if std::fs::File::open("/dev/tty").is_ok() {
        eprintln!("skipping: a terminal is available");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let (k, r) = new_identity();
    let text = String::from_utf8(passphrase_file(&k, "pw", true)).unwrap();
    let ids = IdentitySet::from_keys_text(&text, "locked").unwrap();
    let err = ids
        .unwrap(&wrap_data_key(&[3; 32], &r).unwrap())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "locked: passphrase-protected, and there is no terminal to ask for the passphrase on"
    );
    drop(home);
}

#[test]
fn age_file_not_encrypted_to_a_passphrase_is_refused() {
    let (_, r) = new_identity();
    let enc = wrap_data_key(&[0; 32], &r).unwrap();
    let err = IdentitySet::from_keys_text(&enc, "SOPS_AGE_KEY").unwrap_err();
    assert!(
        err.to_string().contains("not passphrase-protected"),
        "{err}"
    );
}

#[test]
fn encrypted_ssh_key_prompts_only_for_its_own_entries() {
    let home = tempfile::tempdir().unwrap();
    let key = home.path().join(".ssh/id_ed25519");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "sshpass", "-C", "t", "-f"])
        .arg(&key)
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        eprintln!("skipping: ssh-keygen is not available");
        return;
    }
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let r_ssh = Recipient::parse(&public).unwrap();
    let (_, r_other) = new_identity();
    let env = env_of(&[]);
    let ids = IdentitySet::discover_with(&env, Some(home.path().into())).unwrap();
    assert_eq!(
        ids.searched()[6],
        "~/.ssh/id_ed25519 (passphrase-protected ssh key)"
    );

    // An entry for someone else: the ssh key cannot be it, so no prompt.
    let ids = ids.with_prompter(never_asked);
    let other = wrap_data_key(&[4; 32], &r_other).unwrap();
    assert!(matches!(
        ids.unwrap(&other),
        Err(KeyError::NoMatchingIdentity)
    ));

    let mine = wrap_data_key(&[5; 32], &r_ssh).unwrap();
    let ids = IdentitySet::discover_with(&env, Some(home.path().into()))
        .unwrap()
        .with_prompter(|_| Ok(Zeroizing::new("sshpass".to_owned())));
    assert_eq!(&ids.unwrap(&mine).unwrap()[..], &[5; 32]);
}

#[test]
fn rsa_ssh_key_roundtrip() {
    let home = tempfile::tempdir().unwrap();
    let key = home.path().join(".ssh/id_rsa");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "2048", "-N", "", "-C", "t", "-f"])
        .arg(&key)
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        eprintln!("skipping: ssh-keygen is not available");
        return;
    }
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let r = Recipient::parse(&public).unwrap();
    let ids = IdentitySet::discover_with(&env_of(&[]), Some(home.path().into())).unwrap();
    assert_eq!(ids.searched()[7], "~/.ssh/id_rsa (1 identity)");
    let enc = wrap_data_key(&[6; 33], &r).unwrap();
    assert_eq!(&ids.unwrap(&enc).unwrap()[..], &[6; 33]);
}

#[test]
fn malformed_entries_are_reported_as_such() {
    let (k, r) = new_identity();
    let ids = IdentitySet::from_keys_text(&k, "t").unwrap();
    let err = ids.unwrap("not armor at all").unwrap_err();
    assert!(matches!(err, KeyError::BadWrappedKey(_)), "{err}");
    // Tampered body.
    let enc = wrap_data_key(&[0; 32], &r).unwrap();
    let mut lines: Vec<String> = enc.lines().map(str::to_owned).collect();
    let last_b64 = lines.len() - 2;
    let l = &mut lines[last_b64];
    let c = if l.starts_with('A') { "B" } else { "A" };
    l.replace_range(0..1, c);
    let tampered = lines.join("\n") + "\n";
    assert!(ids.unwrap(&tampered).is_err());
    // Empty set still reports a malformed entry.
    let empty =
        IdentitySet::discover_with(&env_of(&[]), Some(PathBuf::from("/nonexistent"))).unwrap();
    assert!(matches!(
        empty.unwrap("garbage"),
        Err(KeyError::BadWrappedKey(_))
    ));
}

#[test]
fn debug_output_has_no_key_material() {
    let (k, _) = new_identity();
    let ids = IdentitySet::from_keys_text(&k, "SOPS_AGE_KEY").unwrap();
    let dbg = format!("{ids:?}");
    assert!(!dbg.contains("AGE-SECRET-KEY"), "{dbg}");
    assert!(dbg.contains("identities: 1"), "{dbg}");
}

#[test]
fn empty_and_comment_only_sources() {
    let ids = IdentitySet::from_keys_text("# nothing\n\n", "SOPS_AGE_KEY").unwrap();
    assert!(ids.is_empty());
    assert_eq!(ids.searched(), ["SOPS_AGE_KEY (0 identities)"]);
    let err = IdentitySet::from_keys_text("AGE-PLUGIN-YUBIKEY-1QQQ", "x").unwrap_err();
    assert!(err.to_string().contains("plugin"), "{err}");
    assert!(!err.to_string().contains("1QQQ"));
}

#[test]
fn identity_set_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<IdentitySet>();
}

/// An armored age file of `key` for `ours` and `others` more X25519 recipients (a header
/// of ~100 bytes per recipient, MAC valid).
fn many_recipients_file(key: &[u8], ours: &age::x25519::Recipient, others: usize) -> String {
    use age::armor::{ArmoredWriter, Format};
    let mut recipients: Vec<age::x25519::Recipient> = (0..others)
        .map(|_| age::x25519::Identity::generate().to_public())
        .collect();
    recipients.push(ours.clone());
    let enc = age::Encryptor::with_recipients(recipients.iter().map(|r| r as _)).unwrap();
    let aw = ArmoredWriter::wrap_output(Vec::new(), Format::AsciiArmor).unwrap();
    let mut w = enc.wrap_output(aw).unwrap();
    w.write_all(key).unwrap();
    String::from_utf8(w.finish().unwrap().finish().unwrap()).unwrap()
}

#[test]
fn a_long_valid_header_unwraps_and_a_longer_one_is_refused() {
    let id = age::x25519::Identity::generate();
    let ids = IdentitySet::from_keys_text(id.to_string().expose_secret(), "keys").unwrap();
    // ~400 stanzas: a 54 KB entry, under the cap. Quadratic parsing made this ~0.5 s in a
    // debug build; parsed once it is a few milliseconds (plus one X25519 per stanza).
    let long = many_recipients_file(&[7; 32], &id.to_public(), 400);
    assert!(long.len() > 48 * 1024 && long.len() <= crate::keys::MAX_ENC_LEN);
    let start = std::time::Instant::now();
    assert_eq!(&ids.unwrap(&long).unwrap()[..], &[7; 32]);
    eprintln!(
        "unwrapped a {} byte entry in {:?}",
        long.len(),
        start.elapsed()
    );
    // Over the cap: refused before age sees it.
    let longer = many_recipients_file(&[7; 32], &id.to_public(), 600);
    assert!(longer.len() > crate::keys::MAX_ENC_LEN);
    let err = ids.unwrap(&longer).unwrap_err();
    assert!(matches!(err, KeyError::BadWrappedKey(_)), "{err}");
    assert!(err.to_string().contains("64 KiB"), "{err}");
}

#[test]
fn whole_header_hands_over_the_header_in_one_read() {
    use std::io::BufRead;
    let file = b"age-encryption.org/v1\n-> X25519 abc\nbody\n--- mac\n\x00payload\nmore";
    let mut r = WholeHeader(file);
    let mut buf = Vec::new();
    let n = r.read_until(b'\n', &mut buf).unwrap();
    assert_eq!(&buf[..], &file[..n]);
    assert!(buf.ends_with(b"--- mac\n"));
    // After the header: line by line, then the rest.
    buf.clear();
    r.read_until(b'\n', &mut buf).unwrap();
    assert_eq!(&buf[..], b"\x00payload\n");
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert_eq!(&rest[..], b"more");
    // No header end: one line at a time, like any reader.
    let mut r = WholeHeader(b"age-encryption.org/v1\n-> X25519 abc\n");
    buf.clear();
    r.read_until(b'\n', &mut buf).unwrap();
    assert_eq!(&buf[..], b"age-encryption.org/v1\n");
}

#[test]
fn passphrase_protected_identity_file_may_hold_pq_identities() {
    use crate::keys::Recipient;
    let pq = crate::keys::pq::Identity::generate();
    let pq_secret = age::secrecy::ExposeSecret::expose_secret(&pq.to_string()).to_owned();
    let (k_x, _) = new_identity();
    let locked = passphrase_file(&format!("{k_x}\n{pq_secret}\n"), "hunter2", true);
    let text = String::from_utf8(locked).unwrap();
    let enc = wrap_data_key(
        &[5; 32],
        &Recipient::parse(&pq.to_public().to_string()).unwrap(),
    )
    .unwrap();
    // An entry with only an mlkem768x25519 stanza may be for the locked file: it is
    // unlocked, and its PQ identity opens the entry.
    let ids = IdentitySet::from_keys_text(&text, "locked.age")
        .unwrap()
        .with_prompter(|_| Ok(Zeroizing::new("hunter2".to_owned())));
    assert_eq!(&ids.unwrap(&enc).unwrap()[..], &[5; 32]);
}
