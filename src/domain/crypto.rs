//! Encryption at rest, value MACs and shown fingerprints.
//!
//! One 32-byte master key; HKDF-SHA256 derives an encryption key (XChaCha20-Poly1305,
//! a fresh random 24-byte nonce per value) and a MAC root from which each organization
//! gets its own HMAC-SHA256 key. The associated data binds every ciphertext to its
//! organization, set and key, so a ciphertext moved to another row fails to decrypt.
//!
//! Two digests of a value, for two purposes:
//! - its [`ValueMac`], the full HMAC under the organization's key, decides equality
//!   (a write of the same value, a comparison, finding a leaked value). It is stored,
//!   never shown: equal values anywhere in the organization have equal MACs, so a
//!   shown MAC would let anyone who can write a value somewhere test guesses against
//!   every other value.
//! - its shown fingerprint, 48 bits of an HMAC over the MAC *and its place*
//!   (organization, set, key): the same value in one place shows the same fingerprint
//!   across versions and deployments of that set, but a guess written into another set
//!   or key shows another fingerprint and says nothing.

use crate::error::AppError;
pub use crate::store::ValueMac;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::fmt;
use std::path::Path;
use zeroize::{Zeroize, Zeroizing};

const NONCE_LEN: usize = 24;
const KEY_CHECK_PLAINTEXT: &[u8] = b"cloakroom master key check v1";

/// A secret value in memory: printed as `***`, wiped when dropped.
#[derive(Clone, PartialEq, Eq, Zeroize)]
#[zeroize(drop)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: String) -> Self {
        Self(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where the master key came from, for the start-up message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env,
    File(String),
    Generated(String),
}

/// Reads the master key from `CLOAKROOM_MASTER_KEY` (base64 of 32 bytes), else from
/// the file named by `CLOAKROOM_MASTER_KEY_FILE`, else from `data_dir/master.key`,
/// generating that file (mode 0600) on first start.
pub fn load_master_key(
    env_key: Option<String>,
    env_file: Option<String>,
    data_dir: &Path,
) -> Result<(Zeroizing<[u8; 32]>, KeySource), String> {
    if let Some(b64) = env_key {
        let key = decode_key(&b64).map_err(|e| format!("CLOAKROOM_MASTER_KEY: {e}"))?;
        return Ok((key, KeySource::Env));
    }
    let (path, explicit) = match env_file {
        Some(p) => (std::path::PathBuf::from(p), true),
        None => (data_dir.join("master.key"), false),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = decode_key(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok((key, KeySource::File(path.display().to_string())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            let mut key = Zeroizing::new([0u8; 32]);
            rand::rngs::OsRng.fill_bytes(key.as_mut());
            let text = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(key.as_ref()));
            write_private_file(&path, text.as_bytes())
                .map_err(|e| format!("could not write {}: {e}", path.display()))?;
            Ok((key, KeySource::Generated(path.display().to_string())))
        }
        Err(e) => Err(format!("could not read master key file {}: {e}", path.display())),
    }
}

fn decode_key(b64: &str) -> Result<Zeroizing<[u8; 32]>, String> {
    let bytes = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| "the master key is not valid base64".to_string())?,
    );
    if bytes.len() != 32 {
        return Err(format!(
            "the master key must be 32 bytes (base64 of 32 random bytes), got {}",
            bytes.len()
        ));
    }
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&bytes);
    Ok(key)
}

fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::store::create_private_dir(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents)?;
    f.sync_all()
}

/// The keys derived from the master key.
pub struct Crypto {
    cipher: XChaCha20Poly1305,
    mac_root: Zeroizing<[u8; 32]>,
    /// Keys the shown fingerprints (see the module's doc).
    shown_key: Zeroizing<[u8; 32]>,
    /// Keys the hashes that name things the server must recognise but never store
    /// (rate-limit scopes: typed emails, client addresses).
    lookup_key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for Crypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Crypto(***)")
    }
}

