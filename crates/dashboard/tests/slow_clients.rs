//! Slow and greedy clients against the real server on loopback: the
//! dashboard must never become the weakest device (docs/dashboard.md,
//! "Security"). The hostile client connects from 127.0.0.2 so that the
//! household's browser on 127.0.0.1 is a different client address.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use warden_dashboard::{Config, Limits, Running};

fn start(limits: Limits) -> (tempfile::TempDir, Running) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("warden.db");
    common::fill(&db);
    let mut config = Config::new(&db, "127.0.0.1:0".parse().unwrap());
    config.limits = limits;
    let running = warden_dashboard::spawn(config).unwrap();
    (dir, running)
}

async fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

/// A complete GET from 127.0.0.1; returns the status line and how long it took.
async fn normal_get(addr: SocketAddr) -> (String, Duration) {
    let t = Instant::now();
    let mut c = connect_from("127.0.0.1", addr).await;
    c.write_all(
        format!("GET /setup HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut reply))
        .await
        .expect("a normal client is answered")
        .unwrap();
    let reply = String::from_utf8_lossy(&reply);
    (reply.lines().next().unwrap_or("").to_owned(), t.elapsed())
}

/// Reads until the server closes; None if it is still open after `wait`.
async fn closed_within(c: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    match tokio::time::timeout(wait, c.read_to_end(&mut got)).await {
        Ok(_) => Some(got),
        Err(_) => None,
    }
}

fn limits(header: u64, request: u64) -> Limits {
    Limits {
        header_read_timeout: Duration::from_millis(header),
        request_timeout: Duration::from_millis(request),
        ..Limits::default()
    }
}

#[tokio::test]
async fn a_slowloris_is_cut_off_at_the_header_timeout_and_others_are_served_meanwhile() {
    let (_dir, running) = start(limits(1_000, 3_000));
    let addr = running.addr;
    let t = Instant::now();
    let mut slow = connect_from("127.0.0.2", addr).await;
    slow.write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\n").as_bytes())
        .await
        .unwrap();
    // Trickle one header line every 150 ms, never ending the head, and
    // watch for the server closing the connection.
    let (mut rd, mut wr) = slow.into_split();
    let trickle = tokio::spawn(async move {
        for i in 0..100 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            if wr
                .write_all(format!("X-Slow-{i}: a\r\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Meanwhile the household's browser is answered at once.
    let (status, took) = normal_get(addr).await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(took < Duration::from_millis(900), "{took:?}");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), rd.read_to_end(&mut rest)).await;
    let at = t.elapsed();
    assert!(
        closed.is_ok(),
        "the slow connection is still open after 5 s"
    );
    assert!(
        at >= Duration::from_millis(900) && at < Duration::from_millis(2_500),
        "closed after {at:?}, the header timeout is 1 s"
    );
    // No response to a request that never finished its head, beyond
    // hyper's 408 at most.
    let rest = String::from_utf8_lossy(&rest);
    assert!(
        rest.is_empty() || rest.starts_with("HTTP/1.1 408"),
        "{rest}"
    );
    trickle.abort();
    // And the server still serves.
    assert!(normal_get(addr).await.0.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn an_idle_connection_is_closed_at_the_header_timeout() {
    let (_dir, running) = start(limits(800, 3_000));
    let t = Instant::now();
    let mut idle = connect_from("127.0.0.2", running.addr).await;
    let got = closed_within(&mut idle, Duration::from_secs(4)).await;
    assert!(got.is_some(), "an idle connection stayed open for 4 s");
    assert!(
        t.elapsed() >= Duration::from_millis(700),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn a_trickled_body_gets_408_at_the_request_timeout() {
    let (_dir, running) = start(limits(1_000, 1_500));
    let addr = running.addr;
    let mut slow = connect_from("127.0.0.2", addr).await;
    let t = Instant::now();
    slow.write_all(
        format!(
            "POST /login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: 1000\r\n\r\npassword="
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let (mut rd, mut wr) = slow.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if wr.write_all(b"a").await.is_err() {
                break;
            }
        }
    });
    let mut reply = Vec::new();
    let done = tokio::time::timeout(Duration::from_secs(5), rd.read_to_end(&mut reply)).await;
    let at = t.elapsed();
    trickle.abort();
    assert!(done.is_ok(), "the trickling POST is still open after 5 s");
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(
        at >= Duration::from_millis(1_400) && at < Duration::from_millis(3_000),
        "{at:?}"
    );
}

#[tokio::test]
async fn one_client_cannot_take_every_connection() {
    let (_dir, running) = start(Limits {
        header_read_timeout: Duration::from_secs(20),
        request_timeout: Duration::from_secs(20),
        max_connections: 6,
        max_connections_per_client: 4,
    });
    let addr = running.addr;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from("127.0.0.2", addr).await);
    }
    // The server has accepted them by the time a request on a fresh
    // client is answered.
    assert!(normal_get(addr).await.0.starts_with("HTTP/1.1 200"));
    // The fifth from the same address is closed at once...
    let mut fifth = connect_from("127.0.0.2", addr).await;
    assert!(
        closed_within(&mut fifth, Duration::from_secs(2))
            .await
            .is_some(),
        "a fifth connection from one client was kept"
    );
    // ...while the four it holds stay open (the header timeout is 20 s).
    for c in &mut held {
        assert!(closed_within(c, Duration::from_millis(50)).await.is_none());
    }
    // Another client fills the total (6), then a third is refused too.
    held.push(connect_from("127.0.0.3", addr).await);
    held.push(connect_from("127.0.0.3", addr).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut over = connect_from("127.0.0.4", addr).await;
    assert!(closed_within(&mut over, Duration::from_secs(2))
        .await
        .is_some());
    // Slots come back when connections end.
    held.clear();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(normal_get(addr).await.0.starts_with("HTTP/1.1 200"));
}
