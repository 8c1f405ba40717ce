//! HTTP for the key services (AWS KMS, Vault): one configured `ureq` agent (blocking,
//! rustls, no async runtime) and one way of turning a failed request into a message.
//!
//! Timeouts: connecting 5 s, the whole request 30 s; `SEALED_SERVICE_TIMEOUT` (seconds)
//! replaces the request limit (and the connect limit when shorter). Messages name the
//! service and its address (scheme, host, port and path; never a user:password part or a
//! query), never a credential or a body.

use std::time::Duration;

/// The variable that overrides the timeouts, in seconds.
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

/// The agent with the default TLS settings (Mozilla's roots, verification on).
pub fn agent() -> ureq::Agent {
    agent_with_tls(ureq::tls::TlsConfig::default())
}

/// The agent every service request goes through: the timeouts above; redirects are not
/// followed (signed headers or a token would go to the new address); HTTP error statuses
/// are returned as responses so that the caller can read the service's own error; `tls`
/// (root certificates, verification).
pub fn agent_with_tls(tls: ureq::tls::TlsConfig) -> ureq::Agent {
    let request = request_timeout();
    ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT.min(request)))
        .timeout_global(Some(request))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("sealed/", env!("CARGO_PKG_VERSION")))
        .tls_config(tls)
        .build()
        .into()
}

/// An address as shown in messages: without a `user:password@` part and without a query.
pub fn display_address(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or_default();
    match no_query.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = host.rsplit('@').next().unwrap_or(host);
            format!("{scheme}://{host}{path}")
        }
        None => no_query.to_string(),
    }
}

/// One line for a request that got no answer: the service, its address, and why (no
/// token, no body).
pub fn describe_error(service: &str, url: &str, e: &ureq::Error) -> String {
    let address = display_address(url);
    let why = match e {
        ureq::Error::Timeout(_) => format!(
            "no answer within {} s (timed out; {TIMEOUT_VAR} sets the limit in seconds)",
            request_timeout().as_secs_f64()
        ),
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::ConnectionFailed => "cannot connect".to_string(),
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                "connection refused (is the service running at this address?)".to_string()
            }
            std::io::ErrorKind::TimedOut => "connection timed out".to_string(),
            // rustls reports a certificate it does not trust as invalid data.
            std::io::ErrorKind::InvalidData => format!("TLS error: {}", clean(&io.to_string())),
            k => format!("network error ({k})"),
        },
        ureq::Error::Tls(m) => format!("TLS error: {m}"),
        ureq::Error::Rustls(r) => format!("TLS error: {r}"),
        ureq::Error::BadUri(_) => "not a valid address".to_string(),
        other => clean(&other.to_string()),
    };
    format!("{service} at {address}: {why}")
}

/// A service's own text made safe for one line: control characters replaced, at most
/// 300 characters.
pub fn clean(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    if text.chars().count() > 300 {
        out.push('…');
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_lose_credentials_and_queries() {
        assert_eq!(
            display_address("https://user:pw@kms.eu-west-1.amazonaws.com/x?token=t"),
            "https://kms.eu-west-1.amazonaws.com/x"
        );
        assert_eq!(
            display_address("http://127.0.0.1:8200"),
            "http://127.0.0.1:8200"
        );
    }
}
