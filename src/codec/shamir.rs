//! Shamir's secret sharing over GF(2^8), bit-compatible with HashiCorp Vault's `shamir`
//! package as vendored by SOPS (`shamir/shamir.go`).
//!
//! - The field is GF(2^8) with the AES reduction polynomial x^8 + x^4 + x^3 + x + 1 (0x11B),
//!   the field Vault's log/exp tables describe (generator 0xE5).
//! - Every byte of the secret is the intercept of its own random polynomial of degree
//!   `threshold - 1`.
//! - A share is the polynomial values (one byte per secret byte) followed by one byte holding
//!   the x coordinate. The x coordinates are distinct, random and non-zero (Vault draws a
//!   random permutation of 1..=255).
//! - Combining evaluates the Lagrange interpolation of the shares at x = 0.
//!
//! Unlike Vault's table lookups, the field arithmetic here is branch-free and table-free
//! (shift-and-add multiplication, inversion as a^254), so it runs in constant time with
//! respect to secret values. It gives the same results as Vault's tables (tested below).
//!
//! Differences from Vault, all on the lenient side: a threshold of 1 is accepted by
//! [`split`] (every share then carries the secret itself) and [`combine`] accepts a single
//! share. SOPS refuses both (`threshold must be at least 2`, `less than two parts cannot be
//! used to reconstruct the secret`), so a caller writing files for SOPS must keep
//! `threshold >= 2` whenever it splits. Like Vault, [`combine`] cannot tell when it is given
//! fewer shares than the threshold: it then returns a wrong secret, which the caller must
//! detect (SOPS files are protected by the MAC and by AES-GCM tags).

use aes_gcm::aead::OsRng;
use aes_gcm::aead::rand_core::RngCore;
use zeroize::{Zeroize, Zeroizing};

/// Errors of [`split`] and [`combine`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShamirError {
    /// `split` was given an empty secret.
    #[error("cannot split an empty secret")]
    EmptySecret,
    /// `split` was given a threshold of 0.
    #[error("threshold must be at least 1")]
    ThresholdTooSmall,
    /// `split` was asked for fewer parts than the threshold.
    #[error("parts cannot be less than threshold")]
    PartsLessThanThreshold,
    /// `split` was asked for more than 255 parts (there are only 255 non-zero x values).
    #[error("parts cannot exceed 255")]
    TooManyParts,
    /// `combine` was given no shares.
    #[error("no shares to combine")]
    NoShares,
    /// A share is shorter than two bytes (one secret byte and the x byte).
    #[error("shares must be at least two bytes")]
    ShareTooShort,
    /// The shares do not all have the same length.
    #[error("all shares must be the same length")]
    LengthMismatch,
    /// Two shares have the same x coordinate.
    #[error("duplicate share detected")]
    DuplicateShare,
    /// A share has the x coordinate 0 (which would be the secret itself).
    #[error("share has the invalid x coordinate 0")]
    ZeroCoordinate,
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Random,
}

/// Multiplication in GF(2^8) modulo 0x11B, without branches or tables.
fn mul(mut a: u8, mut b: u8) -> u8 {
    let mut r = 0u8;
    for _ in 0..8 {
        r ^= a & 0u8.wrapping_sub(b & 1);
        let carry = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (carry & 0x1B);
        b >>= 1;
    }
    r
}

/// Multiplicative inverse in GF(2^8) as a^254 (0 maps to 0).
fn inv(a: u8) -> u8 {
    let mut x = mul(a, a); // a^2
    let mut r = x;
    for _ in 0..6 {
        x = mul(x, x); // a^4, a^8, …, a^128
        r = mul(r, x);
    }
    r
}

/// Fills `buf` from the operating system's generator.
fn fill_random(buf: &mut [u8]) -> Result<(), ShamirError> {
    OsRng.try_fill_bytes(buf).map_err(|_| ShamirError::Random)
}

/// A uniform random number below `bound` (1..=256), by rejection sampling.
fn random_below(bound: u32) -> Result<u32, ShamirError> {
    let zone = u32::MAX - (u32::MAX % bound);
    loop {
        let mut b = [0u8; 4];
        fill_random(&mut b)?;
        let v = u32::from_le_bytes(b);
        if v < zone {
            return Ok(v % bound);
        }
    }
}

