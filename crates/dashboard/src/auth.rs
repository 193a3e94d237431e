//! Who may use the dashboard: a one-time setup code, then one password
//! (Argon2id hash in a file of its own, mode 0600), sessions in memory,
//! CSRF tokens, and a login rate limit.

use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::rngs::OsRng;
use rand::RngCore;
use subtle::ConstantTimeEq;

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 10;
/// Longest password accepted (Argon2 hashes any length; this bounds the work).
pub const MAX_PASSWORD: usize = 256;
/// Failed attempts (login or setup) allowed per client address per window.
pub const MAX_FAILURES: u32 = 5;
/// Failed attempts allowed from all addresses together per window: an
/// attacker with many addresses still gets few guesses.
pub const MAX_FAILURES_TOTAL: u32 = 20;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(300);
/// A session lasts this long after login.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3_600);
/// Sessions kept at once; the oldest goes first.
const MAX_SESSIONS: usize = 32;

/// The session cookie. `__Host-`: the browser keeps it only if it is
/// Secure, has Path=/ and no Domain, so no other host can set it.
pub const SESSION_COOKIE: &str = "__Host-warden-session";
/// The pre-login CSRF cookie (double submit) for the setup and login forms.
pub const PRE_COOKIE: &str = "__Host-warden-pre";

