//! The household's window on warden: server-rendered pages and a JSON API
//! over the guard's state database (docs/dashboard.md).
//!
//! - **Data**: its own connection to the SQLite file (WAL lets it read
//!   while `warden run` writes), through [`warden_state::Store`]; the
//!   pages and `/api/v1` share the queries of [`data`].
//! - **Actions**: trust, release and quarantine are queued with
//!   [`Store::queue_command`](warden_state::Store::queue_command), and the
//!   running guard carries them out; the dashboard never touches nftables.
//! - **Security**: no default password (a one-time setup code on first
//!   start), Argon2id, `__Host-` session cookies (Secure, HttpOnly,
//!   SameSite=Strict), a CSRF token on every POST, a login rate limit,
//!   loopback by default, strict security headers, and every value from
//!   the network or the database HTML-escaped by the templates (maud).
//!
//! Start it with [`spawn`] (its own thread, for `warden run`) or [`serve`].

pub mod api;
pub mod auth;
pub mod data;
pub mod i18n;
mod pages;
pub mod tls;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use warden_state::Store;

pub use auth::Auth;

/// Where the dashboard listens unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Requests served at once (each holds at most one SQLite query or one
/// Argon2 hash of 19 MiB).
pub const MAX_CONCURRENT: usize = 8;

/// Connections open at once, from all clients together.
pub const MAX_CONNECTIONS: usize = 64;

/// Connections open at once from one client address: one household
/// browser opens about six; a slow or hostile client cannot take them all.
pub const MAX_CONNECTIONS_PER_CLIENT: usize = 16;

/// A client must send a request's headers within this time (slowloris).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A request (its body included) must be answered within this time.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Limits that keep slow or hostile clients from holding the dashboard's
/// connections and memory (docs/dashboard.md, "Security").
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_client: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read_timeout: HEADER_READ_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            max_connections_per_client: MAX_CONNECTIONS_PER_CLIENT,
        }
    }
}

/// How to run the dashboard.
#[derive(Clone, Debug)]
pub struct Config {
    /// The guard's state database.
    pub db: PathBuf,
    pub listen: SocketAddr,
    /// The password hash file; default: the database path with
    /// `.dashboard-auth` appended.
    pub auth_file: Option<PathBuf>,
    /// Host headers accepted (DNS-rebinding defence), e.g. `router.lan:8080`.
    /// The listen address and, on loopback, `localhost` are always accepted.
    pub allowed_hosts: Vec<String>,
    pub limits: Limits,
    /// The language of "What to do next" (a catalog of [`i18n`]).
    pub language: String,
    /// Plain HTTP on loopback, its own TLS elsewhere (by default).
    pub tls: tls::Tls,
    /// A directory of threat models; devices whose vendor, model and
    /// firmware match one show its summary.
    pub models: Option<PathBuf>,
}

impl Config {
    pub fn new(db: impl Into<PathBuf>, listen: SocketAddr) -> Config {
        Config {
            db: db.into(),
            listen,
            auth_file: None,
            allowed_hosts: Vec::new(),
            limits: Limits::default(),
            language: "en".to_owned(),
            tls: tls::Tls::Auto,
            models: None,
        }
    }

    pub fn auth_path(&self) -> PathBuf {
        self.auth_file.clone().unwrap_or_else(|| {
            let mut p = self.db.clone().into_os_string();
            p.push(".dashboard-auth");
            PathBuf::from(p)
        })
    }
}

/// The state shared by all requests.
pub struct App {
    db: PathBuf,
    store: Mutex<Option<Store>>,
    pub auth: Auth,
    /// None: any Host (listening on an unspecified address with no list).
    allowed_hosts: Option<Vec<String>>,
    csp: HeaderValue,
    request_timeout: Duration,
    pub catalog: &'static i18n::Catalog,
    pub view: data::View,
}

impl App {
    /// Loads the password file; the second value is the setup code when no
    /// password is set yet.
    pub fn new(config: &Config, bound: SocketAddr) -> anyhow::Result<(Arc<App>, Option<String>)> {
        let catalog = i18n::Catalog::get(&config.language)?;
        let models = match &config.models {
            Some(dir) if dir.is_dir() => {
                let c = warden_profile::Catalog::load(dir)
                    .map_err(|e| anyhow::anyhow!("threat models {}: {e}", dir.display()))?;
                for s in &c.skipped {
                    eprintln!("warden dashboard: threat model skipped: {s}");
                }
                Some(Arc::new(c))
            }
            // No directory: no summaries.
            _ => None,
        };
        let (auth, code) = Auth::load(&config.auth_path())?;
        let mut hosts: Vec<String> = config
            .allowed_hosts
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        let allowed_hosts = if bound.ip().is_unspecified() && hosts.is_empty() {
            None
        } else {
            hosts.push(host_of(bound));
            if bound.ip().is_loopback() {
                hosts.push(format!("localhost:{}", bound.port()));
            }
            Some(hosts)
        };
        let csp = format!(
            "default-src 'none'; style-src '{}'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'; connect-src 'self'",
            pages::style_hash()
        );
        Ok((
            Arc::new(App {
                db: config.db.clone(),
                store: Mutex::new(None),
                auth,
                allowed_hosts,
                csp: HeaderValue::from_str(&csp)?,
                request_timeout: config.limits.request_timeout,
                catalog,
                view: data::View {
                    cat: catalog,
                    models,
                },
            }),
            code,
        ))
    }

