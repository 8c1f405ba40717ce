//! moto's real server (`moto_server`, PyPI `moto[server]`) for AWS KMS and Secrets
//! Manager: started per test on a free loopback port, stopped by its pid when dropped.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{bin, peer, peers_required, tempdir};

/// Fake credentials (moto accepts any); checked to appear in no output.
pub const ACCESS_KEY: &str = "AKIAFAKEKMSTEST00001";
pub const SECRET_KEY: &str = "fake-secret-key-never-shown-0123456789";

/// A program in PATH or in Python's scripts directory (where pip puts `moto_server`).
pub fn python_tool(name: &str) -> Option<PathBuf> {
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
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    _home: tempfile::TempDir,
    /// The HOME of the server's users (`Moto::env`).
    pub home: PathBuf,
}

impl Moto {
    /// Starts moto; `None` (skipped, or failing under `SEALED_REQUIRE_PEERS=1`) without it.
    pub fn start() -> Option<Moto> {
        Moto::start_with(None)
    }

    /// With `Some(n)`, moto checks credentials (its IAM) after its first `n` requests.
    pub fn start_with(auth_after: Option<u32>) -> Option<Moto> {
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
            let mut cmd = Command::new(&server);
            if let Some(n) = auth_after {
                cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", n.to_string());
            }
            let mut child = cmd
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
    pub fn env(&self, c: &mut Command) {
        for v in [
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL_KMS",
            "AWS_ENDPOINT_URL_STS",
            "AWS_ENDPOINT_URL_SECRETSMANAGER",
            "AWS_DEFAULT_REGION",
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
    pub fn create_key(&self) -> String {
        let mut c = Command::new("python3");
        self.env(&mut c);
        let out = c
            .args([
                "-c",
                "import boto3; print(boto3.client('kms', region_name='us-east-1').create_key()['KeyMetadata']['Arn'])",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "create-key failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    pub fn sealed(&self, dir: &Path) -> Command {
        let mut c = Command::new(bin());
        self.env(&mut c);
        c.current_dir(dir);
        c
    }

    pub fn sops(&self, dir: &Path) -> Option<Command> {
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
