//! `serve` as it runs: a real socket on loopback, the client's address from
//! the connection, the evaluator loop listing on its own, the secret file.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt as _;
use std::time::{Duration, Instant};

use warden_feed::{Behaviour, BehaviourKind, DeviceType, KeyPair, Sighting};
use warden_feed_server::engine::ListingConfig;
use warden_feed_server::server::{serve, ServerConfig};

fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let json = text
        .split("\r\n\r\n")
        .nth(1)
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or_default();
    (status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_ingests_over_tcp_and_the_evaluator_lists() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let cfg = ServerConfig {
        listen: addr.parse().unwrap(),
        db: format!("sqlite:{}", dir.path().join("feed.db").display()),
        secret: dir.path().join("secret"),
        evaluate_every_secs: 1,
        // One reporter in one network lists here, to see the loop at work.
        listing: ListingConfig {
            min_weighted_reporters: 0.5,
            min_networks: 1,
            ..Default::default()
        },
        ..Default::default()
    };
    // Its own runtime on its own thread, as `warden feed serve` runs it; the
    // thread ends with the test process.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        if let Err(e) = rt.block_on(serve(cfg)) {
            eprintln!("serve: {e:#}");
        }
    });
    let a = addr.clone();
    let up = tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if TcpStream::connect(&a).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    })
    .await
    .unwrap();
    assert!(up, "server did not start");
    let mode = std::fs::metadata(dir.path().join("secret"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    let k = KeyPair::from_seed([5; 32]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let s = Sighting {
        version: 1,
        nonce: "0123456789abcdef0123456789abcdef".into(),
        sent_at: now,
        window_start: now - now.rem_euclid(3600),
        window_hours: 1,
        reporter: k.public(),
        device: DeviceType {
            mac_prefix: "00:17:88/24".parse().unwrap(),
            vendor: Some("Acme".into()),
            model: Some("Cam X1".into()),
            firmware: None,
            fingerprint: "cd".repeat(32),
        },
        behaviour: Behaviour {
            kind: BehaviourKind::Scan,
            peak_pps_bucket: 64,
            targets_bucket: 256,
            ports: vec![23],
        },
    };
    let body = s.sign(&k).to_vec();
    let a = addr.clone();
    let result = tokio::task::spawn_blocking(move || {
        let first = http(&a, "POST", "/v1/sightings", &body);
        let again = http(&a, "POST", "/v1/sightings", &body);
        let huge = http(&a, "POST", "/v1/sightings", &vec![b'{'; 20_000]);
        // The evaluator runs every second: wait for the listing.
        let start = Instant::now();
        let mut listed = serde_json::Value::Null;
        while start.elapsed() < Duration::from_secs(20) {
            let (_, l) = http(&a, "GET", "/v1/listings", b"");
            if l["listings"].as_array().is_some_and(|v| !v.is_empty()) {
                listed = l;
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        (first, again, huge, listed)
    })
    .await
    .unwrap();
    let (first, again, huge, listed) = result;
    assert_eq!(first.0, 202, "{}", first.1);
    assert_eq!(again.0, 409, "{}", again.1);
    assert_eq!(huge.0, 413, "{}", huge.1);
    assert!(huge.1["error"].as_str().unwrap().contains("limit"));
    let l = &listed["listings"][0]["listing"];
    assert_eq!(l["matches"]["model"], "Cam X1", "{listed}");
    assert_eq!(l["behaviours"][0], "scan");
    assert_eq!(l["source"], "evidence");
}
