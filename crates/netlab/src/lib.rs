//! Plumbing shared by the tests that run real traffic between network
//! namespaces they create (crates/enforce and the `warden run` end-to-end
//! suite): running tools, entering a namespace from a thread, a small TCP
//! peer, a static file server (the feed tests), and finding Chromium for the
//! browser suites. Each suite builds its own topology on top.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use nix::sched::{setns, CloneFlags};

pub fn sa(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), port)
}

/// Fails the test, saying what to do, unless it runs as root with every
/// `(tool, version flag, Debian package)` installed. These tests never skip.
pub fn require_root_and(suite: &str, tools: &[(&str, &str, &str)]) {
    assert!(
        nix::unistd::geteuid().is_root(),
        "{suite} need root (network namespaces and nftables): run `cargo test` as root, as CI does"
    );
    for (tool, arg, package) in tools {
        let ok = Command::new(tool)
            .arg(arg)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            ok,
            "`{tool}` is missing: install the Debian package {package} (apt-get install {package})"
        );
    }
}

/// Runs a command to success and returns its standard output.
pub fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `f` on a thread that has entered network namespace `ns`. Sockets it
/// opens stay in that namespace wherever they are used later, and programs
/// it starts (nft) run in it.
pub fn in_ns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            enter(ns);
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

/// Like [`in_ns`], on a thread of its own that the caller joins later.
pub fn spawn_in_ns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        enter(&ns);
        f()
    })
}

fn enter(ns: &str) {
    let path = format!("/run/netns/{ns}");
    let file = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    setns(file, CloneFlags::CLONE_NEWNET).unwrap_or_else(|e| panic!("setns {path}: {e}"));
}

/// Writes a sysctl of the namespace the calling thread is in.
pub fn sysctl(key: &str, value: &str) {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    std::fs::write(&path, value).unwrap_or_else(|e| panic!("{path}: {e}"));
}

/// A TCP server in a namespace that answers every connection with "ok".
pub struct TcpServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TcpServer {
    pub fn start(ns: &str, at: SocketAddr) -> TcpServer {
        let listener =
            in_ns(ns, || TcpListener::bind(at)).unwrap_or_else(|e| panic!("bind {at}: {e}"));
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.write_all(b"ok");
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        TcpServer {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for TcpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A TCP connection is accepted and answers "ok" within a second.
pub fn tcp_connects(ns: &str, to: SocketAddr) -> bool {
    in_ns(ns, || {
        let Ok(mut s) = TcpStream::connect_timeout(&to, Duration::from_secs(1)) else {
            return false;
        };
        s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let mut buf = [0u8; 2];
        s.read_exact(&mut buf).is_ok() && &buf == b"ok"
    })
}

/// A static file server for tests: serves the files directly in `dir` (by
/// the last path segment of each GET) on `listener`, 404 for anything else,
/// one request per connection, until the test process ends. Bind the
/// listener where the test needs it (loopback, or inside a namespace with
/// [`in_ns`]).
pub fn serve_files(listener: TcpListener, dir: std::path::PathBuf) {
    use std::io::{BufRead, BufReader};
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Ok(read_half) = stream.try_clone() else {
                continue;
            };
            let mut reader = BufReader::new(read_half);
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let name = path.rsplit('/').next().unwrap_or("");
            match std::fs::read(dir.join(name))
                .ok()
                .filter(|_| !name.is_empty())
            {
                Some(body) => {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(&body);
                }
                None => {
                    let _ = stream.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
            }
        }
    });
}

/// The Chromium binary for browser tests: `WARDEN_CHROMIUM`, else
/// `/usr/bin/chromium`. Panics with what to do when it is missing: these
/// tests fail, never skip.
pub fn chromium() -> std::path::PathBuf {
    let path = std::path::PathBuf::from(
        std::env::var_os("WARDEN_CHROMIUM").unwrap_or_else(|| "/usr/bin/chromium".into()),
    );
    if !path.exists() {
        let ci = if std::env::var_os("CI").is_some() {
            " CI is set: .ci/setup.d/chromium.sh should have installed it."
        } else {
            ""
        };
        panic!(
            "Chromium is missing at {}: install it with `sh .ci/setup.d/chromium.sh` (Debian's chromium package) \
             or point WARDEN_CHROMIUM at a Chromium binary.{ci}",
            path.display()
        );
    }
    path
}

/// `target/screenshots`, created: where browser tests keep their artefacts.
/// Pass the test's `env!("CARGO_TARGET_TMPDIR")` (which is `target/tmp`).
pub fn screenshots_dir(target_tmpdir: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(target_tmpdir)
        .parent()
        .expect("CARGO_TARGET_TMPDIR has a parent")
        .join("screenshots");
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    dir
}
