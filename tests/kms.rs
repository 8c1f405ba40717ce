//! AWS KMS master keys (issue 18) against moto's real server (`moto_server`, PyPI
//! `moto[server]`), started per test on a free loopback port and stopped by its pid, and
//! the real `sops` against the same server: files keyed to KMS both ways, the encryption
//! context, mixed age+kms key groups (Shamir), rotate and updatekeys, the git filter, a role
//! named only by the file, a service that is down or never answers, no credentials.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use common::{bin, keygen_in, peer, peers_required, tempdir};

/// Spelled as sops writes YAML, so that sops's decryption gives it back byte for byte.
const PLAIN: &str = "db:\n    user: admin\n    password: fake-pass-1\nport: 5432\n";

/// Fake credentials (moto accepts any); checked to appear in no output.
const ACCESS_KEY: &str = "AKIAFAKEKMSTEST00001";
const SECRET_KEY: &str = "fake-secret-key-never-shown-0123456789";

/// A program in PATH or in Python's scripts directory (where pip puts `moto_server`).
fn python_tool(name: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let out = Command::new("python3")
            .args([
                "-c",
                "import sysconfig; print(sysconfig.get_path('scripts'))",
            ])
            .output()
            .ok()?;
        let p = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim()).join(name);
        p.is_file().then_some(p)
    })
}

/// A moto server on a free loopback port, stopped (by pid) when dropped.
struct Moto {
    child: Child,
    url: String,
    _home: tempfile::TempDir,
    home: PathBuf,
}

impl Moto {
    /// Starts moto; `None` (skipped, or failing under `SEALED_REQUIRE_PEERS=1`) without it.
    fn start() -> Option<Moto> {
        let Some(server) = python_tool("moto_server") else {
            assert!(
                !peers_required(),
                "peer moto_server required (SEALED_REQUIRE_PEERS=1) but not installed"
            );
            eprintln!("skipping: moto_server not installed (pip install 'moto[server]')");
            return None;
        };
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut child = Command::new(&server)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            // Waits for werkzeug's "Running on" line (no polling loop, no sleep); the
            // rest of its log is drained by a thread so that the pipe never fills.
            let stderr = child.stderr.take().unwrap();
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if (line.contains("Running on") || line.contains("in use"))
                        && let Some(tx) = tx.take()
                    {
                        let _ = tx.send(line.contains("Running on"));
                    }
                }
            });
            match rx.recv_timeout(std::time::Duration::from_secs(60)) {
                Ok(true) => {
                    let home = tempdir();
                    let path = home.path().to_path_buf();
                    return Some(Moto {
                        child,
                        url: format!("http://127.0.0.1:{port}"),
                        _home: home,
                        home: path,
                    });
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
        panic!("moto_server did not start");
    }

    /// The environment of a user of this server: fake credentials, a fresh HOME, nothing
    /// inherited that names another AWS account, profile or endpoint.
    fn env(&self, c: &mut Command) {
        for v in [
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL_KMS",
            "AWS_ENDPOINT_URL_STS",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "SOPS_KMS_ARN",
            "SOPS_AGE_RECIPIENTS",
            "SOPS_AGE_KEY_FILE",
            "SOPS_AGE_KEY",
            "SOPS_CONFIG",
            "SEALED_SERVICE_TIMEOUT",
        ] {
            c.env_remove(v);
        }
        c.env("HOME", &self.home)
            .env("AWS_ENDPOINT_URL", &self.url)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null());
    }

    /// A new symmetric KMS key (through boto3, which moto depends on); its ARN.
    fn create_key(&self) -> String {
        let mut c = Command::new("python3");
        self.env(&mut c);
        let out = c
            .args([
                "-c",
                "import boto3; print(boto3.client('kms', region_name='us-east-1').create_key()['KeyMetadata']['Arn'])",
            ])
            .output()
            .unwrap();
        ok(&out, "create-key");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn sealed(&self, dir: &Path) -> Command {
        let mut c = Command::new(bin());
        self.env(&mut c);
        c.current_dir(dir);
        c
    }

    fn sops(&self, dir: &Path) -> Option<Command> {
        let sops = peer("sops")?;
        let mut c = Command::new(sops);
        self.env(&mut c);
        c.current_dir(dir).arg("--disable-version-check");
        Some(c)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
