//! Typed plaintext: how SOPS turns a value into the bytes it encrypts and hashes
//! (`ToBytes` in `sops.go`, `aes/cipher.go`), and back.

use std::borrow::Cow;

use zeroize::{Zeroize, Zeroizing};

use super::CodecError;

/// A scalar value typed as SOPS types it. String contents are wiped on drop.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'s> {
    /// `null` / `~` / empty YAML value: never encrypted, not part of the MAC.
    Null,
    /// A string (`type:str`): borrowed from the source when it is written there as is (a
    /// token always is, so an encrypted file's outline copies none of its values), else
    /// owned.
    Str(Cow<'s, str>),
    /// A 64-bit integer (`type:int`).
    Int(i64),
    /// A float (`type:float`).
    Float(f64),
    /// A boolean (`type:bool`).
    Bool(bool),
    /// A timestamp, already in RFC 3339 as SOPS formats it (`type:time`).
    Time(Cow<'s, str>),
}

impl Scalar<'_> {
    /// The same value, owning its text (borrowed text is copied).
    pub fn into_owned(mut self) -> Scalar<'static> {
        match &mut self {
            Scalar::Null => Scalar::Null,
            Scalar::Str(s) => Scalar::Str(Cow::Owned(std::mem::take(s).into_owned())),
            Scalar::Int(i) => Scalar::Int(*i),
            Scalar::Float(f) => Scalar::Float(*f),
            Scalar::Bool(b) => Scalar::Bool(*b),
            Scalar::Time(t) => Scalar::Time(Cow::Owned(std::mem::take(t).into_owned())),
        }
    }
}

impl Drop for Scalar<'_> {
    fn drop(&mut self) {
        match self {
            // Borrowed text belongs to the source, which its owner wipes.
            Scalar::Str(Cow::Owned(s)) | Scalar::Time(Cow::Owned(s)) => s.zeroize(),
            _ => {}
        }
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: shortest round-trip decimal, no exponent.
pub fn go_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{f}")
    }
}

/// The plaintext bytes and token type of a scalar (None for `Null`, which SOPS never
/// encrypts and leaves out of the MAC).
pub fn encode(value: &Scalar) -> Option<(Zeroizing<Vec<u8>>, &'static str)> {
    let (bytes, kind) = match value {
        Scalar::Null => return None,
        Scalar::Str(s) => (s.as_bytes().to_vec(), "str"),
        Scalar::Int(i) => (i.to_string().into_bytes(), "int"),
        Scalar::Float(f) => (go_float(*f).into_bytes(), "float"),
        Scalar::Bool(b) => (
            (if *b { "True" } else { "False" }).as_bytes().to_vec(),
            "bool",
        ),
        Scalar::Time(t) => (t.as_bytes().to_vec(), "time"),
    };
    Some((Zeroizing::new(bytes), kind))
}

/// Like [`encode`], into a reusable buffer (cleared first): the token type, or None for
/// `Null` (the buffer is then empty).
pub fn encode_into(value: &Scalar, out: &mut Zeroizing<Vec<u8>>) -> Option<&'static str> {
    out.clear();
    let mut put = |bytes: &[u8]| {
        super::wipe::reserve_bytes(out, bytes.len());
        out.extend_from_slice(bytes);
    };
    let kind = match value {
        Scalar::Null => return None,
        Scalar::Str(s) => {
            put(s.as_bytes());
            "str"
        }
        Scalar::Int(i) => {
            put(i.to_string().as_bytes());
            "int"
        }
        Scalar::Float(f) => {
            put(go_float(*f).as_bytes());
            "float"
        }
        Scalar::Bool(b) => {
            put(if *b { b"True" } else { b"False" });
            "bool"
        }
        Scalar::Time(t) => {
            put(t.as_bytes());
            "time"
        }
    };
    Some(kind)
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseFloat` for the spellings SOPS writes (an out-of-range spelling such
/// as `1e400` is refused, as Go refuses it).
fn parse_go_float(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        // Go refuses a finite spelling out of range (ErrRange) where Rust gives ±∞.
        _ => s.parse().ok().filter(|f: &f64| f.is_finite()),
    }
}

/// Turns decrypted bytes of a token of type `kind` into a scalar.
pub fn decode<'b>(bytes: &'b [u8], kind: &str) -> Result<Scalar<'b>, CodecError> {
    let bad = || CodecError::BadType(kind.to_string());
    let text = std::str::from_utf8(bytes).map_err(|_| bad())?;
    Ok(match kind {
        "str" | "bytes" | "comment" => Scalar::Str(text.into()),
        "int" => Scalar::Int(text.parse().map_err(|_| bad())?),
        "float" => Scalar::Float(parse_go_float(text).ok_or_else(bad)?),
        "bool" => Scalar::Bool(parse_go_bool(text).ok_or_else(bad)?),
        "time" => Scalar::Time(text.into()),
        _ => return Err(bad()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_go() {
        assert_eq!(go_float(1000.0), "1000");
        assert_eq!(go_float(0.75), "0.75");
        assert_eq!(go_float(1e21), "1000000000000000000000");
        assert_eq!(go_float(f64::INFINITY), "+Inf");
    }

    #[test]
    fn typed_roundtrip() {
        for v in [
            Scalar::Str("x".into()),
            Scalar::Int(-5),
            Scalar::Float(0.5),
            Scalar::Bool(true),
            Scalar::Time("2024-01-01T00:00:00Z".into()),
        ] {
            let (bytes, kind) = encode(&v).unwrap();
            assert_eq!(decode(&bytes, kind).unwrap(), v);
        }
        assert_eq!(decode(b"true", "bool").unwrap(), Scalar::Bool(true));
        assert!(decode(b"x", "int").is_err());
        // Go's ParseFloat: an out-of-range spelling is an error, not an infinity.
        assert!(decode(b"1e400", "float").is_err());
        assert_eq!(
            decode(b"+Inf", "float").unwrap(),
            Scalar::Float(f64::INFINITY)
        );
        assert_eq!(decode(b"1e-400", "float").unwrap(), Scalar::Float(0.0));
    }
}