/// Splits `secret` into `parts` shares, any `threshold` of which rebuild it with
/// [`combine`]. Each share is one byte longer than the secret: the y values, then the
/// share's x coordinate (distinct, random, non-zero). `threshold` must be at least 1 (SOPS
/// itself requires 2), `parts` at least `threshold` and at most 255; the secret must not be
/// empty. Randomness comes from the operating system.
pub fn split(secret: &[u8], parts: usize, threshold: usize) -> Result<Vec<Vec<u8>>, ShamirError> {
    if parts < threshold {
        return Err(ShamirError::PartsLessThanThreshold);
    }
    if parts > 255 {
        return Err(ShamirError::TooManyParts);
    }
    if threshold < 1 {
        return Err(ShamirError::ThresholdTooSmall);
    }
    if secret.is_empty() {
        return Err(ShamirError::EmptySecret);
    }

    // Distinct random x coordinates: the first `parts` entries of a random permutation
    // of 1..=255 (partial Fisher–Yates).
    let mut xs: [u8; 255] = std::array::from_fn(|i| (i + 1) as u8);
    for i in 0..parts {
        let j = i + random_below((255 - i) as u32)? as usize;
        xs.swap(i, j);
    }

    let mut out: Vec<Vec<u8>> = xs[..parts]
        .iter()
        .map(|&x| {
            let mut share = vec![0u8; secret.len() + 1];
            share[secret.len()] = x;
            share
        })
        .collect();

    // Random coefficients of degree 1..threshold-1 for every secret byte.
    let degree = threshold - 1;
    let mut coefficients = Zeroizing::new(vec![0u8; secret.len() * degree]);
    fill_random(&mut coefficients)?;
    for (idx, &intercept) in secret.iter().enumerate() {
        let coeffs = &coefficients[idx * degree..(idx + 1) * degree];
        for share in out.iter_mut() {
            let x = share[secret.len()];
            // Horner's method over intercept + c1 x + … + c_d x^d.
            let mut y = 0u8;
            for &c in coeffs.iter().rev() {
                y = mul(y, x) ^ c;
            }
            y = mul(y, x) ^ intercept;
            share[idx] = y;
        }
    }
    Ok(out)
}

