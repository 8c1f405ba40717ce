//! The MLKEM768-X25519 hybrid KEM (a.k.a. X-Wing) of draft-ietf-hpke-pq, KEM id 0x647a,
//! as an [`hpke::Kem`], so that the `hpke` crate runs the RFC 9180 key schedule and AEAD
//! around it (the same construction the `age` crate uses for its `tagpq` recipient type,
//! with X25519 in place of P-256).
//!
//! - private key: a 32-byte seed; SHAKE256(seed) gives 64 bytes of ML-KEM-768 seed (d ‖ z)
//!   and then 32 bytes of X25519 secret key;
//! - public key: ML-KEM-768 encapsulation key (1184 bytes) ‖ X25519 public key (32);
//! - encapsulated key: ML-KEM-768 ciphertext (1088 bytes) ‖ X25519 ephemeral share (32);
//! - shared secret: SHA3-256(ss_PQ ‖ ss_X25519 ‖ ct_X25519 ‖ pk_X25519 ‖ `\./` `/^\`).
//!
//! An all-zero X25519 shared secret (a low-order share) fails decapsulation, as in age.

use hpke::generic_array::typenum::{self, Unsigned, consts::U32};
use hpke::{Deserializable, HpkeError, Serializable, kem::SharedSecret};
use ml_kem::kem::{Decapsulate, Encapsulate};
use ml_kem::{Ciphertext, EncodedSizeUser, KemCore, MlKem768};
use rand::{CryptoRng, RngCore};
use sha3::digest::{ExtendableOutput, FixedOutput, Update, XofReader};
use sha3::{Sha3_256, Shake256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// The combiner's label (X-Wing's).
const LABEL: &[u8] = b"\\.//^\\";
/// Bytes in an X25519 key or share.
const X25519_LEN: usize = 32;

type KemNct = <MlKem768 as KemCore>::CiphertextSize;
type KemNek = <<MlKem768 as KemCore>::EncapsulationKey as EncodedSizeUser>::EncodedSize;
type DecapsKey = <MlKem768 as KemCore>::DecapsulationKey;
type EncapsKey = <MlKem768 as KemCore>::EncapsulationKey;

/// A private key: the seed it is stored as, and the keys it expands to.
#[derive(Clone)]
pub(super) struct PrivateKey {
    seed: Zeroizing<[u8; 32]>,
    dk_pq: DecapsKey,
    dk_t: x25519_dalek::StaticSecret,
}

impl PrivateKey {
    /// The key for a 32-byte seed.
    pub(super) fn from_seed(seed: [u8; 32]) -> PrivateKey {
        let seed = Zeroizing::new(seed);
        let (dk_pq, dk_t) = expand_key(&seed);
        PrivateKey { seed, dk_pq, dk_t }
    }

    /// The 32-byte seed (what an `AGE-SECRET-KEY-PQ-1…` line encodes).
    pub(super) fn seed(&self) -> &[u8; 32] {
        &self.seed
    }
}

impl PartialEq for PrivateKey {
    fn eq(&self, other: &Self) -> bool {
        self.seed[..].ct_eq(&other.seed[..]).into()
    }
}

impl Eq for PrivateKey {}

impl Deserializable for PrivateKey {
    fn from_bytes(encoded: &[u8]) -> Result<Self, HpkeError> {
        let seed: [u8; 32] = encoded
            .try_into()
            .map_err(|_| HpkeError::IncorrectInputLength(32, encoded.len()))?;
        Ok(PrivateKey::from_seed(seed))
    }
}

impl Serializable for PrivateKey {
    type OutputSize = U32;

    fn write_exact(&self, buf: &mut [u8]) {
        buf.copy_from_slice(&self.seed[..]);
    }
}

/// A public key (what an `age1pq1…` recipient encodes).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct PublicKey {
    ek_pq: EncapsKey,
    ek_t: x25519_dalek::PublicKey,
}

impl Eq for PublicKey {}

