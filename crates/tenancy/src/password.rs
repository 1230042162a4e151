//! Password hashing with argon2id. Both calls are CPU-heavy on purpose: run them with
//! `tokio::task::spawn_blocking` from async code (`hash_blocking`, `verify_blocking`).

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

/// Hash a password with argon2id and a random salt (PHC string format).
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password failed: {e}"))
}

/// Check a password against a stored hash; a malformed hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// [`hash`] on the blocking thread pool.
pub async fn hash_blocking(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash(&password)).await?
}

/// [`verify`] on the blocking thread pool.
pub async fn verify_blocking(password: String, stored: String) -> bool {
    tokio::task::spawn_blocking(move || verify(&password, &stored))
        .await
        .unwrap_or(false)
}

/// A hash that matches no password, for spending the same time on unknown e-mails as on
/// known ones (no account enumeration through timing).
pub fn dummy_hash() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$7mIbtQf8XJmiv8y2fL0EWDt6xS0p4r6FQQ0aGzm6bSk"
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = super::hash("s3cret pass").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("s3cret pass", &h));
        assert!(!super::verify("wrong", &h));
        assert!(!super::verify("s3cret pass", "not a hash"));
        assert!(!super::verify("anything", super::dummy_hash()));
    }
}