    /// Runs `f` with the store, on a blocking thread (SQLite may wait for
    /// the guard's write lock).
    pub async fn with_store<T, F>(self: &Arc<Self>, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> anyhow::Result<T> + Send + 'static,
    {
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = app.store.lock().unwrap_or_else(|p| p.into_inner());
            if guard.is_none() {
                *guard = Some(Store::open(&app.db)?);
            }
            let store = guard.as_mut().expect("opened above");
            let out = f(store);
            if out.is_err() {
                // A broken connection is reopened next time.
                *guard = None;
            }
            out
        })
        .await
        .map_err(|e| AppError(anyhow::anyhow!("{e}")))?
        .map_err(AppError)
    }
}

fn host_of(addr: SocketAddr) -> String {
    match addr.ip() {
        IpAddr::V4(ip) => format!("{ip}:{}", addr.port()),
        IpAddr::V6(ip) => format!("[{ip}]:{}", addr.port()),
    }
}

/// A failure inside a handler: logged, shown to people without details.
#[derive(Debug)]
pub struct AppError(pub anyhow::Error);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        eprintln!("warden dashboard: {:#}", self.0);
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "warden dashboard: something went wrong reading the state database; see the log.",
        )
            .into_response()
    }
}

/// Host check, Origin check on every state-changing request, and the
/// security headers on every response.
async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if let Some(allowed) = &app.allowed_hosts {
        if !allowed.contains(&host) {
            return secure(
                (StatusCode::MISDIRECTED_REQUEST, "unknown host").into_response(),
                &app,
            );
        }
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) && !same_origin(req.headers(), &host) {
        return secure(
            (StatusCode::FORBIDDEN, "cross-origin request refused").into_response(),
            &app,
        );
    }
    // Covers reading the body too (the extractors read it inside): a
    // client trickling a POST body loses its request slot after this.
    let resp = match tokio::time::timeout(app.request_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => (StatusCode::REQUEST_TIMEOUT, "request took too long").into_response(),
    };
    secure(resp, &app)
}

/// A POST must come from our own pages. Browsers say where a request comes
/// from in Sec-Fetch-Site; with our no-referrer policy their Origin is
/// "null" even for our own forms, so a real Origin is checked only when
/// there is no Sec-Fetch-Site. Clients that send neither (curl) still need
/// the CSRF token.
fn same_origin(h: &HeaderMap, host: &str) -> bool {
    if let Some(site) = h.get("sec-fetch-site") {
        return matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    match h.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        Some("null") | None => true,
        Some(origin) => {
            let origin = origin.to_ascii_lowercase();
            origin == format!("http://{host}") || origin == format!("https://{host}")
        }
    }
}

fn secure(mut resp: Response, app: &App) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, app.csp.clone());
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    // Pages hold the household's device list: never cached.
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp
}

/// The whole application: pages, API and the security layer.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .merge(pages::routes())
        .merge(api::routes())
        // Forms and API bodies are small; refuse anything bigger.
        .layer(DefaultBodyLimit::max(16 * 1024))
        // Requests beyond this wait their turn instead of taking memory.
        .layer(tower::limit::ConcurrencyLimitLayer::new(MAX_CONCURRENT))
        .layer(axum::middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// What the caller gets from [`bind`]: the listener and the app, ready to
/// serve.
pub struct Bound {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    /// The one-time setup code, when no password is set yet (also printed
    /// on stderr by [`serve`]).
    pub setup_code: Option<String>,
    listener: std::net::TcpListener,
    limits: Limits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// SHA-256 of the TLS certificate, when serving TLS.
    pub fingerprint: Option<String>,
}

/// Binds the address and loads the password file, without serving yet:
/// errors (address in use, unreadable file) show at once.
pub fn bind(config: &Config) -> anyhow::Result<Bound> {
    let listener = std::net::TcpListener::bind(config.listen)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let served = tls::acceptor(&config.tls, &config.db, addr, &config.allowed_hosts)?;
    match &served {
        Some(t) => eprintln!(
            "warden dashboard: TLS with {}; check that your browser shows this SHA-256 \
             fingerprint: {}",
            t.cert_file.display(),
            t.fingerprint
        ),
        None if !addr.ip().is_loopback() => eprintln!(
            "warden dashboard: listening on {addr} (not loopback) without TLS. Browsers keep \
             the session cookie only over HTTPS or on localhost: put a TLS proxy in front of it."
        ),
        None => {}
    }
    let (app, setup_code) = App::new(config, addr)?;
    let fingerprint = served.as_ref().map(|t| t.fingerprint.clone());
    Ok(Bound {
        addr,
        app,
        setup_code,
        listener,
        limits: config.limits,
        tls: served.map(|t| t.acceptor),
        fingerprint,
    })
}

impl Bound {
    /// Serves until `shutdown` completes.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        if let Some(code) = &self.setup_code {
            eprintln!(
                "warden dashboard: no password yet. Open {scheme}://{}/setup and enter this \
                 one-time setup code: {code}",
                host_of(self.addr)
            );
        }
        eprintln!("warden dashboard: {scheme}://{}/", host_of(self.addr));
        let listener = tokio::net::TcpListener::from_std(self.listener)?;
        serve_connections(listener, router(self.app), self.limits, self.tls, shutdown).await
    }
}

