//! The suites AWS-LC's HPKE serves (its `EVP_HPKE_*` API, RFC 9180 base
//! mode): DHKEM(X25519, HKDF-SHA256) with HKDF-SHA256 or HKDF-SHA384 and
//! any of AES-128-GCM, AES-256-GCM and ChaCha20Poly1305, the mandatory
//! suite of DAP-09 section 6 among them.
//!
//! Why: AWS-LC's X25519 is assembly on x86-64 and aarch64 (formally
//! verified), and its AES-GCM uses the CPU's AES instructions; and a
//! [`RecipientKey`] keeps the public key it computed once, when built,
//! beside the private key, so an open costs one scalar multiplication
//! (RFC 9180 section 4.1, `Decap`, needs `pkR` for the KEM context).
//! AWS-LC is already linked into every dyad binary (it is rustls' crypto
//! provider), so this adds no C library.
//!
//! This file holds every `unsafe` block of the HPKE module: calls into
//! AWS-LC with pointers and lengths taken from live Rust slices, and
//! owned handles freed exactly once. AWS-LC frees with `OPENSSL_free`,
//! which wipes an allocation before releasing it, so a dropped
//! [`RecipientKey`] leaves no private key behind.
//!
//! # Where is
//!
//! - which suites go to AWS-LC -> [`AwsLcSuite::of`];
//! - `SealBase` -> [`seal`]; `OpenBase` with a prepared key ->
//!   [`RecipientKey::open`].

use super::{HpkeCiphersuite, HpkeError};
use aws_lc_sys as ffi;
use dyad_messages::draft09::{HpkeAeadId, HpkeKdfId, HpkeKemId};
use std::ptr::NonNull;
use zeroize::Zeroize;

/// A suite AWS-LC serves, as its algorithm handles (static tables inside
/// AWS-LC, valid for the life of the process).
#[derive(Clone, Copy)]
pub(crate) struct AwsLcSuite {
    kem: *const ffi::EVP_HPKE_KEM,
    kdf: *const ffi::EVP_HPKE_KDF,
    aead: *const ffi::EVP_HPKE_AEAD,
}

// SAFETY: the handles point at immutable static tables of AWS-LC.
unsafe impl Send for AwsLcSuite {}
// SAFETY: as above.
unsafe impl Sync for AwsLcSuite {}

impl AwsLcSuite {
    /// The suite's AWS-LC handles, or `None` if AWS-LC does not serve it.
    pub(crate) fn of(suite: &HpkeCiphersuite) -> Option<Self> {
        if suite.kem != HpkeKemId::X25519HkdfSha256 {
            return None;
        }
        // SAFETY: these functions take nothing and return pointers to
        // static tables.
        unsafe {
            let kdf = match suite.kdf {
                HpkeKdfId::HkdfSha256 => ffi::EVP_hpke_hkdf_sha256(),
                HpkeKdfId::HkdfSha384 => ffi::EVP_hpke_hkdf_sha384(),
                HpkeKdfId::HkdfSha512 | HpkeKdfId::Other(_) => return None,
            };
            let aead = match suite.aead {
                HpkeAeadId::Aes128Gcm => ffi::EVP_hpke_aes_128_gcm(),
                HpkeAeadId::Aes256Gcm => ffi::EVP_hpke_aes_256_gcm(),
                HpkeAeadId::ChaCha20Poly1305 => ffi::EVP_hpke_chacha20_poly1305(),
                HpkeAeadId::ExportOnly | HpkeAeadId::Other(_) => return None,
            };
            Some(Self {
                kem: ffi::EVP_hpke_x25519_hkdf_sha256(),
                kdf,
                aead,
            })
        }
    }
}

/// An HPKE context, freed (and its keys wiped) on drop.
struct Context(NonNull<ffi::EVP_HPKE_CTX>);

impl Context {
    fn new() -> Result<Self, HpkeError> {
        // SAFETY: allocates and zero-initializes a context, or returns null.
        NonNull::new(unsafe { ffi::EVP_HPKE_CTX_new() })
            .map(Self)
            .ok_or(HpkeError::Seal)
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `EVP_HPKE_CTX_new` and is freed once.
        unsafe { ffi::EVP_HPKE_CTX_free(self.0.as_ptr()) }
    }
}

/// Forgets AWS-LC's thread-local error queue after a failure: dyad reports
/// failures by return value, and a stale entry must not be read later by
/// other AWS-LC users on the thread (rustls).
fn clear_errors() {
    // SAFETY: touches only the calling thread's error queue.
    unsafe { ffi::ERR_clear_error() }
}

/// Draws from AWS-LC's random generator once, so that its one-time
/// seeding happens now rather than inside the first seal. AWS-LC seeds a
/// process-wide generator from CPU jitter on first use (and again only
/// after 2^24 draws), which took about 20 ms on a 2-core machine: in an
/// aggregator that first use was the seal of the first aggregate share,
/// on the path of a Collector's first collection.
pub(crate) fn seed_randomness() {
    let mut byte = [0u8; 1];
    // SAFETY: the pointer and length are those of a live, writable array.
    // RAND_bytes cannot fail: AWS-LC aborts the process rather than return
    // without randomness.
    unsafe {
        ffi::RAND_bytes(byte.as_mut_ptr(), byte.len());
    }
    byte.zeroize();
}

