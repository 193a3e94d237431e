//! The killswitch end to end, as root, with real processes and real
//! nftables: a feed server (`warden feed serve`) in a namespace of its own,
//! ten routers in five networks (two per /24, so five network tags) that
//! replay a simulated household whose Wyze camera runs Mirai's telnet sweep
//! and report signed sightings (`warden run --replay` with `[feed]
//! report_url`); the type is listed once the default threshold is met (5.0
//! weighted reporters, new keys weigh 0.5, one network at most 1.0, 3+
//! networks) and not one router before; `warden feed publish` writes the
//! signed files; then a further router that never saw the attack (`warden
//! run -i br-lan`, the guard's lab) syncs the feed over HTTP, recognises a
//! camera of that type on its LAN from its setup traffic alone, and
//! quarantines it, while its other device keeps working.
//!
//! All traffic stays in namespaces this test creates.

mod e2e;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e::*;
use warden_capture::{FrameSource, PcapFile};

/// The simulated household whose camera is infected (seed 3: a Wyze camera
/// 7c:78:b2:5b:d4:0d and a Tuya plug sweep for telnet).
const SEED: u64 = 3;
const CAMERA: &str = "7c:78:b2:5b:d4:0d";
const NETWORKS: u8 = 5;
const ROUTERS_PER_NETWORK: u8 = 2;
const SERVER_PORT: u16 = 8470;

fn warden() -> Command {
    Command::new(env!("CARGO_BIN_EXE_warden"))
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run warden");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout)
}

/// The feed server's namespace and the routers' networks around it.
struct FeedNets {
    server: String,
    networks: Vec<String>,
}

impl FeedNets {
    fn new(tag: &str) -> FeedNets {
        let base = format!("wf{}-{tag}", std::process::id());
        let nets = FeedNets {
            server: format!("{base}-srv"),
            networks: (1..=NETWORKS).map(|k| format!("{base}-n{k}")).collect(),
        };
        for ns in std::iter::once(&nets.server).chain(&nets.networks) {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
            run(&["ip", "netns", "add", ns]);
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        for (k, ns) in nets.networks.iter().enumerate() {
            let k = k + 1;
            let port = format!("srv{k}");
            run(&[
                "ip",
                "-n",
                &nets.server,
                "link",
                "add",
                &port,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                ns,
            ]);
            run(&[
                "ip",
                "-n",
                &nets.server,
                "addr",
                "add",
                &format!("10.60.{k}.1/24"),
                "dev",
                &port,
            ]);
            run(&["ip", "-n", &nets.server, "link", "set", &port, "up"]);
            run(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("10.60.{k}.2/24"),
                "dev",
                "eth0",
            ]);
            run(&["ip", "-n", ns, "link", "set", "eth0", "up"]);
        }
        nets
    }

    /// The server's address as network `k` (1-based) reaches it.
    fn server_url(k: usize) -> String {
        format!("http://10.60.{k}.1:{SERVER_PORT}")
    }
}

