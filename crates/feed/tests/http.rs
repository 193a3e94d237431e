//! The HTTP fetcher against a tiny static file server on loopback.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::thread;

use warden_feed::client::{FetchError, Fetcher, HttpFetcher, TrustedFeed, Via};
use warden_feed::publish::{self, new_root, PublishOptions};
use warden_feed::{synth, KeyPair};

const T0: i64 = 1_764_000_000;

/// Serves files of `dir` for `requests` requests, then stops. `/huge`
/// streams 3 MiB without a Content-Length; `/liar` claims 1 GiB.
fn serve(dir: PathBuf, requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                    break;
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let name = path.rsplit('/').next().unwrap_or("");
            match name {
                "huge" => {
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                    let chunk = vec![b'x'; 1 << 16];
                    for _ in 0..48 {
                        if stream.write_all(&chunk).is_err() {
                            break;
                        }
                    }
                }
                "liar" => {
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\nConnection: close\r\n\r\nxx",
                    );
                }
                _ => match std::fs::read(dir.join(name)) {
                    Ok(body) => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(&body);
                    }
                    Err(_) => {
                        let _ = stream.write_all(
                            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                    }
                },
            }
        }
    });
    format!("http://{addr}/feed")
}

#[test]
fn sync_over_http_and_size_caps() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let root_key = KeyPair::from_seed([1; 32]);
    let feed_key = KeyPair::from_seed([2; 32]);
    let root = new_root(
        1,
        T0 + 86_400 * 365,
        &[root_key.public()],
        1,
        &[feed_key.public()],
        1,
    );
    let pinned = publish::write_root(&out, &root, &[&root_key])
        .unwrap()
        .to_vec();
    let listings: Vec<_> = (0..200).map(synth::listing).collect();
    publish::publish(&out, listings, &[&feed_key], &PublishOptions::at(T0)).unwrap();

    // root.2.json (404), timestamp.json, snapshot.1.jsonl, then the cap tests.
    let base = serve(out.clone(), 6);
    let http = HttpFetcher::new(&base);
    let mut feed = TrustedFeed::open(&tmp.path().join("state"), &pinned).unwrap();
    let r = feed.sync(&http, T0 + 5).unwrap();
    assert_eq!(r.via, Via::Snapshot);
    assert_eq!(feed.listings().unwrap().len(), 200);

    assert!(matches!(
        http.get("missing.json", 1024),
        Err(FetchError::NotFound(_))
    ));
    assert!(matches!(
        http.get("huge", 1 << 20),
        Err(FetchError::TooLarge { max, .. }) if max == 1 << 20
    ));
    assert!(matches!(
        http.get("liar", 1 << 20),
        Err(FetchError::TooLarge { .. })
    ));
    assert!(matches!(
        http.get("../etc/passwd", 1024),
        Err(FetchError::BadPath(_))
    ));
}