impl Crypto {
    pub fn new(master: &[u8; 32]) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(b"cloakroom"), master);
        let mut enc = Zeroizing::new([0u8; 32]);
        let mut fp = Zeroizing::new([0u8; 32]);
        // Both lengths are 32, far below HKDF-SHA256's limit, so expand cannot fail.
        let _ = hk.expand(b"encryption v1", enc.as_mut());
        let _ = hk.expand(b"fingerprint v1", fp.as_mut());
        let mut lookup = Zeroizing::new([0u8; 32]);
        let _ = hk.expand(b"lookup v1", lookup.as_mut());
        let mut shown = Zeroizing::new([0u8; 32]);
        let _ = hk.expand(b"shown fingerprint v2", shown.as_mut());
        Self {
            cipher: XChaCha20Poly1305::new(enc.as_ref().into()),
            mac_root: fp,
            shown_key: shown,
            lookup_key: lookup,
        }
    }

    fn aad(org_id: i64, set: &str, key: &str) -> Vec<u8> {
        Self::aad_in(b"cloakroom/secret/v1", org_id, &[set, key])
    }

    /// Associated data: a domain (what kind of object), the organization, and
    /// length-prefixed parts, so no two objects share associated data.
    fn aad_in(domain: &[u8], org_id: i64, parts: &[&str]) -> Vec<u8> {
        let mut aad = domain.to_vec();
        aad.extend_from_slice(&org_id.to_be_bytes());
        for part in parts {
            aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
            aad.extend_from_slice(part.as_bytes());
        }
        aad
    }

    /// Encrypts a value for one (organization, set, key); returns nonce ‖ ciphertext.
    pub fn seal(&self, org_id: i64, set: &str, key: &str, value: &SecretValue) -> Result<Vec<u8>, AppError> {
        self.seal_raw(&Self::aad(org_id, set, key), value.expose().as_bytes())
    }

    /// Decrypts what [`Crypto::seal`] produced for the same (organization, set, key).
    pub fn open(&self, org_id: i64, set: &str, key: &str, sealed: &[u8]) -> Result<SecretValue, AppError> {
        let plain = Zeroizing::new(self.open_raw(&Self::aad(org_id, set, key), sealed)?);
        let text = String::from_utf8(plain.to_vec()).map_err(|_| AppError::Internal)?;
        Ok(SecretValue::new(text))
    }

    /// Encrypts an image pull secret's `auth` for (organization, name).
    pub fn seal_pull_auth(&self, org_id: i64, name: &str, auth: &SecretValue) -> Result<Vec<u8>, AppError> {
        self.seal_raw(
            &Self::aad_in(b"cloakroom/pull-secret/v1", org_id, &[name]),
            auth.expose().as_bytes(),
        )
    }

    /// Decrypts what [`Crypto::seal_pull_auth`] produced for the same (organization, name).
    pub fn open_pull_auth(&self, org_id: i64, name: &str, sealed: &[u8]) -> Result<SecretValue, AppError> {
        let plain = Zeroizing::new(self.open_raw(
            &Self::aad_in(b"cloakroom/pull-secret/v1", org_id, &[name]),
            sealed,
        )?);
        let text = String::from_utf8(plain.to_vec()).map_err(|_| AppError::Internal)?;
        Ok(SecretValue::new(text))
    }

    fn seal_raw(&self, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, AppError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
            .map_err(|_| AppError::Internal)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    fn open_raw(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, AppError> {
        if sealed.len() < NONCE_LEN {
            return Err(AppError::Internal);
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
            .map_err(|_| {
                tracing::error!("a stored value failed to decrypt (wrong key or moved ciphertext)");
                AppError::Internal
            })
    }

    /// A sealed known text; stored once per database so a wrong key is caught at start-up.
    pub fn key_check(&self) -> Result<Vec<u8>, AppError> {
        self.seal_raw(b"cloakroom/key-check", KEY_CHECK_PLAINTEXT)
    }

    /// Whether `sealed` (from [`Crypto::key_check`]) opens under this key.
    pub fn verify_key_check(&self, sealed: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        match self.cipher.decrypt(
            XNonce::from_slice(sealed.get(..NONCE_LEN).unwrap_or(&[0u8; NONCE_LEN])),
            Payload {
                msg: sealed.get(NONCE_LEN..).unwrap_or_default(),
                aad: b"cloakroom/key-check",
            },
        ) {
            Ok(p) => bool::from(p.ct_eq(KEY_CHECK_PLAINTEXT)),
            Err(_) => false,
        }
    }

    /// The full HMAC-SHA256 of `value` under the organization's own key: equal values
    /// in one organization have equal MACs; nothing is learned across organizations.
    pub fn value_mac(&self, org_id: i64, value: &SecretValue) -> ValueMac {
        let mut org_key = Zeroizing::new([0u8; 32]);
        let hk = Hkdf::<Sha256>::new(None, self.mac_root.as_ref());
        let _ = hk.expand(&org_id.to_be_bytes(), org_key.as_mut());
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(org_key.as_ref()).expect("HMAC accepts keys of any length");
        mac.update(value.expose().as_bytes());
        ValueMac::stored(hex::encode(mac.finalize().into_bytes()))
    }

    /// The fingerprint shown for the value with MAC `mac` at key `key` of set `set`:
    /// 12 hex characters that stay equal while that place holds that value and say
    /// nothing about any other place (see the module's doc).
    pub fn shown_fingerprint(&self, org_id: i64, set: &str, key: &str, mac: &ValueMac) -> String {
        let mut h = <Hmac<Sha256> as Mac>::new_from_slice(self.shown_key.as_ref())
            .expect("HMAC accepts keys of any length");
        h.update(&Self::aad_in(
            b"cloakroom/shown-fingerprint/v2",
            org_id,
            &[set, key, mac.as_stored()],
        ));
        hex::encode(&h.finalize().into_bytes()[..6])
    }
}

impl Crypto {
    /// Hex HMAC-SHA256 of `text` in `domain` under a key derived from the master key:
    /// the same text always gives the same name on every instance, but without the key
    /// nobody can test a guess (an email, an address) against a stored name.
    pub fn keyed_name(&self, domain: &str, text: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.lookup_key.as_ref())
            .expect("HMAC accepts keys of any length");
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(text.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Ties a value the browser carries back for us (a one-shot cookie) to what it was
    /// made for: HMAC-SHA256 of the length-prefixed `parts` under a key derived from the
    /// master key for this use alone; 64 hex characters. Without the key nobody, a
    /// sibling subdomain included, can make a value that passes.
    pub fn cookie_mac(&self, parts: &[&[u8]]) -> String {
        let mut derive = <Hmac<Sha256> as Mac>::new_from_slice(self.lookup_key.as_ref())
            .expect("HMAC accepts keys of any length");
        derive.update(b"cloakroom/one-shot-cookie/v1");
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&derive.finalize().into_bytes());
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref()).expect("HMAC accepts keys of any length");
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        hex::encode(mac.finalize().into_bytes())
    }
}

/// SHA-256 of a high-entropy token (API token, session id). Such tokens need no slow
/// hash: guessing one is as hard as guessing 256 random bits.
pub fn token_hash(token: &str) -> Vec<u8> {
    use sha2::Digest;
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A new random token with a readable prefix, e.g. `ckr_…`.
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// argon2id with the crate's defaults (19 MiB, 2 passes, 1 lane: OWASP's recommendation).
pub fn hash_password(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| AppError::Internal)
}

pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crypto(seed: u8) -> Crypto {
        Crypto::new(&[seed; 32])
    }

    #[test]
    fn a_value_round_trips_and_each_seal_uses_a_fresh_nonce() {
        let c = crypto(1);
        let v = SecretValue::new("hunter2 \n=$\"'\\ ✓".into());
        let a = c.seal(1, "prod", "DB", &v).unwrap();
        let b = c.seal(1, "prod", "DB", &v).unwrap();
        assert_ne!(a, b);
        assert_eq!(c.open(1, "prod", "DB", &a).unwrap(), v);
    }

    #[test]
    fn a_ciphertext_moved_to_another_org_set_or_key_fails_to_open() {
        let c = crypto(1);
        let sealed = c.seal(1, "prod", "DB", &SecretValue::new("x".into())).unwrap();
        assert!(c.open(2, "prod", "DB", &sealed).is_err());
        assert!(c.open(1, "staging", "DB", &sealed).is_err());
        assert!(c.open(1, "prod", "DB2", &sealed).is_err());
        // Length prefixes keep ("a","bc") and ("ab","c") apart.
        let s2 = c.seal(1, "a", "bc", &SecretValue::new("x".into())).unwrap();
        assert!(c.open(1, "ab", "c", &s2).is_err());
    }

    #[test]
    fn a_secret_value_and_a_pull_secret_never_share_associated_data() {
        let c = crypto(1);
        let v = SecretValue::new("x".into());
        let pull = c.seal_pull_auth(1, "reg", &v).unwrap();
        assert_eq!(c.open_pull_auth(1, "reg", &pull).unwrap(), v);
        assert!(c.open_pull_auth(1, "other", &pull).is_err());
        let secret = c.seal(1, "reg", "", &v).unwrap();
        assert!(c.open_pull_auth(1, "reg", &secret).is_err());
    }

    #[test]
    fn another_master_key_cannot_open_or_pass_the_key_check() {
        let check = crypto(1).key_check().unwrap();
        assert!(crypto(1).verify_key_check(&check));
        assert!(!crypto(2).verify_key_check(&check));
        assert!(!crypto(1).verify_key_check(b"short"));
        let sealed = crypto(1)
            .seal(1, "s", "k", &SecretValue::new("v".into()))
            .unwrap();
        assert!(crypto(2).open(1, "s", "k", &sealed).is_err());
    }

    #[test]
    fn value_macs_are_full_length_equal_within_an_org_and_differ_across_orgs() {
        let c = crypto(1);
        let v = SecretValue::new("same".into());
        assert_eq!(c.value_mac(1, &v), c.value_mac(1, &v));
        assert_eq!(c.value_mac(1, &v).as_stored().len(), ValueMac::STORED_LEN);
        assert_ne!(c.value_mac(1, &v), c.value_mac(2, &v));
        assert_ne!(
            c.value_mac(1, &v),
            c.value_mac(1, &SecretValue::new("other".into()))
        );
        assert_eq!(format!("{:?}", c.value_mac(1, &v)), "ValueMac(***)");
    }

    #[test]
    fn a_shown_fingerprint_is_bound_to_its_place() {
        let c = crypto(1);
        let mac = c.value_mac(1, &SecretValue::new("1234".into()));
        let pin = c.shown_fingerprint(1, "prod", "PIN", &mac);
        assert_eq!(pin.len(), 12);
        assert_eq!(pin, c.shown_fingerprint(1, "prod", "PIN", &mac));
        // The same value written anywhere else shows another fingerprint.
        assert_ne!(pin, c.shown_fingerprint(1, "scratch", "PIN", &mac));
        assert_ne!(pin, c.shown_fingerprint(1, "prod", "GUESS", &mac));
        assert_ne!(pin, c.shown_fingerprint(2, "prod", "PIN", &mac));
        // Length prefixes keep ("a","bc") and ("ab","c") apart.
        assert_ne!(
            c.shown_fingerprint(1, "a", "bc", &mac),
            c.shown_fingerprint(1, "ab", "c", &mac)
        );
    }

    #[test]
    fn secret_values_never_print() {
        let v = SecretValue::new("topsecret".into());
        assert_eq!(format!("{v:?} {v}"), "*** ***");
    }

    #[test]
    fn the_master_key_is_generated_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (k1, s1) = load_master_key(None, None, dir.path()).unwrap();
        assert!(matches!(s1, KeySource::Generated(_)));
        let (k2, s2) = load_master_key(None, None, dir.path()).unwrap();
        assert!(matches!(s2, KeySource::File(_)));
        assert_eq!(*k1, *k2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("master.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let err = load_master_key(Some("bm90IDMyIGJ5dGVz".into()), None, dir.path()).unwrap_err();
        assert!(err.contains("must be 32 bytes"), "{err}");
        let missing = load_master_key(None, Some("/nonexistent/key".into()), dir.path()).unwrap_err();
        assert!(missing.contains("could not read"), "{missing}");
    }
}
