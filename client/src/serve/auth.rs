//! Who may use the Flight SQL endpoint: users with argon2id password hashes, and the
//! bearer tokens they get for a password.
//!
//! A client sends `authorization: Basic base64(user:password)` with its handshake and
//! gets `authorization: Bearer <token>` back; every later call carries the token. Tokens
//! are 256 random bits kept only in this process's memory, each with an expiry: a forged
//! or expired token, and any call without one, is `Unauthenticated`. Passwords are never
//! stored or logged: users are `name:<PHC string>` lines (`huntsman hash-password` makes
//! one), from a file or from `HUNTSMAN_FLIGHT_USERS`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use argon2::password_hash::Output;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{
    GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD,
};
use tonic::Status;
use tonic::metadata::MetadataMap;

/// `huntsman hash-password --user NAME`: reads one password line from standard input
/// and prints the `user:PHC` line a `--users` file holds.
///
/// # Errors
/// A user name that would break the file's format, unreadable input, or an empty
/// password.
pub fn hash_password_command(user: &str) -> Result<()> {
    let user = user.trim();
    if user.is_empty() || user.contains([':', ';', '\n']) {
        bail!("--user {user:?}: a name without ':', ';' or line breaks");
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']);
    println!("{user}:{}", hash_password(password)?);
    Ok(())
}

/// Hashes `password` as a PHC string (argon2id, a random salt, the crate's defaults).
///
/// # Errors
/// An empty password.
pub fn hash_password(password: &str) -> Result<String> {
    if password.is_empty() {
        bail!("the password is empty");
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))
}

/// Most memory a users-file hash may ask argon2 for, in KiB (256 MiB).
const MAX_MEMORY_KIB: u32 = 256 * 1024;

/// The users who may log in, by name, with their password hashes.
#[derive(Clone)]
pub struct Users {
    hashes: HashMap<String, String>,
    /// argon2's working memory, allocated once and reused by every check (one at a
    /// time): a fresh 19 MiB allocation per login stays resident in the allocator.
    memory: std::sync::Arc<Mutex<Vec<Block>>>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: hashes stay out of logs too.
        let mut names: Vec<&String> = self.hashes.keys().collect();
        names.sort();
        f.debug_struct("Users").field("names", &names).finish()
    }
}

/// A hash that matches no password, checked for unknown users so that a wrong name takes
/// as long as a wrong password.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$aHVudHNtYW5kZWNveXNhbHQ$\
                     0Hq8PZ6m9Jk8A7F6fVwqkYd6Y6cF0Yv0mC2Tq3Wm3tE";