impl Deserializable for PublicKey {
    /// Refuses a wrong length and an ML-KEM key that is not canonical (a coefficient not
    /// below q, the FIPS 203 encapsulation key check that Go's crypto/mlkem makes).
    fn from_bytes(encoded: &[u8]) -> Result<Self, HpkeError> {
        let want = <Self as Serializable>::OutputSize::USIZE;
        if encoded.len() != want {
            return Err(HpkeError::IncorrectInputLength(want, encoded.len()));
        }
        let (pq, t) = encoded.split_at(KemNek::USIZE);
        if !mlkem_key_is_canonical(pq) {
            return Err(HpkeError::ValidationError);
        }
        let ek_pq = EncapsKey::from_bytes(pq.try_into().map_err(|_| HpkeError::ValidationError)?);
        let t: [u8; X25519_LEN] = t.try_into().map_err(|_| HpkeError::ValidationError)?;
        Ok(PublicKey {
            ek_pq,
            ek_t: t.into(),
        })
    }
}

impl Serializable for PublicKey {
    type OutputSize = typenum::Sum<KemNek, U32>;

    fn write_exact(&self, buf: &mut [u8]) {
        let n = KemNek::USIZE;
        buf[..n].copy_from_slice(&self.ek_pq.as_bytes());
        buf[n..].copy_from_slice(self.ek_t.as_bytes());
    }
}

/// The encapsulated key (`enc`, the argument of an `mlkem768x25519` stanza).
#[derive(Clone)]
pub(super) struct EncappedKey {
    ct_pq: Ciphertext<MlKem768>,
    ct_t: [u8; X25519_LEN],
}

impl Deserializable for EncappedKey {
    fn from_bytes(encoded: &[u8]) -> Result<Self, HpkeError> {
        let want = <Self as Serializable>::OutputSize::USIZE;
        if encoded.len() != want {
            return Err(HpkeError::IncorrectInputLength(want, encoded.len()));
        }
        let (pq, t) = encoded.split_at(KemNct::USIZE);
        let ct_pq = <[u8; KemNct::USIZE]>::try_from(pq)
            .map_err(|_| HpkeError::ValidationError)?
            .into();
        let ct_t = t.try_into().map_err(|_| HpkeError::ValidationError)?;
        Ok(EncappedKey { ct_pq, ct_t })
    }
}

impl Serializable for EncappedKey {
    type OutputSize = typenum::Sum<KemNct, U32>;

    fn write_exact(&self, buf: &mut [u8]) {
        let n = KemNct::USIZE;
        buf[..n].copy_from_slice(&self.ct_pq);
        buf[n..].copy_from_slice(&self.ct_t);
    }
}

/// MLKEM768-X25519, KEM id 0x647a.
pub(super) struct MlKem768X25519;

impl hpke::Kem for MlKem768X25519 {
    type PublicKey = PublicKey;
    type PrivateKey = PrivateKey;
    type EncappedKey = EncappedKey;
    type NSecret = U32;
    const KEM_ID: u16 = 0x647a;

    fn sk_to_pk(sk: &PrivateKey) -> PublicKey {
        PublicKey {
            ek_pq: sk.dk_pq.encapsulation_key().clone(),
            ek_t: (&sk.dk_t).into(),
        }
    }

    /// draft-ietf-hpke-pq's DeriveKeyPair: the seed is SHAKE256-LabeledDerive(ikm,
    /// "DeriveKeyPair", "", 32). (age never derives keys from input keying material; this
    /// completes the trait.)
    fn derive_keypair(ikm: &[u8]) -> (PrivateKey, PublicKey) {
        let mut seed = [0u8; 32];
        let label = b"DeriveKeyPair";
        Shake256::default()
            .chain(ikm)
            .chain(b"HPKE-v1")
            .chain(b"KEM")
            .chain(Self::KEM_ID.to_be_bytes())
            .chain((label.len() as u16).to_be_bytes())
            .chain(label)
            .chain(32u16.to_be_bytes())
            .finalize_xof_into(&mut seed);
        let sk = PrivateKey::from_seed(seed);
        seed.zeroize();
        let pk = Self::sk_to_pk(&sk);
        (sk, pk)
    }

    fn decap(
        sk_recip: &PrivateKey,
        pk_sender_id: Option<&PublicKey>,
        encapped_key: &EncappedKey,
    ) -> Result<SharedSecret<Self>, HpkeError> {
        if pk_sender_id.is_some() {
            // Auth mode is not defined for this KEM.
            return Err(HpkeError::DecapError);
        }
        let ct_t = x25519_dalek::PublicKey::from(encapped_key.ct_t);
        let ss_t = sk_recip.dk_t.diffie_hellman(&ct_t);
        if is_all_zero(ss_t.as_bytes()) {
            return Err(HpkeError::DecapError);
        }
        let ss_pq = sk_recip
            .dk_pq
            .decapsulate(&encapped_key.ct_pq)
            .map_err(|()| HpkeError::DecapError)?;
        let ek_t = x25519_dalek::PublicKey::from(&sk_recip.dk_t);
        let ss = combine(&ss_pq, ss_t.as_bytes(), &encapped_key.ct_t, ek_t.as_bytes());
        Ok(SharedSecret(ss))
    }

