//! Post-quantum keys against the C2SP CCTV age test vectors (`../shared/age-test-vectors`),
//! and round trips through sealed's own wrap/unwrap.

use super::*;
use crate::keys::{IdentitySet, Recipient as SealedRecipient, wrap_data_key};
use age::armor::ArmoredReader;
use sha2::Digest;
use std::io::Read;
use std::path::Path;

/// The identity every `hybrid_*` vector uses.
const VECTOR_PQ_IDENTITY: &str =
    "AGE-SECRET-KEY-PQ-1HZLGZUPT4ETPKDEV8HSGFDCYZ4E522W0A7PU2LHT8EH9W6YLNC3SW78XKG";

/// What decrypting a vector gave, in the vocabulary of the vectors' `expect` key.
#[derive(Debug, PartialEq)]
enum Outcome {
    Success,
    NoMatch,
    HmacFailure,
    HeaderFailure,
    PayloadFailure,
    ArmorFailure,
}

struct Vector {
    expect: String,
    payload: Option<String>,
    identities: Vec<String>,
    passphrases: Vec<String>,
    armored: bool,
    compressed: bool,
    body: Vec<u8>,
}

fn read_vector(path: &Path) -> Vector {
    let data = std::fs::read(path).unwrap();
    let split = data.windows(2).position(|w| w == b"\n\n").unwrap();
    let head = std::str::from_utf8(&data[..split]).unwrap();
    let mut v = Vector {
        expect: String::new(),
        payload: None,
        identities: Vec::new(),
        passphrases: Vec::new(),
        armored: false,
        compressed: false,
        body: data[split + 2..].to_vec(),
    };
    for line in head.lines() {
        let (k, val) = line.split_once(": ").unwrap();
        match k {
            "expect" => v.expect = val.to_owned(),
            "payload" => v.payload = Some(val.to_owned()),
            "identity" => v.identities.push(val.to_owned()),
            "passphrase" => v.passphrases.push(val.to_owned()),
            "armored" => v.armored = val == "yes",
            "compressed" => v.compressed = val == "zlib",
            _ => {}
        }
    }
    v
}

/// zlib-inflates through python3 (sealed has no zlib crate); `None` when python3 is absent.
fn inflate(data: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import sys,zlib; sys.stdout.buffer.write(zlib.decompress(sys.stdin.buffer.read()))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3 zlib failed");
    Some(out.stdout)
}

fn identities(v: &Vector) -> Vec<Box<dyn age::Identity>> {
    let mut ids: Vec<Box<dyn age::Identity>> = Vec::new();
    for s in &v.identities {
        if s.starts_with(IDENTITY_PREFIX) {
            ids.push(Box::new(s.parse::<Identity>().unwrap()));
        } else {
            ids.push(Box::new(s.parse::<age::x25519::Identity>().unwrap()));
        }
    }
    for p in &v.passphrases {
        let mut id = age::scrypt::Identity::new(age::secrecy::SecretString::from(p.clone()));
        id.set_max_work_factor(22);
        ids.push(Box::new(id));
    }
    ids
}