impl Drop for FeedNets {
    fn drop(&mut self) {
        for ns in self.networks.iter().chain(std::iter::once(&self.server)) {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// `warden feed serve` in the server namespace; killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The listed listings' JSON, as network 1 sees the server.
fn listings(nets: &FeedNets) -> serde_json::Value {
    in_ns(&nets.networks[0], || {
        let url = format!("{}/v1/listings", FeedNets::server_url(1));
        match ureq::get(&url).timeout(Duration::from_secs(5)).call() {
            Ok(r) => r.into_json().unwrap_or_default(),
            Err(e) => panic!("GET {url}: {e}"),
        }
    })
}

/// Whether a listing for the camera's type (its registry block) is listed.
fn camera_listed(nets: &FeedNets) -> Option<serde_json::Value> {
    let all = listings(nets);
    let items = all
        .get("listings")
        .and_then(|l| l.as_array())
        .cloned()
        .unwrap_or_default();
    items
        .into_iter()
        .find(|l| l.to_string().contains("7c:78:b2"))
}

/// Serves the files of `dir` over HTTP from namespace `ns` at `at`.
fn serve_files(ns: &str, at: std::net::SocketAddr, dir: PathBuf) {
    let listener = in_ns(ns, || TcpListener::bind(at)).unwrap();
    warden_netlab::serve_files(listener, dir);
}

/// The camera's frames from before its attack began (its setup: DHCP, DNS,
/// NTP, its cloud): what a router that never saw the attack sees.
fn camera_setup_frames(capture: &Path, labels: &Path) -> Vec<Vec<u8>> {
    let labels: serde_json::Value =
        serde_json::from_slice(&std::fs::read(labels).unwrap()).unwrap();
    let onset = labels["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["mac"] == CAMERA)
        .and_then(|d| d["behaviours"][0]["onset"].as_str())
        .expect("the camera's onset in the labels")
        .to_owned();
    let onset = time::OffsetDateTime::parse(&onset, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .unix_timestamp_nanos() as i64;
    let mac: Vec<u8> = CAMERA
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    let mut frames = Vec::new();
    let mut source = PcapFile::open(capture).unwrap();
    source
        .run(&mut |f| {
            if f.ts_ns < onset && f.data.len() > 12 && f.data[6..12] == mac[..] {
                frames.push(f.data.to_vec());
            }
        })
        .unwrap();
    frames
}

#[test]
fn routers_list_a_compromised_type_and_another_router_quarantines_its_own() {
    require_root_and_tools();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // The household every reporting router replays, dated now (sightings
    // older than 7 days are refused).
    let capture = d.join("household.pcap");
    let start = time::OffsetDateTime::now_utc().unix_timestamp() - 120;
    ok(warden()
        .args(["simulate", "--scenario", "attack-scan", "--duration", "60"])
        .args([
            "--seed",
            &SEED.to_string(),
            "--start",
            &start.to_string(),
            "-o",
        ])
        .arg(&capture));

    let nets = FeedNets::new("kill");
    let feed_db = format!("sqlite:{}", d.join("feed.db").display());
    let server = Server(
        Command::new("ip")
            .args(["netns", "exec", &nets.server])
            .arg(env!("CARGO_BIN_EXE_warden"))
            .args(["feed", "serve", "--db", &feed_db, "--listen"])
            .arg(format!("0.0.0.0:{SERVER_PORT}"))
            .arg("--secret")
            .arg(d.join("server.secret"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let up = wait_for(Duration::from_secs(20), || {
        in_ns(&nets.networks[0], || {
            ureq::get(&format!("{}/v1/status", FeedNets::server_url(1)))
                .timeout(Duration::from_secs(1))
                .call()
                .is_ok()
        })
    });
    assert!(up.is_some(), "the feed server did not come up");

    // Ten routers, two per network, each with its own key, report.
    let total = usize::from(NETWORKS * ROUTERS_PER_NETWORK);
    for i in 0..total {
        let k = i % usize::from(NETWORKS) + 1;
        let config = d.join(format!("router{i}.toml"));
        std::fs::write(
            &config,
            format!(
                "[feed]\nreport_url = \"{}\"\nkey = \"{}\"\n",
                FeedNets::server_url(k),
                d.join(format!("router{i}.key")).display()
            ),
        )
        .unwrap();
        let log = ok(Command::new("ip")
            .args(["netns", "exec", &nets.networks[k - 1]])
            .arg(env!("CARGO_BIN_EXE_warden"))
            .args(["run", "--dry-run", "--replay"])
            .arg(&capture)
            .arg("--db")
            .arg(d.join(format!("router{i}.db")))
            .arg("--config")
            .arg(&config));
        assert!(
            log.contains("sightings: 2 accepted"),
            "router {i} did not get its two sightings (camera, plug) accepted: {log}"
        );
        if i + 2 == total {
            // Nine routers: 4.5 weighted reporters. Wait past the server's
            // evaluation period (5 s): still not listed.
            std::thread::sleep(Duration::from_secs(7));
            assert!(
                camera_listed(&nets).is_none(),
                "listed before the threshold: {}",
                listings(&nets)
            );
        }
    }
    let listed = wait_for(Duration::from_secs(20), || camera_listed(&nets).is_some());
    assert!(
        listed.is_some(),
        "not listed after ten routers in five networks: {}",
        listings(&nets)
    );
    let listing = camera_listed(&nets).unwrap();
    eprintln!("listed: {listing}");
    let listing = &listing["listing"];
    assert_eq!(listing["severity"], "compromised-in-the-wild");
    assert_eq!(listing["evidence"]["networks"], 5);
    assert_eq!(listing["evidence"]["reporters"], 10);

    // Publish the signed feed as static files.
    let published = d.join("published");
    ok(warden()
        .args(["feed", "keygen", "--out"])
        .arg(d.join("root.key")));
    ok(warden()
        .args(["feed", "keygen", "--out"])
        .arg(d.join("feed.key")));
    ok(warden()
        .args(["feed", "publish", "--db", &feed_db, "--out"])
        .arg(&published)
        .arg("--key")
        .arg(d.join("feed.key"))
        .arg("--root-key")
        .arg(d.join("root.key")));
    drop(server);
    let pinned = d.join("pinned-root.json");
    std::fs::copy(published.join("root.json"), &pinned).unwrap();

    // A router that never saw the attack: its camera of the same type only
    // sets itself up. It syncs the feed and quarantines the camera.
    let lab = Lab::new("feed");
    serve_files(&lab.inet, sa(INET_IP, 8080), published.clone());
    let _https = TcpServer::start(&lab.inet, sa(INET_IP, 443));
    let config = d.join("guard.toml");
    std::fs::write(
        &config,
        format!(
            "[feed]\nurl = \"http://{INET_IP}:8080/\"\nroot = \"{}\"\ndir = \"{}\"\ncheck_interval_s = 1\n",
            pinned.display(),
            d.join("guard-feed").display()
        ),
    )
    .unwrap();
    let mut guard = Guard::start_with(
        &lab,
        d.join("guard.db"),
        &["--config", config.to_str().unwrap()],
    );
    assert!(
        wait_for(Duration::from_secs(10), || guard
            .logged("feed: now at version"))
        .is_some(),
        "the guard did not sync the feed: {:?}",
        guard.log()
    );
    run(&[
        "ip", "-n", &lab.dev, "link", "set", "eth0", "address", CAMERA,
    ]);
    assert!(tcp_connects(&lab.dev, sa(INET_IP, 443)));
    let setup = camera_setup_frames(&capture, &warden_sim::labels_path(&capture));
    assert!(setup.len() > 5, "too few setup frames: {}", setup.len());
    let started = Instant::now();
    let sent = send_raw_frames(&lab.dev, "eth0", setup);
    let quarantined = wait_for(Duration::from_secs(20), || {
        guard.assert_running();
        lab.nft_table("inet")
            .is_some_and(|t| t.to_lowercase().contains(CAMERA))
    });
    assert!(
        quarantined.is_some(),
        "the camera was not quarantined after its {sent} setup frames: {:?}",
        guard.log()
    );
    eprintln!(
        "feed: the camera was quarantined {:.2} s after its setup traffic began",
        started.elapsed().as_secs_f64()
    );
    assert!(guard.logged("feed-match"));
    assert!(
        !tcp_connects(&lab.dev, sa(INET_IP, 443)),
        "the quarantined camera still reaches the internet host"
    );
    assert!(
        tcp_connects(&lab.dev2, sa(INET_IP, 443)),
        "the other device lost its connection"
    );
    let status = guard.stop();
    assert!(status.success(), "warden run exited with {status}");
}