impl Users {
    /// Parses `name:<PHC string>` entries, one per line or separated by `;`; blank
    /// lines and lines starting with `#` are skipped. `origin` names the source in
    /// errors.
    ///
    /// # Errors
    /// A malformed entry (named by its line, never echoed whole: it holds a hash), a
    /// hash that is not a PHC string, a name given twice, or no user at all.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let mut hashes = HashMap::new();
        let entries = text.lines().flat_map(|line| line.split(';')).enumerate();
        for (index, entry) in entries {
            let entry = entry.trim();
            if entry.is_empty() || entry.starts_with('#') {
                continue;
            }
            let at = index + 1;
            let Some((name, hash)) = entry.split_once(':') else {
                bail!("{origin}: entry {at} is not name:<password hash>");
            };
            let name = name.trim();
            if name.is_empty() || name.chars().any(|c| c.is_control() || c == ':') {
                bail!("{origin}: entry {at} has no valid user name");
            }
            let parsed = PasswordHash::new(hash.trim()).map_err(|e| {
                anyhow::anyhow!(
                    "{origin}: the password hash of {name:?} is not a PHC string ({e}); \
                     make one with `huntsman hash-password`"
                )
            })?;
            let params = Params::try_from(&parsed).map_err(|e| {
                anyhow::anyhow!("{origin}: the password hash of {name:?}: {e}")
            })?;
            if Algorithm::try_from(parsed.algorithm).is_err() {
                bail!("{origin}: the password hash of {name:?} is not an argon2 hash");
            }
            if params.m_cost() > MAX_MEMORY_KIB {
                bail!(
                    "{origin}: the password hash of {name:?} asks for more than \
                     {MAX_MEMORY_KIB} KiB of memory"
                );
            }
            if hashes
                .insert(name.to_string(), hash.trim().to_string())
                .is_some()
            {
                bail!("{origin}: user {name:?} is listed twice");
            }
        }
        if hashes.is_empty() {
            bail!("{origin}: no users");
        }
        Ok(Self {
            hashes,
            memory: std::sync::Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// Reads a users file.
    ///
    /// # Errors
    /// The file cannot be read, or [`Users::parse`] refuses it.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("users file {}", path.display()))?;
        Self::parse(&text, &format!("users file {}", path.display()))
    }

    /// Whether `password` is `user`'s. Slow on purpose (one argon2id hash, whether or
    /// not the user exists): call it off the async threads.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        let known = self.hashes.get(user);
        let stored = known.map_or(DECOY, String::as_str);
        let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        let ok = verify_with(stored, password.as_bytes(), &mut memory);
        ok && known.is_some()
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether there are none (never, once parsed).
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

/// Checks `password` against the PHC string `stored`, hashing in `memory` (grown to
/// the hash's memory cost and kept). The comparison is constant-time.
fn verify_with(stored: &str, password: &[u8], memory: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) =
        (Algorithm::try_from(hash.algorithm), Params::try_from(&hash))
    else {
        return false;
    };
    let version = match hash.version {
        Some(v) => match Version::try_from(v) {
            Ok(v) => v,
            Err(_) => return false,
        },
        None => Version::V0x13,
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    if params.m_cost() > MAX_MEMORY_KIB {
        return false;
    }
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, &mut out, &mut memory[..blocks])
        .is_ok()
        && Output::new(&out).is_ok_and(|computed| computed == expected)
}

/// Issued bearer tokens and their expiry.
#[derive(Debug)]
pub struct Tokens {
    ttl: Duration,
    live: Mutex<HashMap<String, Session>>,
}

#[derive(Debug, Clone)]
struct Session {
    user: String,
    expires: Instant,
}

impl Tokens {
    /// Tokens that live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            live: Mutex::new(HashMap::new()),
        }
    }

    /// A new token for `user`; expired ones are dropped on the way.
    pub fn issue(&self, user: &str) -> String {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let now = Instant::now();
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.retain(|_, s| s.expires > now);
        live.insert(
            token.clone(),
            Session {
                user: user.to_string(),
                expires: now + self.ttl,
            },
        );
        token
    }

    /// The user a live token belongs to.
    ///
    /// # Errors
    /// `Unauthenticated` for an unknown or expired token (an expired one is removed).
    pub fn check(&self, token: &str) -> Result<String, Status> {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        match live.get(token) {
            Some(s) if s.expires > Instant::now() => Ok(s.user.clone()),
            Some(_) => {
                live.remove(token);
                Err(Status::unauthenticated(
                    "the token has expired: log in again",
                ))
            }
            None => Err(Status::unauthenticated("unknown token: log in again")),
        }
    }
}

/// Standard base64 with or without `=` padding: RFC 7617 pads, Go's Flight client
/// (under ADBC) does not.
const BASIC: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// `user` and `password` from an `authorization: Basic ...` header.
///
/// # Errors
/// `Unauthenticated` when the header is missing or malformed.
pub fn basic_credentials(metadata: &MetadataMap) -> Result<(String, String), Status> {
    let header = authorization(metadata)?;
    let Some(encoded) = strip_scheme(header, "basic") else {
        return Err(Status::unauthenticated(
            "log in with Basic credentials (user and password) in the handshake",
        ));
    };
    let decoded = BASIC
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| Status::unauthenticated("malformed Basic credentials"))?;
    let (user, password) = decoded
        .split_once(':')
        .ok_or_else(|| Status::unauthenticated("malformed Basic credentials"))?;
    Ok((user.to_string(), password.to_string()))
}

/// The token of an `authorization: Bearer ...` header.
///
/// # Errors
/// `Unauthenticated` when the header is missing or not a bearer token.
pub fn bearer_token(metadata: &MetadataMap) -> Result<&str, Status> {
    let header = authorization(metadata)?;
    strip_scheme(header, "bearer")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Status::unauthenticated("no bearer token: log in with the handshake first")
        })
}

fn authorization(metadata: &MetadataMap) -> Result<&str, Status> {
    metadata
        .get("authorization")
        .ok_or_else(|| {
            Status::unauthenticated("no credentials: log in with a user and password")
        })?
        .to_str()
        .map_err(|_| Status::unauthenticated("malformed authorization header"))
}

