//! AWS requests for KMS: credentials (the part of AWS's standard chain sealed implements,
//! [`credentials`]), SigV4 signing with the official `aws-sigv4` crate, endpoints (region
//! from the key's ARN, `AWS_ENDPOINT_URL_<SERVICE>` and `AWS_ENDPOINT_URL` overrides), and
//! STS `AssumeRole` for a key's `role`.

pub mod credentials;
pub mod secretsmanager;

use std::sync::OnceLock;
use std::time::SystemTime;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

pub use credentials::Credentials;

/// The shared agent: one connection pool for every request of a run (team and rotate
/// call KMS from several threads).
fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(super::http::agent)
}

/// The endpoint of `service` (`kms`, `sts`) in `region`: `AWS_ENDPOINT_URL_KMS` (or
/// `_STS`), else `AWS_ENDPOINT_URL`, else AWS's own host for the partition.
pub fn endpoint(service: &str, partition: &str, region: &str) -> Result<String, String> {
    let var = format!("AWS_ENDPOINT_URL_{}", service.to_ascii_uppercase());
    for v in [var.as_str(), "AWS_ENDPOINT_URL"] {
        if let Some(url) = std::env::var(v).ok().filter(|s| !s.trim().is_empty()) {
            return Ok(url.trim().trim_end_matches('/').to_string());
        }
    }
    let suffix = match partition {
        "aws" | "aws-us-gov" => "amazonaws.com",
        "aws-cn" => "amazonaws.com.cn",
        other => {
            return Err(format!(
                "the key's ARN names the AWS partition {other:?}; sealed reaches aws, aws-cn \
                 and aws-us-gov (or the endpoint in AWS_ENDPOINT_URL)"
            ));
        }
    };
    Ok(format!("https://{service}.{region}.{suffix}"))
}

/// A signed POST of `body` to `url`; the status and body of the answer, or one line
/// naming `label` (the service) and the address.
pub fn post(
    label: &str,
    service: &str,
    region: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    creds: &Credentials,
) -> Result<(u16, String), String> {
    let identity = creds.identity();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("{label}: cannot sign the request: {e}"))?
        .into();
    let signable = SignableRequest::new(
        "POST",
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| {
        format!(
            "{label}: invalid address {}: {e}",
            super::http::display_address(url)
        )
    })?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| format!("{label}: cannot sign the request: {e}"))?
        .into_parts();
    let mut req = agent().post(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    for (k, v) in instructions.headers() {
        req = req.header(k, v);
    }
    let mut resp = req
        .send(body)
        .map_err(|e| super::http::describe_error(label, url, &e))?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| super::http::describe_error(label, url, &e))?;
    Ok((status, text))
}

/// The text between `<tag>` and `</tag>` in an XML answer (STS, and the errors of some
/// front ends).
pub fn xml_field<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..start + len].trim())
}

/// The session name sops uses (`sops@HOST`, limited to STS's characters).
fn session_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string();
    let name: String = format!("sops@{host}")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "=,.@-_".contains(*c))
        .take(64)
        .collect();
    name
}

/// Percent-encoding for a form field (RFC 3986 unreserved characters kept).
fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Temporary credentials for `role`, from STS `AssumeRole` signed with `base`.
pub fn assume_role(
    base: &Credentials,
    role: &str,
    partition: &str,
    region: &str,
) -> Result<Credentials, String> {
    let url = format!("{}/", endpoint("sts", partition, region)?);
    let body = format!(
        "Action=AssumeRole&RoleArn={}&RoleSessionName={}&Version=2011-06-15",
        form_encode(role),
        form_encode(&session_name())
    );
    let label = "AWS STS";
    let (status, text) = post(
        label,
        "sts",
        region,
        &url,
        &[(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )],
        body.as_bytes(),
        base,
    )?;
    let address = super::http::display_address(&url);
    if status != 200 {
        let code = xml_field(&text, "Code").unwrap_or("error");
        let msg = xml_field(&text, "Message").unwrap_or_default();
        return Err(format!(
            "{label} at {address}: cannot assume role {role}: HTTP {status} {}: {}",
            super::http::clean(code),
            super::http::clean(msg)
        ));
    }
    match (
        xml_field(&text, "AccessKeyId"),
        xml_field(&text, "SecretAccessKey"),
        xml_field(&text, "SessionToken"),
    ) {
        (Some(id), Some(secret), token) => Ok(Credentials::new(
            id.to_string(),
            secret.to_string(),
            token.map(str::to_string),
        )),
        _ => Err(format!(
            "{label} at {address}: the answer to AssumeRole for {role} holds no credentials"
        )),
    }
}