    fn encap<R: CryptoRng + RngCore>(
        pk_recip: &PublicKey,
        sender_id_keypair: Option<(&PrivateKey, &PublicKey)>,
        csprng: &mut R,
    ) -> Result<(SharedSecret<Self>, EncappedKey), HpkeError> {
        if sender_id_keypair.is_some() {
            return Err(HpkeError::EncapError);
        }
        let (ct_pq, ss_pq) = pk_recip
            .ek_pq
            .encapsulate(csprng)
            .map_err(|()| HpkeError::EncapError)?;
        let sk_e = x25519_dalek::EphemeralSecret::random_from_rng(&mut *csprng);
        let ct_t = x25519_dalek::PublicKey::from(&sk_e).to_bytes();
        let ss_t = sk_e.diffie_hellman(&pk_recip.ek_t);
        if is_all_zero(ss_t.as_bytes()) {
            // The recipient's X25519 key is a low-order point: nothing can be sent to it.
            return Err(HpkeError::EncapError);
        }
        let ss = combine(&ss_pq, ss_t.as_bytes(), &ct_t, pk_recip.ek_t.as_bytes());
        Ok((SharedSecret(ss), EncappedKey { ct_pq, ct_t }))
    }
}

/// Whether an X25519 output is the all-zero value (a low-order share), in constant time.
fn is_all_zero(ss: &[u8; X25519_LEN]) -> bool {
    ss.iter().fold(0u8, |acc, b| acc | b).ct_eq(&0).into()
}

/// SHAKE256(seed) → ML-KEM-768 seed (d ‖ z, 64 bytes), then the X25519 secret (32 bytes).
fn expand_key(seed: &[u8; 32]) -> (DecapsKey, x25519_dalek::StaticSecret) {
    let mut seed_pq = Zeroizing::new([0u8; 64]);
    let mut seed_t = Zeroizing::new([0u8; X25519_LEN]);
    let mut xof = Shake256::default().chain(seed).finalize_xof();
    xof.read(&mut seed_pq[..]);
    xof.read(&mut seed_t[..]);
    let mut d = Zeroizing::new([0u8; 32]);
    let mut z = Zeroizing::new([0u8; 32]);
    d.copy_from_slice(&seed_pq[..32]);
    z.copy_from_slice(&seed_pq[32..]);
    let (dk_pq, _) = MlKem768::generate_deterministic(&(*d).into(), &(*z).into());
    (dk_pq, x25519_dalek::StaticSecret::from(*seed_t))
}

/// The hybrid combiner: SHA3-256(ss_PQ ‖ ss_T ‖ ct_T ‖ ek_T ‖ label).
fn combine(
    ss_pq: &[u8],
    ss_t: &[u8],
    ct_t: &[u8],
    ek_t: &[u8],
) -> hpke::generic_array::GenericArray<u8, U32> {
    let mut h = Sha3_256::default();
    h.update(ss_pq);
    h.update(ss_t);
    h.update(ct_t);
    h.update(ek_t);
    h.update(LABEL);
    let out = h.finalize_fixed();
    let mut ss = hpke::generic_array::GenericArray::<u8, U32>::default();
    ss.copy_from_slice(&out);
    ss
}

/// FIPS 203 §7.2 modulus check: every 12-bit coefficient of the encoded ML-KEM key's
/// vector part (the bytes before the 32-byte seed ρ) is below q = 3329.
fn mlkem_key_is_canonical(ek: &[u8]) -> bool {
    const Q: u16 = 3329;
    let Some(vector) = ek.len().checked_sub(32).map(|n| &ek[..n]) else {
        return false;
    };
    vector.chunks_exact(3).all(|c| {
        let a = u16::from(c[0]) | (u16::from(c[1] & 0x0f) << 8);
        let b = u16::from(c[1] >> 4) | (u16::from(c[2]) << 4);
        a < Q && b < Q
    })
}

#[cfg(test)]
pub(super) fn is_canonical_for_test(ek: &[u8]) -> bool {
    mlkem_key_is_canonical(ek)
}