/// Open connections per client address, and in all.
#[derive(Default)]
struct Connections {
    per_client: HashMap<IpAddr, usize>,
    total: usize,
}

/// A connection slot, given back when the connection ends.
struct Slot {
    conns: Arc<Mutex<Connections>>,
    ip: IpAddr,
}

impl Slot {
    fn take(conns: &Arc<Mutex<Connections>>, ip: IpAddr, limits: &Limits) -> Option<Slot> {
        let mut c = conns.lock().unwrap_or_else(|p| p.into_inner());
        let mine = c.per_client.get(&ip).copied().unwrap_or(0);
        if c.total >= limits.max_connections || mine >= limits.max_connections_per_client {
            return None;
        }
        c.total += 1;
        c.per_client.insert(ip, mine + 1);
        Some(Slot {
            conns: conns.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        c.total -= 1;
        if let Some(n) = c.per_client.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.per_client.remove(&self.ip);
            }
        }
    }
}

/// The accept loop (axum::serve has no header-read timeout): HTTP/1.1 with
/// hyper's header-read timeout, a connection cap per client and in all
/// (over it, a new connection is closed at once), and graceful shutdown.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use axum::extract::ConnectInfo;
    use tower::ServiceExt;

    let conns = Arc::new(Mutex::new(Connections::default()));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, don't spin.
                    eprintln!("warden dashboard: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        while tasks.try_join_next().is_some() {}
        let Some(slot) = Slot::take(&conns, peer.ip(), &limits) else {
            drop(stream);
            continue;
        };
        let svc = router.clone().map_request(
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            },
        );
        let svc = hyper_util::service::TowerToHyperService::new(svc);
        let stop = stop_rx.clone();
        let tls = tls.clone();
        tasks.spawn(async move {
            let _slot = slot;
            match tls {
                None => serve_one(stream, svc, limits, stop).await,
                Some(acceptor) => {
                    // The handshake is bounded like a request's headers.
                    let shake = acceptor.accept(stream);
                    if let Ok(Ok(s)) = tokio::time::timeout(limits.header_read_timeout, shake).await
                    {
                        serve_one(s, svc, limits, stop).await;
                    }
                }
            }
        });
    }
    let _ = stop_tx.send(true);
    // Requests in progress finish (each is bounded by the request timeout).
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// One connection over HTTP/1.1, with the header-read timeout, until it
/// ends or the server stops (then gracefully).
async fn serve_one<I, S>(
    io: I,
    svc: S,
    limits: Limits,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<
            axum::http::Request<hyper::body::Incoming>,
            Response = Response,
            Error = std::convert::Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    use hyper_util::rt::{TokioIo, TokioTimer};
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Binds and serves until `shutdown` completes (for an async caller).
pub async fn serve(
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    bind(&config)?.serve(shutdown).await
}

/// A dashboard running on a thread of its own.
pub struct Running {
    pub addr: SocketAddr,
    pub setup_code: Option<String>,
    /// SHA-256 of the TLS certificate, when serving TLS.
    pub fingerprint: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    /// False once the server stopped by itself (an error; [`stop`](Self::stop) returns it).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops serving and waits for the thread.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| anyhow::anyhow!("the dashboard thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Binds (errors come back at once) and serves on a new thread with a
/// small single-threaded runtime: what `warden run` calls to start the
/// dashboard beside the guard.
pub fn spawn(config: Config) -> anyhow::Result<Running> {
    let bound = bind(&config)?;
    let (addr, setup_code) = (bound.addr, bound.setup_code.clone());
    let fingerprint = bound.fingerprint.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("warden-dashboard".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(bound.serve(async {
                let _ = rx.await;
            }))
        })?;
    Ok(Running {
        addr,
        setup_code,
        fingerprint,
        stop: Some(tx),
        thread: Some(thread),
    })
}

/// The default password file for a database (`<db>.dashboard-auth`).
pub fn default_auth_path(db: &Path) -> PathBuf {
    Config::new(db, DEFAULT_LISTEN.parse().expect("valid")).auth_path()
}
