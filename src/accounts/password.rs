//! Password hashes: argon2id for everything TickStock writes; the hashes of
//! the original application (werkzeug `pbkdf2:sha256:N$salt$hex` and
//! `scrypt:N:r:p$salt$hex`) are accepted and flagged for an upgrade.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Invalid,
    /// Correct; `upgrade` when the stored hash should be replaced by argon2id.
    Valid {
        upgrade: bool,
    },
}

/// An argon2id hash of `password` (PHC string, default OWASP parameters).
pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

pub fn verify(password: &str, stored: &str) -> Verdict {
    let valid = if stored.starts_with("$argon2") {
        return match PasswordHash::new(stored) {
            Ok(parsed)
                if Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok() =>
            {
                Verdict::Valid { upgrade: false }
            }
            _ => Verdict::Invalid,
        };
    } else if let Some(rest) = stored.strip_prefix("pbkdf2:") {
        verify_werkzeug_pbkdf2(password, rest)
    } else if let Some(rest) = stored.strip_prefix("scrypt:") {
        verify_werkzeug_scrypt(password, rest)
    } else {
        false
    };
    if valid {
        Verdict::Valid { upgrade: true }
    } else {
        Verdict::Invalid
    }
}

/// Spends the time a real verification would, so that an unknown user name
/// cannot be told from a wrong password by the response time.
pub fn verify_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("no user has this password").unwrap_or_default());
    let _ = verify(password, dummy);
}

/// `method$salt$hex`, the method's own parameters split off by the caller.
fn split_werkzeug(rest: &str) -> Option<(&str, &str, Vec<u8>)> {
    let mut parts = rest.splitn(3, '$');
    let params = parts.next()?;
    let salt = parts.next()?;
    let expected = hex::decode(parts.next()?).ok()?;
    Some((params, salt, expected))
}

fn equal(computed: &[u8], expected: &[u8]) -> bool {
    computed.len() == expected.len() && bool::from(computed.ct_eq(expected))
}

fn verify_werkzeug_pbkdf2(password: &str, rest: &str) -> bool {
    let Some((params, salt, expected)) = split_werkzeug(rest) else {
        return false;
    };
    let (digest, iterations) = params.split_once(':').unwrap_or((params, "600000"));
    let Ok(iterations) = iterations.parse::<u32>() else {
        return false;
    };
    if expected.is_empty() || expected.len() > 128 || iterations == 0 {
        return false;
    }
    let mut computed = vec![0u8; expected.len()];
    match digest {
        "sha256" => pbkdf2::pbkdf2_hmac::<Sha256>(
            password.as_bytes(),
            salt.as_bytes(),
            iterations,
            &mut computed,
        ),
        "sha512" => pbkdf2::pbkdf2_hmac::<Sha512>(
            password.as_bytes(),
            salt.as_bytes(),
            iterations,
            &mut computed,
        ),
        _ => return false,
    }
    equal(&computed, &expected)
}

fn verify_werkzeug_scrypt(password: &str, rest: &str) -> bool {
    let Some((params, salt, expected)) = split_werkzeug(rest) else {
        return false;
    };
    let numbers: Vec<u64> = params.split(':').filter_map(|p| p.parse().ok()).collect();
    let [n, r, p] = numbers[..] else { return false };
    if !n.is_power_of_two() || n < 2 || expected.is_empty() || expected.len() > 128 {
        return false;
    }
    let log_n = n.trailing_zeros() as u8;
    let (Ok(r), Ok(p)) = (u32::try_from(r), u32::try_from(p)) else {
        return false;
    };
    let Ok(params) = scrypt::Params::new(log_n, r, p, expected.len()) else {
        return false;
    };
    let mut computed = vec![0u8; expected.len()];
    scrypt::scrypt(password.as_bytes(), salt.as_bytes(), &params, &mut computed).is_ok()
        && equal(&computed, &expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made with Python's hashlib exactly as werkzeug does (password "correct horse").
    const PBKDF2: &str = "pbkdf2:sha256:600000$Xq3lN0wQ8sWmZr1T$0307c30f597314246920447d7a68b323d6469f11ee04fd9f65b3cb56a5cf1728";
    const SCRYPT: &str = "scrypt:32768:8:1$Xq3lN0wQ8sWmZr1T$bd20de7faa359a3ec1fac5fc94ef6ee2f8495cb92ad42adb73fed60383f175171079d407fb23c2140572b88120320d2dc5aa2ce0be2b73a9fbbd695bd226cd39";

    #[test]
    fn argon2id_round_trip() {
        let stored = hash("s3cret").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert_eq!(verify("s3cret", &stored), Verdict::Valid { upgrade: false });
        assert_eq!(verify("wrong", &stored), Verdict::Invalid);
    }

    #[test]
    fn werkzeug_hashes_are_accepted_and_flagged_for_upgrade() {
        for stored in [PBKDF2, SCRYPT] {
            assert_eq!(
                verify("correct horse", stored),
                Verdict::Valid { upgrade: true },
                "{stored}"
            );
            assert_eq!(
                verify("correct horsE", stored),
                Verdict::Invalid,
                "{stored}"
            );
        }
    }

    #[test]
    fn malformed_hashes_are_refused() {
        for stored in [
            "",
            "plain",
            "pbkdf2:sha256:x$a$00",
            "pbkdf2:md5:1$a$00",
            "scrypt:3:8:1$a$00",
            "scrypt:8$a$zz",
            "$argon2id$garbage",
        ] {
            assert_eq!(verify("anything", stored), Verdict::Invalid, "{stored}");
        }
    }
}