/// Decrypts as an application would (age's Decryptor, armor when the vector says so);
/// returns the outcome and the SHA-256 of all plaintext released.
fn decrypt(v: &Vector, body: &[u8]) -> (Outcome, String) {
    let empty = hex(&sha2::Sha256::digest(b""));
    let mut input = Vec::new();
    if v.armored {
        // Whitespace around an armored file is allowed; the age crate's reader does not
        // skip it (sealed trims `enc` entries before dearmoring them, as sops does).
        if ArmoredReader::new(body.trim_ascii())
            .read_to_end(&mut input)
            .is_err()
        {
            return (Outcome::ArmorFailure, empty);
        }
    } else {
        input = body.to_vec();
    }
    let decryptor = match age::Decryptor::new_buffered(&input[..]) {
        Ok(d) => d,
        Err(_) => return (Outcome::HeaderFailure, empty),
    };
    let ids = identities(v);
    let mut reader = match decryptor.decrypt(ids.iter().map(|i| i.as_ref())) {
        Ok(r) => r,
        Err(age::DecryptError::NoMatchingKeys) => return (Outcome::NoMatch, empty),
        Err(age::DecryptError::InvalidMac) => return (Outcome::HmacFailure, empty),
        Err(_) => return (Outcome::HeaderFailure, empty),
    };
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return (Outcome::Success, hex(&sha2::Sha256::digest(&out))),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (Outcome::PayloadFailure, hex(&sha2::Sha256::digest(&out))),
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn expected(v: &Vector) -> Outcome {
    match v.expect.as_str() {
        "success" => Outcome::Success,
        "no match" => Outcome::NoMatch,
        "HMAC failure" => Outcome::HmacFailure,
        "header failure" => Outcome::HeaderFailure,
        "payload failure" => Outcome::PayloadFailure,
        "armor failure" => Outcome::ArmorFailure,
        other => panic!("unknown expect {other:?}"),
    }
}

/// Every `hybrid_*` vector and the X25519 and armor ones (the parts of age that sealed's
/// `enc` entries go through), successes and failures, with the payload hash checked.
#[test]
fn cctv_age_vectors() {
    let Some(dir) = crate::testutil::shared("age-test-vectors/testdata") else {
        return;
    };
    let mut checked = 0;
    let mut hybrid = 0;
    for path in crate::testutil::files_below(&dir) {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !(name.starts_with("hybrid") || name.starts_with("x25519") || name.starts_with("armor"))
        {
            continue;
        }
        let v = read_vector(&path);
        let body = if v.compressed {
            match inflate(&v.body) {
                Some(b) => b,
                None => {
                    eprintln!("skipping {name}: python3 (for zlib) is not on PATH");
                    continue;
                }
            }
        } else {
            v.body.clone()
        };
        let (got, hash) = decrypt(&v, &body);
        let want = expected(&v);
        // The age crate reports some armor errors only when the header is read: the
        // vectors allow aliasing failures an API cannot tell apart.
        let aliased = want == Outcome::ArmorFailure && got == Outcome::HeaderFailure;
        assert!(
            got == want || aliased,
            "{name}: expected {want:?}, got {got:?}"
        );
        if let Some(p) = &v.payload {
            assert_eq!(&hash, p, "{name}: payload hash");
        }
        checked += 1;
        if name.starts_with("hybrid") || name == "armor_hybrid" {
            hybrid += 1;
        }
    }
    // 20 with python3 (two are zlib-compressed), 18 without.
    assert!(hybrid >= 18, "only {hybrid} hybrid vectors found");
    assert!(checked >= 50, "only {checked} vectors checked");
}

/// The `hybrid_*` vectors through sealed's own path (an `enc` entry: armored text into
/// [`IdentitySet::unwrap`], the identity from a keys file beside an X25519 one): successes
/// give the payload, "no match" is [`KeyError::NoMatchingIdentity`], header failures
/// are errors.
#[test]
fn hybrid_vectors_through_identity_set() {
    use crate::keys::KeyError;
    let Some(dir) = crate::testutil::shared("age-test-vectors/testdata") else {
        return;
    };
    let x25519 = age::x25519::Identity::generate();
    let mut n = 0;
    for path in crate::testutil::files_below(&dir) {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !name.starts_with("hybrid_") && name != "hybrid" {
            continue;
        }
        let v = read_vector(&path);
        let Some(body) = (if v.compressed {
            inflate(&v.body)
        } else {
            Some(v.body.clone())
        }) else {
            continue;
        };
        let keys = format!(
            "# mixed\n{}\n{}\n",
            age::secrecy::ExposeSecret::expose_secret(&x25519.to_string()),
            v.identities.join("\n")
        );
        let set = IdentitySet::from_keys_text(&keys, "vector keys").unwrap();
        let armored = armor(&body);
        let got = set.unwrap(&armored);
        match v.expect.as_str() {
            "success" => {
                let out = got.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(
                    Some(hex(&sha2::Sha256::digest(&out[..]))),
                    v.payload,
                    "{name}"
                );
            }
            "no match" => assert!(
                matches!(got, Err(KeyError::NoMatchingIdentity)),
                "{name}: {got:?}"
            ),
            _ => assert!(
                matches!(got, Err(KeyError::BadWrappedKey(_))),
                "{name}: {got:?}"
            ),
        }
        n += 1;
    }
    assert!(n >= 18, "only {n} hybrid vectors");
}

fn armor(raw: &[u8]) -> String {
    use age::armor::{ArmoredWriter, Format};
    use std::io::Write;
    let mut w = ArmoredWriter::wrap_output(Vec::new(), Format::AsciiArmor).unwrap();
    w.write_all(raw).unwrap();
    String::from_utf8(w.finish().unwrap()).unwrap()
}

#[test]
fn identity_and_recipient_round_trip_their_text() {
    let id: Identity = VECTOR_PQ_IDENTITY.parse().unwrap();
    assert_eq!(
        age::secrecy::ExposeSecret::expose_secret(&id.to_string()),
        VECTOR_PQ_IDENTITY
    );
    let public = id.to_public().to_string();
    assert!(public.starts_with("age1pq1"));
    // 1216 bytes of key in Bech32: age's recipients are 1959 characters.
    assert_eq!(public.len(), 1959);
    let back: Recipient = public.parse().unwrap();
    assert_eq!(back.to_string(), public);
    // A changed character breaks the checksum; a lower-case identity is not taken as one.
    let mut broken = public.clone().into_bytes();
    broken[100] = if broken[100] == b'q' { b'p' } else { b'q' };
    assert!(
        String::from_utf8(broken)
            .unwrap()
            .parse::<Recipient>()
            .is_err()
    );
    assert!(
        VECTOR_PQ_IDENTITY
            .to_lowercase()
            .parse::<Identity>()
            .is_err()
    );
    // Debug output never holds key material.
    assert_eq!(format!("{id:?}"), "pq::Identity(..)");
}

#[test]
fn age_keygen_agrees_on_the_recipient() {
    // age 1.3's `age-keygen -y` derives the recipient of a PQ identity; older age cannot.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.txt");
    std::fs::write(&path, format!("{VECTOR_PQ_IDENTITY}\n")).unwrap();
    let Ok(out) = std::process::Command::new("age-keygen")
        .arg("-y")
        .arg(&path)
        .output()
    else {
        eprintln!("skipping: `age-keygen` is not on PATH");
        return;
    };
    if !out.status.success() {
        eprintln!("skipping: this age-keygen (before age 1.3) does not read PQ identities");
        return;
    }
    let id: Identity = VECTOR_PQ_IDENTITY.parse().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        id.to_public().to_string()
    );
}