/// `SealBase` to `public_key`: `(enc, ciphertext)`. A public key that is
/// no X25519 key (wrong length) or a low-order point (an all-zero shared
/// secret) is [`HpkeError::InvalidPublicKey`].
pub(crate) fn seal(
    suite: AwsLcSuite,
    public_key: &[u8],
    info: &[u8],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), HpkeError> {
    let ctx = Context::new()?;
    let mut enc = vec![0u8; ffi::EVP_HPKE_MAX_ENC_LENGTH as usize];
    let mut enc_len = 0usize;
    // SAFETY: every pointer/length pair is a live slice; `enc` has room
    // for `enc.len()` bytes; the suite handles are static.
    let set_up = unsafe {
        ffi::EVP_HPKE_CTX_setup_sender(
            ctx.0.as_ptr(),
            enc.as_mut_ptr(),
            &mut enc_len,
            enc.len(),
            suite.kem,
            suite.kdf,
            suite.aead,
            public_key.as_ptr(),
            public_key.len(),
            info.as_ptr(),
            info.len(),
        )
    };
    if set_up != 1 {
        clear_errors();
        // With static, valid suite handles, only the peer key can be at
        // fault: its length, or a low-order point.
        return Err(HpkeError::InvalidPublicKey);
    }
    enc.truncate(enc_len);
    // SAFETY: the context was set up above.
    let overhead = unsafe { ffi::EVP_HPKE_CTX_max_overhead(ctx.0.as_ptr()) };
    let mut ciphertext = vec![0u8; plaintext.len() + overhead];
    let mut ciphertext_len = 0usize;
    // SAFETY: live slices; `ciphertext` has room for `ciphertext.len()`.
    let sealed = unsafe {
        ffi::EVP_HPKE_CTX_seal(
            ctx.0.as_ptr(),
            ciphertext.as_mut_ptr(),
            &mut ciphertext_len,
            ciphertext.len(),
            plaintext.as_ptr(),
            plaintext.len(),
            aad.as_ptr(),
            aad.len(),
        )
    };
    if sealed != 1 {
        clear_errors();
        return Err(HpkeError::Seal);
    }
    ciphertext.truncate(ciphertext_len);
    Ok((enc, ciphertext))
}

/// A recipient's X25519 key as AWS-LC holds it: the private key and the
/// public key computed from it once, here.
pub(crate) struct RecipientKey(NonNull<ffi::EVP_HPKE_KEY>);

// SAFETY: the key is never written after `new`; AWS-LC only reads it
// (`EVP_HPKE_CTX_setup_recipient` takes it by const pointer), so shared
// use across threads is sound.
unsafe impl Send for RecipientKey {}
// SAFETY: as above.
unsafe impl Sync for RecipientKey {}

impl RecipientKey {
    /// The key of `private_key` (32 bytes, `SerializePrivateKey` of
    /// X25519), with its public key.
    pub(crate) fn new(suite: AwsLcSuite, private_key: &[u8]) -> Result<Self, HpkeError> {
        // SAFETY: allocates and zero-initializes a key, or returns null.
        let key = NonNull::new(unsafe { ffi::EVP_HPKE_KEY_new() })
            .map(Self)
            .ok_or(HpkeError::InvalidPrivateKey)?;
        // SAFETY: `key` is a fresh key; the private key is a live slice.
        let initialized = unsafe {
            ffi::EVP_HPKE_KEY_init(
                key.0.as_ptr(),
                suite.kem,
                private_key.as_ptr(),
                private_key.len(),
            )
        };
        if initialized != 1 {
            clear_errors();
            return Err(HpkeError::InvalidPrivateKey);
        }
        Ok(key)
    }

    /// The public key computed from the private key when it was loaded.
    pub(crate) fn public_key(&self) -> Vec<u8> {
        let mut out = vec![0u8; ffi::EVP_HPKE_MAX_PUBLIC_KEY_LENGTH as usize];
        let mut len = 0usize;
        // SAFETY: `out` has room for `out.len()` bytes; the key is initialized.
        let ok = unsafe {
            ffi::EVP_HPKE_KEY_public_key(self.0.as_ptr(), out.as_mut_ptr(), &mut len, out.len())
        };
        if ok != 1 {
            clear_errors();
            len = 0;
        }
        out.truncate(len);
        out
    }

    /// `OpenBase`. Every failure is [`HpkeError::Open`].
    pub(crate) fn open(
        &self,
        suite: AwsLcSuite,
        encapsulated_key: &[u8],
        info: &[u8],
        payload: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, HpkeError> {
        let ctx = Context::new().map_err(|_| HpkeError::Open)?;
        // SAFETY: live slices; the key is initialized and only read.
        let set_up = unsafe {
            ffi::EVP_HPKE_CTX_setup_recipient(
                ctx.0.as_ptr(),
                self.0.as_ptr(),
                suite.kdf,
                suite.aead,
                encapsulated_key.as_ptr(),
                encapsulated_key.len(),
                info.as_ptr(),
                info.len(),
            )
        };
        if set_up != 1 {
            clear_errors();
            return Err(HpkeError::Open);
        }
        // The plaintext is never longer than the ciphertext.
        let mut plaintext = vec![0u8; payload.len()];
        let mut plaintext_len = 0usize;
        // SAFETY: live slices; `plaintext` has room for `plaintext.len()`.
        let opened = unsafe {
            ffi::EVP_HPKE_CTX_open(
                ctx.0.as_ptr(),
                plaintext.as_mut_ptr(),
                &mut plaintext_len,
                plaintext.len(),
                payload.as_ptr(),
                payload.len(),
                aad.as_ptr(),
                aad.len(),
            )
        };
        if opened != 1 {
            clear_errors();
            // Whatever was written before the tag check failed.
            plaintext.zeroize();
            return Err(HpkeError::Open);
        }
        plaintext.truncate(plaintext_len);
        Ok(plaintext)
    }
}

impl Drop for RecipientKey {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `EVP_HPKE_KEY_new` and is freed
        // once; `OPENSSL_free` wipes the private key.
        unsafe { ffi::EVP_HPKE_KEY_free(self.0.as_ptr()) }
    }
}
