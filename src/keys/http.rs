//! The HTTP client of the key services (Vault, KMS): `ureq` (blocking, rustls), with
//! bounded waits and errors that name the service and its address in one line, never a
//! token or a body.

use std::time::Duration;

/// The variable that overrides the whole-request timeout, in seconds.
pub const TIMEOUT_VAR: &str = "SEALED_SERVICE_TIMEOUT";

/// How long a connection may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a whole request may take (unless [`TIMEOUT_VAR`] says otherwise).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The whole-request timeout: [`TIMEOUT_VAR`] (seconds, may be fractional) when set and
/// valid, else [`REQUEST_TIMEOUT`].
pub fn request_timeout() -> Duration {
    std::env::var(TIMEOUT_VAR)
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(REQUEST_TIMEOUT, Duration::from_secs_f64)
}

/// An agent with the timeouts above, statuses returned as responses (the caller reads the
/// service's error), and `tls` (root certificates, verification).
pub fn agent(tls: ureq::tls::TlsConfig) -> ureq::Agent {
    let request = request_timeout();
    ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT.min(request)))
        .timeout_global(Some(request))
        .http_status_as_error(false)
        .tls_config(tls)
        .build()
        .into()
}

/// One line for a transport failure talking to `service` at `address` (no token, no body).
pub fn describe_error(service: &str, address: &str, e: &ureq::Error) -> String {
    let why = match e {
        ureq::Error::Timeout(_) => format!(
            "no answer within {} s (raise {TIMEOUT_VAR} to wait longer)",
            request_timeout().as_secs_f64()
        ),
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::ConnectionFailed => "cannot connect".to_string(),
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
            std::io::ErrorKind::TimedOut => "connection timed out".to_string(),
            // rustls reports a certificate it does not trust as invalid data.
            std::io::ErrorKind::InvalidData => format!("TLS error: {}", printable(&io.to_string())),
            k => format!("network error ({k})"),
        },
        ureq::Error::Tls(m) => format!("TLS error: {m}"),
        ureq::Error::Rustls(r) => format!("TLS error: {r}"),
        ureq::Error::BadUri(_) => "not a valid address".to_string(),
        _ => printable(&e.to_string()),
    };
    format!("{service} at {address}: {why}")
}

/// A message on one line, bounded.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect()
}