#[test]
fn wrap_and_unwrap_through_sealed() {
    let id = Identity::generate();
    let recipient = SealedRecipient::parse(&id.to_public().to_string()).unwrap();
    let key = [9u8; 32];
    let enc = wrap_data_key(&key, &recipient).unwrap();
    assert!(enc.contains("-----BEGIN AGE ENCRYPTED FILE-----"));
    // About 2.3 KB: well under the cap on `enc` entries.
    assert!(enc.len() > 1500 && enc.len() < crate::keys::MAX_ENC_LEN / 16);
    let secret = age::secrecy::ExposeSecret::expose_secret(&id.to_string()).to_owned();
    let set = IdentitySet::from_keys_text(&secret, "pq").unwrap();
    assert_eq!(&set.unwrap(&enc).unwrap()[..], &key);
    assert_eq!(set.public_keys(), [id.to_public().to_string()]);
    // Another PQ identity does not open it (ML-KEM's implicit rejection: no error, no key).
    let other = Identity::generate();
    let other = age::secrecy::ExposeSecret::expose_secret(&other.to_string()).to_owned();
    let set = IdentitySet::from_keys_text(&other, "other").unwrap();
    assert!(matches!(
        set.unwrap(&enc),
        Err(crate::keys::KeyError::NoMatchingIdentity)
    ));
}

#[test]
fn mixed_keys_file_keeps_every_identity() {
    let pq = Identity::generate();
    let x = age::x25519::Identity::generate();
    let pq_secret = age::secrecy::ExposeSecret::expose_secret(&pq.to_string()).to_owned();
    let x_secret = age::secrecy::ExposeSecret::expose_secret(&x.to_string()).to_owned();
    let text = format!(
        "# created: 2026-01-01T00:00:00Z\n# public key: {}\n{pq_secret}\n\n  {x_secret}\n",
        pq.to_public()
    );
    let set = IdentitySet::from_keys_text(&text, "keys.txt").unwrap();
    assert_eq!(
        set.public_keys(),
        [x.to_public().to_string(), pq.to_public().to_string()]
    );
    for r in [x.to_public().to_string(), pq.to_public().to_string()] {
        let enc = wrap_data_key(&[3; 32], &SealedRecipient::parse(&r).unwrap()).unwrap();
        assert_eq!(&set.unwrap(&enc).unwrap()[..], &[3; 32]);
    }
    // A malformed PQ line is an error naming the line, without its content.
    // "B" is not a Bech32 character.
    let bad = format!("{x_secret}\n{}B\n", &pq_secret[..pq_secret.len() - 1]);
    let err = IdentitySet::from_keys_text(&bad, "keys.txt")
        .unwrap_err()
        .to_string();
    assert!(err.contains("keys.txt") && err.contains("line 2"), "{err}");
    assert!(!err.contains(&pq_secret[20..40]), "secret echoed: {err}");
}

#[test]
fn non_canonical_mlkem_keys_are_refused() {
    let id: Identity = VECTOR_PQ_IDENTITY.parse().unwrap();
    let bytes = id.to_public().0.to_bytes();
    assert!(kem::is_canonical_for_test(&bytes[..1184]));
    let mut bad = bytes.to_vec();
    // The first coefficient set to 0xfff (≥ q = 3329).
    bad[0] = 0xff;
    bad[1] |= 0x0f;
    assert!(!kem::is_canonical_for_test(&bad[..1184]));
    assert!(kem::PublicKey::from_bytes(&bad).is_err());
    let text = bech32_encode(RECIPIENT_HRP, &bad);
    assert!(text.parse::<Recipient>().is_err());
    assert!(SealedRecipient::parse(&text).is_err());
}
