//! Password hashes: argon2id for everything TickStock writes; the hashes of
//! the original application (werkzeug `pbkdf2:sha256:N$salt$hex` and
//! `scrypt:N:r:p$salt$hex`) are accepted and flagged for an upgrade.
//!
//! Each argon2 computation needs its memory cost in working memory (19 MiB
//! with the defaults). It is taken from a small pool instead of the
//! allocator: checks run on whichever blocking thread is free, and the
//! allocator would keep a freed 19 MiB in each of those threads' arenas, so
//! the resident size grew with the number of threads ever used, not with
//! the number of checks running at once.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::LazyLock;

use parking_lot::Mutex;
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

/// Working memories kept for reuse: one per core, as many as the login path
/// runs at once; more run only outside it (e.g. an admin adding users), and
/// are then freed.
static POOLED_MEMORIES: LazyLock<usize> =
    LazyLock::new(|| std::thread::available_parallelism().map_or(1, usize::from));
static MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// Runs `argon2` with a pooled working memory of at least `blocks` blocks.
fn with_memory<T>(blocks: usize, argon2: impl FnOnce(&mut [Block]) -> T) -> T {
    let pooled = {
        let mut pool = MEMORY.lock();
        let fitting = pool.iter().position(|memory| memory.len() >= blocks);
        fitting.map(|index| pool.swap_remove(index))
    };
    let mut memory = pooled.unwrap_or_else(|| vec![Block::default(); blocks]);
    let result = argon2(&mut memory);
    let mut pool = MEMORY.lock();
    if pool.len() < *POOLED_MEMORIES {
        pool.push(memory);
    }
    result
}

/// `argon2` computed into an output of `length` bytes.
fn argon2_output(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    length: usize,
) -> argon2::password_hash::Result<Output> {
    let blocks = usize::try_from(params.m_cost()).unwrap_or(usize::MAX);
    with_memory(blocks, |memory| {
        Output::init_with(length, |out| {
            argon2
                .hash_password_into_with_memory(password, salt, out, &mut *memory)
                .map_err(Into::into)
        })
    })
}

/// An argon2id hash of `password` (PHC string, default OWASP parameters).
pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    let params = Params::default();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut salt_bytes = [0u8; 64];
    let hashed = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .and_then(|salt_bytes| {
            argon2_output(
                &argon2,
                &params,
                password.as_bytes(),
                salt_bytes,
                Params::DEFAULT_OUTPUT_LEN,
            )
        })
        .and_then(|output| {
            Ok(PasswordHash {
                algorithm: Algorithm::Argon2id.ident(),
                version: Some(Version::V0x13.into()),
                params: ParamsString::try_from(&params)?,
                salt: Some(salt.as_salt()),
                hash: Some(output),
            }
            .to_string())
        });
    hashed.map_err(|e| e.to_string())
}

pub fn verify(password: &str, stored: &str) -> Verdict {
    let valid = if stored.starts_with("$argon2") {
        return if verify_argon2(password, stored) {
            Verdict::Valid { upgrade: false }
        } else {
            Verdict::Invalid
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

/// What `Argon2::verify_password` does, on pooled memory.
fn verify_argon2(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(version), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        parsed
            .version
            .map_or(Ok(Version::default()), Version::try_from),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params.clone());
    // Output compares in constant time.
    argon2_output(&argon2, &params, password.as_bytes(), salt, expected.len())
        .is_ok_and(|computed| computed == expected)
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
    fn pooled_argon2_agrees_with_the_argon2_crate_both_ways() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let ours = hash("s3cret").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"s3cret", &parsed)
                .is_ok()
        );
        let salt = SaltString::generate(&mut OsRng);
        // Other parameters and variants than ours are read from the hash.
        for algorithm in [Algorithm::Argon2id, Algorithm::Argon2i, Algorithm::Argon2d] {
            let params = Params::new(4096, 2, 1, Some(24)).unwrap();
            let theirs = Argon2::new(algorithm, Version::V0x10, params)
                .hash_password(b"s3cret", &salt)
                .unwrap()
                .to_string();
            assert_eq!(verify("s3cret", &theirs), Verdict::Valid { upgrade: false });
            assert_eq!(verify("s3creT", &theirs), Verdict::Invalid);
        }
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