/// Rebuilds a secret from shares made by [`split`] (or by Vault/SOPS). Give at least the
/// threshold number of shares: with fewer, the result is silently wrong. All shares must
/// have the same length (at least two bytes) and distinct, non-zero x coordinates.
pub fn combine(shares: &[Vec<u8>]) -> Result<Zeroizing<Vec<u8>>, ShamirError> {
    let first = shares.first().ok_or(ShamirError::NoShares)?;
    let len = first.len();
    if len < 2 {
        return Err(ShamirError::ShareTooShort);
    }
    if shares.iter().any(|s| s.len() != len) {
        return Err(ShamirError::LengthMismatch);
    }
    let xs: Vec<u8> = shares.iter().map(|s| s[len - 1]).collect();
    let mut seen = [false; 256];
    for &x in &xs {
        if x == 0 {
            return Err(ShamirError::ZeroCoordinate);
        }
        if seen[x as usize] {
            return Err(ShamirError::DuplicateShare);
        }
        seen[x as usize] = true;
    }

    // Lagrange basis polynomials evaluated at 0: l_i(0) = Π_{j≠i} x_j / (x_i + x_j).
    let basis: Vec<u8> = (0..xs.len())
        .map(|i| {
            let mut b = 1u8;
            for (j, &xj) in xs.iter().enumerate() {
                if i != j {
                    b = mul(b, mul(xj, inv(xs[i] ^ xj)));
                }
            }
            b
        })
        .collect();

    let mut secret = Zeroizing::new(vec![0u8; len - 1]);
    for (idx, byte) in secret.iter_mut().enumerate() {
        let mut acc = 0u8;
        for (share, &b) in shares.iter().zip(&basis) {
            acc ^= mul(share[idx], b);
        }
        *byte = acc;
        acc.zeroize();
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first entries of Vault's `expTable` (powers of 0xE5).
    const VAULT_EXP: [u8; 24] = [
        0x01, 0xe5, 0x4c, 0xb5, 0xfb, 0x9f, 0xfc, 0x12, 0x03, 0x34, 0xd4, 0xc4, 0x16, 0xba, 0x1f,
        0x36, 0x05, 0x5c, 0x67, 0x57, 0x3a, 0xd5, 0x21, 0x5a,
    ];

    #[test]
    fn field_matches_vault_tables() {
        let mut p = 1u8;
        for &e in &VAULT_EXP {
            assert_eq!(p, e);
            p = mul(p, 0xe5);
        }
        // 0xE5 generates the whole multiplicative group, as Vault's tables assume.
        let mut seen = [false; 256];
        let mut p = 1u8;
        for _ in 0..255 {
            assert!(!seen[p as usize]);
            seen[p as usize] = true;
            p = mul(p, 0xe5);
        }
        assert_eq!(p, 1);
    }

    #[test]
    fn field_matches_log_exp_reference() {
        // Independent log/exp tables with generator 3 (AES field).
        let mut exp = [0u8; 255];
        let mut log = [0usize; 256];
        let mut x = 1u8;
        for (i, e) in exp.iter_mut().enumerate() {
            *e = x;
            log[x as usize] = i;
            let x2 = (x << 1) ^ if x & 0x80 != 0 { 0x1B } else { 0 };
            x ^= x2; // x * 3
        }
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let expected = if a == 0 || b == 0 {
                    0
                } else {
                    exp[(log[a as usize] + log[b as usize]) % 255]
                };
                assert_eq!(mul(a, b), expected, "{a} * {b}");
            }
            if a != 0 {
                assert_eq!(mul(a, inv(a)), 1, "inverse of {a}");
            }
        }
        assert_eq!(inv(0), 0);
    }

    #[test]
    fn known_answer() {
        // secret 0x42, polynomial 0x42 + 0x17·x: y(1) = 0x55, y(2) = 0x42 ^ 0x2e = 0x6c.
        let shares = vec![vec![0x55, 1], vec![0x6c, 2]];
        assert_eq!(combine(&shares).unwrap().as_slice(), &[0x42]);
        let shares = vec![vec![0x6c, 2], vec![0x55, 1]];
        assert_eq!(combine(&shares).unwrap().as_slice(), &[0x42]);
    }

    /// Every subset of `items` with exactly `k` elements.
    fn subsets(n: usize, k: usize) -> Vec<Vec<usize>> {
        (0u32..(1 << n))
            .filter(|m| m.count_ones() as usize == k)
            .map(|m| (0..n).filter(|i| m & (1 << i) != 0).collect())
            .collect()
    }

    #[test]
    fn roundtrip_thresholds_1_to_5() {
        let secret: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37) ^ 0xa5).collect();
        for threshold in 1..=5 {
            for parts in threshold..=threshold + 2 {
                let shares = split(&secret, parts, threshold).unwrap();
                assert_eq!(shares.len(), parts);
                let mut xs: Vec<u8> = shares.iter().map(|s| s[32]).collect();
                assert!(shares.iter().all(|s| s.len() == 33));
                assert!(xs.iter().all(|&x| x != 0));
                xs.sort_unstable();
                xs.dedup();
                assert_eq!(xs.len(), parts, "distinct x coordinates");
                for k in threshold..=parts {
                    for subset in subsets(parts, k) {
                        let picked: Vec<Vec<u8>> =
                            subset.iter().map(|&i| shares[i].clone()).collect();
                        assert_eq!(
                            combine(&picked).unwrap().as_slice(),
                            secret.as_slice(),
                            "threshold {threshold}, parts {parts}, subset {subset:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn any_two_of_three() {
        let secret = [7u8; 32];
        let shares = split(&secret, 3, 2).unwrap();
        for (a, b) in [(0, 1), (0, 2), (1, 2), (2, 0)] {
            let got = combine(&[shares[a].clone(), shares[b].clone()]).unwrap();
            assert_eq!(got.as_slice(), &secret);
        }
    }

    #[test]
    fn too_few_shares_give_a_wrong_secret() {
        let secret: Vec<u8> = (1..=32).collect();
        let shares = split(&secret, 5, 3).unwrap();
        let got = combine(&shares[..2]).unwrap();
        assert_ne!(got.as_slice(), secret.as_slice());
    }

    #[test]
    fn shares_are_randomised() {
        let secret = [1u8; 16];
        let a = split(&secret, 3, 2).unwrap();
        let b = split(&secret, 3, 2).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn errors() {
        assert_eq!(split(&[], 3, 2), Err(ShamirError::EmptySecret));
        assert_eq!(split(&[1], 3, 0), Err(ShamirError::ThresholdTooSmall));
        assert_eq!(split(&[1], 2, 3), Err(ShamirError::PartsLessThanThreshold));
        assert_eq!(split(&[1], 256, 2), Err(ShamirError::TooManyParts));
        assert_eq!(split(&[1], 255, 255).unwrap().len(), 255);
        assert_eq!(combine(&[]), Err(ShamirError::NoShares));
        assert_eq!(combine(&[vec![1]]), Err(ShamirError::ShareTooShort));
        assert_eq!(
            combine(&[vec![1, 2, 3], vec![1, 2]]),
            Err(ShamirError::LengthMismatch)
        );
        assert_eq!(
            combine(&[vec![1, 2], vec![3, 2]]),
            Err(ShamirError::DuplicateShare)
        );
        assert_eq!(
            combine(&[vec![1, 0], vec![3, 2]]),
            Err(ShamirError::ZeroCoordinate)
        );
    }

    /// Combines the real shares of a sops 3.11.0 Shamir 2-of-3 file: each pair must give the
    /// same 32-byte data key, and that key must authenticate a value of the file.
    #[test]
    fn combines_real_sops_shares() {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        use base64::Engine as _;
        use std::io::Read;
        use std::str::FromStr;

        let Some(dir) = crate::testutil::sops_fixtures() else {
            return;
        };
        let (Ok(file), Ok(keys)) = (
            std::fs::read_to_string(dir.join("secrets.shamir-2of3.enc.yaml")),
            std::fs::read_to_string(dir.join("keys.txt")),
        ) else {
            eprintln!("notice: sops fixtures absent, skipping combines_real_sops_shares");
            return;
        };
        let identities: Vec<age::x25519::Identity> = keys
            .lines()
            .filter(|l| l.starts_with("AGE-SECRET-KEY-"))
            .map(|l| age::x25519::Identity::from_str(l.trim()).unwrap())
            .collect();
        let doc = crate::format::yaml_value::load(&file).unwrap().remove(0);
        let groups = doc["sops"]["key_groups"].as_array().unwrap();
        assert_eq!(groups.len(), 3);
        let shares: Vec<Vec<u8>> = groups
            .iter()
            .map(|g| {
                let enc = g["age"][0]["enc"].as_str().unwrap();
                let reader = age::armor::ArmoredReader::new(enc.as_bytes());
                let decryptor = age::Decryptor::new(reader).unwrap();
                let mut out = Vec::new();
                decryptor
                    .decrypt(identities.iter().map(|i| i as &dyn age::Identity))
                    .unwrap()
                    .read_to_end(&mut out)
                    .unwrap();
                out
            })
            .collect();
        assert!(shares.iter().all(|s| s.len() == 33));

        let key = combine(&shares[..2]).unwrap();
        assert_eq!(key.len(), 32);
        for pair in [[0, 2], [1, 2], [2, 1]] {
            let other = combine(&[shares[pair[0]].clone(), shares[pair[1]].clone()]).unwrap();
            assert_eq!(other.as_slice(), key.as_slice());
        }

        // a: ENC[AES256_GCM,data:…,iv:…,tag:…,type:int] with AAD "a:".
        let token = doc["a"].as_str().unwrap();
        let field = |name: &str| {
            let start = token.find(&format!("{name}:")).unwrap() + name.len() + 1;
            let end = token[start..].find([',', ']']).unwrap() + start;
            base64::engine::general_purpose::STANDARD
                .decode(&token[start..end])
                .unwrap()
        };
        let (data, iv, tag) = (field("data"), field("iv"), field("tag"));
        type Gcm = aes_gcm::AesGcm<aes_gcm::aes::Aes256, aes_gcm::aead::consts::U32>;
        let cipher = Gcm::new_from_slice(&key).unwrap();
        let mut msg = data.clone();
        msg.extend_from_slice(&tag);
        let plain = cipher
            .decrypt(
                aes_gcm::aead::generic_array::GenericArray::from_slice(&iv),
                Payload {
                    msg: &msg,
                    aad: b"a:",
                },
            )
            .expect("the combined key authenticates the value");
        assert_eq!(plain.len(), data.len());
    }
}
