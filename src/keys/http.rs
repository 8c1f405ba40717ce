//! HTTP for the key services (AWS KMS, Vault): one configured `ureq` agent (rustls, no
//! async runtime) and one way of turning a failed request into a message.
//!
//! Timeouts: connecting 5 s, the whole request 30 s; `SEALED_SERVICE_TIMEOUT` (seconds)
//! replaces both. Messages name the service and its address (scheme, host, port and path;
//! never a user:password part or a query), never a credential.

use std::time::Duration;

/// The variable that overrides the timeouts, in seconds.
pub const TIMEOUT_VAR: &str = "SEALED_SERVICE_TIMEOUT";

/// The whole-request timeout: `SEALED_SERVICE_TIMEOUT` seconds, else 30 s.
pub fn timeout() -> Duration {
    std::env::var(TIMEOUT_VAR)
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(Duration::from_secs(30), Duration::from_secs_f64)
}

/// The agent every service request goes through: connect timeout 5 s (or the override,
/// when shorter), whole request 30 s (or the override); redirects are not followed; HTTP
/// error statuses are returned as responses so that the caller can read the service's own
/// error body.
pub fn agent() -> ureq::Agent {
    let all = timeout();
    let connect = all.min(Duration::from_secs(5));
    let config = ureq::Agent::config_builder()
        .timeout_connect(Some(connect))
        .timeout_global(Some(all))
        .http_status_as_error(false)
        // A service answers where it was asked: a redirect is not followed (the signed
        // headers would go to the new address).
        .max_redirects(0)
        .user_agent(concat!("sealed/", env!("CARGO_PKG_VERSION")))
        .build();
    config.into()
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

/// One line for a request that got no answer: the service, its address, and why.
pub fn describe_error(service: &str, url: &str, err: &ureq::Error) -> String {
    let address = display_address(url);
    let why = match err {
        ureq::Error::Timeout(_) => format!(
            "no answer within {} s (timed out; {TIMEOUT_VAR} sets the limit in seconds)",
            timeout().as_secs_f64()
        ),
        ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused (is the service running at this address?)".to_string()
        }
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::Io(e) => format!("connection failed: {}", e.kind()),
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