/// 32 random bytes from the OS, as hex.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A setup code people can type: 12 characters without look-alikes (60 bits).
fn setup_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 12];
    OsRng.fill_bytes(&mut b);
    let chars: Vec<char> = b
        .iter()
        .map(|x| ALPHABET[usize::from(*x) % ALPHABET.len()] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Equal in constant time (tokens and codes).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn normalize_code(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

pub struct Session {
    pub csrf: String,
    created: Instant,
}

#[derive(Default)]
struct Failures {
    by_addr: HashMap<IpAddr, (Instant, u32)>,
    total: (Option<Instant>, u32),
}

/// Why a login or setup was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures: wait this long.
    RateLimited(Duration),
    Wrong,
    /// The password does not meet the rules (the message says why).
    Weak(&'static str),
    /// The setup was done already (or never needed).
    NoSetup,
}

pub struct Auth {
    file: PathBuf,
    /// The PHC string, once a password is set.
    hash: Mutex<Option<String>>,
    /// The one-time setup code while no password is set.
    code: Mutex<Option<String>>,
    sessions: Mutex<HashMap<String, Session>>,
    failures: Mutex<Failures>,
    /// One Argon2 computation at a time: each takes 19 MiB, and a router
    /// must not run out of memory because many logins arrive at once.
    argon: Mutex<()>,
}

impl Auth {
    /// Loads the password file; if there is none, makes a setup code and
    /// returns it so the caller can print it.
    pub fn load(file: &Path) -> anyhow::Result<(Auth, Option<String>)> {
        let hash = match std::fs::read_to_string(file) {
            Ok(s) => {
                let s = s.trim().to_owned();
                PasswordHash::new(&s).map_err(|e| {
                    anyhow::anyhow!("{}: not a password hash ({e})", file.display())
                })?;
                Some(s)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(anyhow::anyhow!("reading {}: {e}", file.display())),
        };
        let code = hash.is_none().then(setup_code);
        Ok((
            Auth {
                file: file.to_owned(),
                hash: Mutex::new(hash),
                code: Mutex::new(code.clone()),
                sessions: Mutex::default(),
                failures: Mutex::default(),
                argon: Mutex::default(),
            },
            code,
        ))
    }

    pub fn needs_setup(&self) -> bool {
        self.hash.lock().unwrap().is_none()
    }

    fn check_limit(&self, addr: IpAddr) -> Result<(), Refusal> {
        let mut f = self.failures.lock().unwrap();
        let now = Instant::now();
        f.by_addr
            .retain(|_, (since, _)| now.duration_since(*since) < FAILURE_WINDOW);
        if let (Some(since), _) = f.total {
            if now.duration_since(since) >= FAILURE_WINDOW {
                f.total = (None, 0);
            }
        }
        let wait = |since: Instant| FAILURE_WINDOW.saturating_sub(now.duration_since(since));
        if let Some((since, n)) = f.by_addr.get(&addr) {
            if *n >= MAX_FAILURES {
                return Err(Refusal::RateLimited(wait(*since)));
            }
        }
        if let (Some(since), n) = f.total {
            if n >= MAX_FAILURES_TOTAL {
                return Err(Refusal::RateLimited(wait(since)));
            }
        }
        Ok(())
    }

    fn fail(&self, addr: IpAddr) {
        let mut f = self.failures.lock().unwrap();
        let now = Instant::now();
        f.by_addr.entry(addr).or_insert((now, 0)).1 += 1;
        let since = f.total.0.unwrap_or(now);
        f.total = (Some(since), f.total.1 + 1);
    }

    fn new_session(&self) -> String {
        let token = random_token();
        let mut s = self.sessions.lock().unwrap();
        s.retain(|_, v| v.created.elapsed() < SESSION_LIFETIME);
        if s.len() >= MAX_SESSIONS {
            if let Some(oldest) = s
                .iter()
                .min_by_key(|(_, v)| v.created)
                .map(|(k, _)| k.clone())
            {
                s.remove(&oldest);
            }
        }
        s.insert(
            token.clone(),
            Session {
                csrf: random_token(),
                created: Instant::now(),
            },
        );
        token
    }

    /// First visit: the setup code and a new password. Returns a session.
    pub fn setup(&self, addr: IpAddr, code: &str, password: &str) -> Result<String, Refusal> {
        let mut current = self.code.lock().unwrap();
        // Checked under the lock: concurrent attempts cannot all pass it
        // before the first failure is counted.
        self.check_limit(addr)?;
        let Some(expected) = current.as_deref() else {
            return Err(Refusal::NoSetup);
        };
        if !same(&normalize_code(code), &normalize_code(expected)) {
            self.fail(addr);
            return Err(Refusal::Wrong);
        }
        check_strength(password)?;
        let hash = {
            let _one = self.argon.lock().unwrap_or_else(|p| p.into_inner());
            hash_password(password).map_err(|_| Refusal::Weak("could not hash"))?
        };
        if write_private(&self.file, &hash).is_err() {
            return Err(Refusal::Weak("could not save the password file"));
        }
        *self.hash.lock().unwrap() = Some(hash);
        // One time only: the code is gone once a password is set.
        *current = None;
        drop(current);
        Ok(self.new_session())
    }

    /// Returns a new session for the right password.
    pub fn login(&self, addr: IpAddr, password: &str) -> Result<String, Refusal> {
        let hash = self.hash.lock().unwrap().clone();
        let Some(hash) = hash else {
            return Err(Refusal::NoSetup);
        };
        let _one = self.argon.lock().unwrap_or_else(|p| p.into_inner());
        // Checked under the lock: concurrent attempts cannot all pass it
        // before the first failure is counted.
        self.check_limit(addr)?;
        let ok = password.len() <= MAX_PASSWORD
            && PasswordHash::new(&hash)
                .map(|h| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &h)
                        .is_ok()
                })
                .unwrap_or(false);
        if !ok {
            self.fail(addr);
            return Err(Refusal::Wrong);
        }
        Ok(self.new_session())
    }

    /// The session's CSRF token, if the session exists and is fresh.
    pub fn session_csrf(&self, token: &str) -> Option<String> {
        let s = self.sessions.lock().unwrap();
        s.get(token)
            .filter(|v| v.created.elapsed() < SESSION_LIFETIME)
            .map(|v| v.csrf.clone())
    }

    pub fn logout(&self, token: &str) {
        self.sessions.lock().unwrap().remove(token);
    }
}

fn check_strength(password: &str) -> Result<(), Refusal> {
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        return Err(Refusal::Weak("the password needs at least 10 characters"));
    }
    if password.len() > MAX_PASSWORD {
        return Err(Refusal::Weak("the password is longer than 256 bytes"));
    }
    Ok(())
}

fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Writes `text` to `path` readable by the owner only, atomically (a new
/// file renamed over the old one).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u8) -> IpAddr {
        IpAddr::from([192, 168, 1, n])
    }

    #[test]
    fn setup_code_works_once_and_the_password_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auth");
        let (auth, code) = Auth::load(&file).unwrap();
        let code = code.expect("a setup code on first start");
        assert_eq!(code.len(), 14);
        assert!(auth.needs_setup());
        assert_eq!(
            auth.setup(addr(1), &code, "short"),
            Err(Refusal::Weak("the password needs at least 10 characters"))
        );
        // Typed in lower case without dashes is the same code.
        let typed = code.replace('-', "").to_lowercase();
        assert!(auth.setup(addr(1), &typed, "correct horse battery").is_ok());
        assert_eq!(
            auth.setup(addr(1), &code, "another password"),
            Err(Refusal::NoSetup)
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let stored = std::fs::read_to_string(&file).unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains("correct horse"));
        // A restart reads the hash and needs no code.
        let (again, code) = Auth::load(&file).unwrap();
        assert!(code.is_none());
        assert!(again.login(addr(2), "correct horse battery").is_ok());
        assert_eq!(again.login(addr(2), "wrong password"), Err(Refusal::Wrong));
    }

    #[test]
    fn wrong_passwords_are_rate_limited_per_address_and_in_total() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auth");
        std::fs::write(&file, hash_password("the right password").unwrap()).unwrap();
        let (auth, _) = Auth::load(&file).unwrap();
        for _ in 0..MAX_FAILURES {
            assert_eq!(auth.login(addr(1), "nope nope nope"), Err(Refusal::Wrong));
        }
        // Locked out, even with the right password.
        assert!(matches!(
            auth.login(addr(1), "the right password"),
            Err(Refusal::RateLimited(_))
        ));
        // Another address is not locked out by the first one's failures...
        assert!(auth.login(addr(2), "the right password").is_ok());
        // ...until all addresses together reach the total.
        for n in 3..7 {
            for _ in 0..MAX_FAILURES {
                let _ = auth.login(addr(n), "nope nope nope");
            }
        }
        assert!(matches!(
            auth.login(addr(99), "the right password"),
            Err(Refusal::RateLimited(_))
        ));
    }

    #[test]
    fn concurrent_guesses_get_no_more_tries_than_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auth");
        std::fs::write(&file, hash_password("the right password").unwrap()).unwrap();
        let (auth, _) = Auth::load(&file).unwrap();
        let auth = std::sync::Arc::new(auth);
        let threads: Vec<_> = (0..12)
            .map(|i| {
                let auth = auth.clone();
                std::thread::spawn(move || auth.login(addr(1), &format!("guess {i:02} nope")))
            })
            .collect();
        let wrong = threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|r| *r == Err(Refusal::Wrong))
            .count();
        assert_eq!(wrong, MAX_FAILURES as usize, "passwords actually tried");
    }

    #[test]
    fn sessions_have_their_own_csrf_tokens_and_end_at_logout() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auth");
        std::fs::write(&file, hash_password("the right password").unwrap()).unwrap();
        let (auth, _) = Auth::load(&file).unwrap();
        let a = auth.login(addr(1), "the right password").unwrap();
        let b = auth.login(addr(1), "the right password").unwrap();
        assert_ne!(a, b);
        let (ca, cb) = (
            auth.session_csrf(&a).unwrap(),
            auth.session_csrf(&b).unwrap(),
        );
        assert_ne!(ca, cb);
        assert_eq!(ca.len(), 64);
        auth.logout(&a);
        assert!(auth.session_csrf(&a).is_none());
        assert!(auth.session_csrf("not a session").is_none());
    }
}