/// The rest of `header` after `scheme` and a space, the scheme in any case.
fn strip_scheme<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    let (given, rest) = header.trim_start().split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_wrong_passwords_and_names_do_not() {
        let hash = hash_password("s3cret pass").expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        let users = Users::parse(&format!("# hunters\nalice:{hash}\n\n"), "test")
            .expect("parses");
        assert!(users.verify("alice", "s3cret pass"));
        assert!(!users.verify("alice", "s3cret pas"));
        assert!(!users.verify("bob", "s3cret pass"));
        assert!(!users.verify("bob", ""));
        // The decoy is a valid PHC string, so unknown users cost a full hash.
        assert!(PasswordHash::new(DECOY).is_ok());
        // The pooled check agrees with argon2's own, and reuses its memory.
        let parsed = PasswordHash::new(&hash).expect("phc");
        use argon2::password_hash::PasswordVerifier;
        assert!(
            Argon2::default()
                .verify_password(b"s3cret pass", &parsed)
                .is_ok()
        );
        let mut memory = Vec::new();
        assert!(verify_with(&hash, b"s3cret pass", &mut memory));
        let blocks = memory.len();
        assert!(blocks >= 19 * 1024, "{blocks}");
        assert!(!verify_with(&hash, b"s3cret pas", &mut memory));
        assert_eq!(memory.len(), blocks);
        assert!(hash_password("").is_err());
    }

    #[test]
    fn malformed_users_are_refused_without_echoing_hashes() {
        let hash = hash_password("pw").expect("hash");
        let err = Users::parse("alice", "HUNTSMAN_FLIGHT_USERS").unwrap_err();
        assert!(err.to_string().contains("entry 1"), "{err}");
        let err = Users::parse("alice:plaintext-password", "f").unwrap_err();
        assert!(err.to_string().contains("not a PHC string"), "{err}");
        assert!(!err.to_string().contains("plaintext-password"), "{err}");
        let greedy = hash.replace("m=19456", "m=300000");
        let err = Users::parse(&format!("a:{greedy}"), "f").unwrap_err();
        assert!(err.to_string().contains("memory"), "{err}");
        let twice = format!("a:{hash};a:{hash}");
        assert!(
            Users::parse(&twice, "f")
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        assert!(Users::parse("# nobody\n", "f").is_err());
        let both = Users::parse(&format!("a:{hash};b:{hash}"), "f").expect("two");
        assert_eq!(both.len(), 2);
        assert!(!format!("{both:?}").contains("argon2"), "{both:?}");
    }

    #[test]
    fn tokens_are_random_checked_and_expire() {
        let tokens = Tokens::new(Duration::from_millis(200));
        let a = tokens.issue("alice");
        let b = tokens.issue("alice");
        assert_ne!(a, b);
        assert!(a.len() >= 43, "{a}");
        assert_eq!(tokens.check(&a).expect("live"), "alice");
        let forged = tokens.check("AAAA").unwrap_err();
        assert_eq!(forged.code(), tonic::Code::Unauthenticated);
        std::thread::sleep(Duration::from_millis(300));
        let expired = tokens.check(&a).unwrap_err();
        assert_eq!(expired.code(), tonic::Code::Unauthenticated);
        assert!(expired.message().contains("expired"), "{expired:?}");
    }

    #[test]
    fn headers_are_parsed_strictly() {
        let mut md = MetadataMap::new();
        assert_eq!(
            basic_credentials(&md).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        for (padded, basic) in [(true, "YWxpY2U6cGE6c3M="), (false, "YWxpY2U6cGE6c3M")] {
            md.insert(
                "authorization",
                format!("Basic {basic}").parse().expect("ascii"),
            );
            assert_eq!(
                basic_credentials(&md).expect("basic"),
                ("alice".to_string(), "pa:ss".to_string()),
                "padded: {padded}"
            );
        }
        assert!(bearer_token(&md).is_err());
        md.insert("authorization", "bearer abc".parse().expect("ascii"));
        assert_eq!(bearer_token(&md).expect("bearer"), "abc");
        md.insert("authorization", "Basic !!!".parse().expect("ascii"));
        assert!(basic_credentials(&md).is_err());
    }
}
