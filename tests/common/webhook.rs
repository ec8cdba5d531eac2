//! A running `kubectl-inject serve` for the tests and the webhook bench
//! (`benches/webhook.rs` includes this file): a generated CA and serving
//! certificate (rcgen), the binary started on a free loopback port, and an
//! HTTPS client that trusts only that CA (hyper + rustls), so every request
//! goes over real TLS. Nothing here may use the rest of `tests/common`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};

/// The binary under test (Cargo sets this for benches too).
pub const BIN: &str = env!("CARGO_BIN_EXE_kubectl-inject");

/// A CA and the files of a serving certificate it signed.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca_pem: String,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    /// A new CA, and `cert.pem`/`key.pem` for 127.0.0.1 and localhost.
    pub fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "kubectl-inject test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let pki = Pki {
            // Named, to be found when a bench keeps it (`BENCH_KEEP`).
            dir: tempfile::Builder::new()
                .prefix("kubectl-inject-webhook-")
                .tempdir()
                .unwrap(),
            ca_pem: issuer.pem(),
            issuer,
        };
        pki.issue("kubectl-inject test server");
        pki
    }

    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    pub fn key(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }

    /// Writes a new serving certificate (with `common_name`) and key, signed
    /// by the same CA, replacing the files as the kubelet does for a Secret
    /// (write aside, then rename).
    pub fn issue(&self, common_name: &str) {
        let mut params = CertificateParams::new(vec![
            "localhost".to_owned(),
            "kubectl-inject.test".to_owned(),
        ])
        .unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        replace(&self.cert(), cert.pem().as_bytes());
        replace(&self.key(), key.serialize_pem().as_bytes());
    }
}

fn replace(path: &Path, bytes: &[u8]) {
    let aside = path.with_extension("new");
    std::fs::write(&aside, bytes).unwrap();
    std::fs::rename(&aside, path).unwrap();
}

/// How [`Webhook::start_with`] runs `serve`, besides what every start has:
/// the PKI's certificate, a free loopback port and an audit log file.
pub struct ServeOptions<'a> {
    /// The binary: by default [`BIN`].
    pub bin: &'a Path,
    /// Arguments after those: policy paths, `--offline`, limits…
    pub args: &'a [&'a str],
    /// The working directory (for relative policy paths); by default this
    /// process's.
    pub cwd: Option<&'a Path>,
    /// `--reload-interval`: by default 100 ms, so that tests see changed
    /// files at once; `None` keeps serve's own (the bench measures without
    /// the extra polling).
    pub reload_interval: Option<&'a str>,
}

impl Default for ServeOptions<'_> {
    fn default() -> Self {
        ServeOptions {
            bin: Path::new(BIN),
            args: &[],
            cwd: None,
            reload_interval: Some("100ms"),
        }
    }
}

/// A `serve` process; killed when dropped.
pub struct Webhook {
    child: Child,
    pub addr: String,
    /// Its standard error (the human log), line by line.
    pub log: Arc<Mutex<Vec<String>>>,
    /// Its audit log file.
    pub audit: PathBuf,
}

impl Webhook {
    /// Starts `kubectl-inject serve ARGS…` with the PKI's certificate on a
    /// free loopback port, its audit log in the PKI's directory and a short
    /// reload interval, and waits until it listens.
    pub fn start(pki: &Pki, args: &[&str]) -> Webhook {
        Self::start_in(pki, args, None)
    }

    /// As [`Webhook::start`], with the working directory `cwd`.
    pub fn start_in(pki: &Pki, args: &[&str], cwd: Option<&Path>) -> Webhook {
        Self::start_with(
            pki,
            ServeOptions {
                args,
                cwd,
                ..ServeOptions::default()
            },
        )
    }

    /// Starts `serve` as `options` say, and waits until it listens.
    pub fn start_with(pki: &Pki, options: ServeOptions) -> Webhook {
        let audit = pki
            .dir
            .path()
            .join(format!("audit-{}.log", std::process::id()));
        let mut command = Command::new(options.bin);
        command.arg("serve").args(["--listen", "127.0.0.1:0"]);
        if let Some(interval) = options.reload_interval {
            command.args(["--reload-interval", interval]);
        }
        command
            .arg("--tls-cert")
            .arg(pki.cert())
            .arg("--tls-key")
            .arg(pki.key())
            .arg("--audit-log")
            .arg(&audit)
            .args(options.args)
            .env_remove("KUBECONFIG")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(cwd) = options.cwd {
            command.current_dir(cwd);
        }
        let mut child = command.spawn().expect("kubectl-inject serve starts");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on https://").nth(1).map(str::trim) {
                    let _ = tx.send(addr.to_owned());
                }
                lines.lock().unwrap().push(line);
            }
        });
        // Generous: a loaded machine, or a bench's unoptimised binary.
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "serve did not start listening:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
        };
        Webhook {
            child,
            addr,
            log,
            audit,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    /// The server's process id (for its `/proc` entries).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's peak resident memory so far, in KiB (`VmHWM`; Linux).
    pub fn peak_memory_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The audit log's lines so far, parsed.
    pub fn audit_lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.audit)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("every audit line is JSON"))
            .collect()
    }

    /// How many log lines there are so far (for [`Webhook::wait_for_log_since`]).
    pub fn log_mark(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// The log lines from `mark` on.
    pub fn log_since(&self, mark: usize) -> String {
        let lines = self.log.lock().unwrap();
        lines.get(mark..).unwrap_or_default().join("\n")
    }

    /// Waits until `condition` holds of the log lines from `mark` on (up to
    /// 20 s), and returns them.
    pub fn wait_for_log_since(&self, mark: usize, condition: impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let text = self.log_since(mark);
            if condition(&text) {
                return text;
            }
            assert!(
                Instant::now() < until,
                "the log never matched; since the mark:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `/metrics`, as text.
    pub fn metrics(&self, client: &HttpsClient) -> String {
        let reply = client.get(&self.url("/metrics"));
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.text()
    }

    /// Waits until `condition` holds of the log (up to 20 s).
    pub fn wait_for_log(&self, condition: impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let text = self.log_text();
            if condition(&text) {
                return text;
            }
            assert!(Instant::now() < until, "the log never matched:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM (unix) and waits for the exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        #[cfg(unix)]
        {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status();
        }
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > until {
                let _ = self.child.kill();
                return self.child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTPS client that trusts only `ca_pem`, with its own runtime.
pub struct HttpsClient {
    runtime: tokio::runtime::Runtime,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, BoxBody<Bytes, Infallible>>,
}

type Infallible = std::convert::Infallible;

/// A response: status, body, and the server certificate's common name seen
/// on this connection is not exposed by hyper; tests use [`server_cert_cn`].
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn root_store(ca_pem: &str) -> rustls::RootCertStore {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    roots
}

fn client_config(ca_pem: &str) -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(root_store(ca_pem))
        .with_no_client_auth()
}

impl HttpsClient {
    /// HTTP/1.1 with keep-alive (`http2`: HTTP/2, as API servers may use).
    pub fn new(ca_pem: &str, http2: bool) -> HttpsClient {
        Self::with_idle_limit(ca_pem, http2, usize::MAX)
    }

    /// As [`HttpsClient::new`], keeping at most `idle` connections open
    /// while unused: over HTTP/1.1, one opened past that (for requests at
    /// once) is closed after its answer, so the bench gives each of its
    /// clients room.
    pub fn with_idle_limit(ca_pem: &str, http2: bool, idle: usize) -> HttpsClient {
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(client_config(ca_pem))
            .https_only();
        // No Nagle delay on small requests, as in Go's clients (the API
        // server's): a bench would measure the delayed ACKs.
        let mut tcp = HttpConnector::new();
        tcp.set_nodelay(true);
        tcp.enforce_http(false);
        let connector = if http2 {
            builder.enable_http2().wrap_connector(tcp)
        } else {
            builder.enable_http1().wrap_connector(tcp)
        };
        let mut client = Client::builder(TokioExecutor::new());
        client.pool_max_idle_per_host(idle);
        if http2 {
            client.http2_only(true);
        }
        HttpsClient {
            runtime: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap(),
            client: client.build(connector),
        }
    }

    pub fn get(&self, url: &str) -> Reply {
        self.send("GET", url, Vec::new())
    }

    pub fn post(&self, url: &str, body: impl Into<Vec<u8>>) -> Reply {
        self.send("POST", url, body.into())
    }

    pub fn send(&self, method: &str, url: &str, body: Vec<u8>) -> Reply {
        self.runtime.block_on(self.send_async(method, url, body))
    }

    /// [`HttpsClient::send`] as a future, to run many on [`HttpsClient::runtime`].
    pub async fn send_async(&self, method: &str, url: &str, body: Vec<u8>) -> Reply {
        self.try_send_async(method, url, body)
            .await
            .expect("an HTTPS answer")
    }

    /// [`HttpsClient::send_async`] with a failed request or answer as an
    /// error rather than a panic (the bench counts them).
    pub async fn try_send_async(
        &self,
        method: &str,
        url: &str,
        body: impl Into<Bytes>,
    ) -> Result<Reply, String> {
        self.send_body(method, url, Full::new(body.into()).boxed())
            .await
    }

    /// A POST whose body is sent in chunks without a Content-Length (its
    /// size unknown until the end: chunked in HTTP/1.1, DATA frames alone in
    /// HTTP/2).
    pub fn post_streamed(&self, url: &str, body: &[u8]) -> Reply {
        let chunks: Vec<Result<Frame<Bytes>, Infallible>> = body
            .chunks(1024)
            .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
            .collect();
        let body = StreamBody::new(futures_util::stream::iter(chunks)).boxed();
        self.runtime
            .block_on(self.send_body("POST", url, body))
            .expect("an HTTPS answer")
    }

    async fn send_body(
        &self,
        method: &str,
        url: &str,
        body: BoxBody<Bytes, Infallible>,
    ) -> Result<Reply, String> {
        let request = hyper::Request::builder()
            .method(method)
            .uri(url)
            .header("content-type", "application/json")
            // As the API server sends it.
            .header("accept", "application/json, */*")
            .body(body)
            .map_err(|e| e.to_string())?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("request: {e:?}"))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        Ok(Reply {
            status,
            body: body.to_vec(),
        })
    }

    /// The runtime, for tests that drive many requests concurrently.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }
}

/// The common name of the certificate the server presents now, seen with a
/// fresh TLS connection.
pub fn server_cert_cn(addr: &str, ca_pem: &str) -> String {
    use rustls::pki_types::ServerName;
    use std::io::{Read, Write};
    let config = Arc::new(client_config(ca_pem));
    let name = ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(config, name).unwrap();
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out);
    let certs = conn
        .peer_certificates()
        .expect("the server sent its certificate");
    common_name(certs[0].as_ref())
}

/// The common name of a DER certificate: the one printable string after the
/// last CN OID (2.5.4.3), the subject's; good enough for certificates this
/// harness issued.
fn common_name(der: &[u8]) -> String {
    let oid = [0x55, 0x04, 0x03];
    let mut found = String::new();
    for i in 0..der.len().saturating_sub(oid.len() + 2) {
        if der[i..i + 3] == oid {
            let len = der[i + 4] as usize;
            found = String::from_utf8_lossy(&der[i + 5..i + 5 + len]).into_owned();
        }
    }
    found
}

/// One HTTP/1.1 keep-alive connection over TLS, driven by hand: every
/// request goes over this very connection (hyper's pool would silently open
/// a new one if the server closed it), and the certificate it was opened
/// with stays visible.
pub struct KeepAlive {
    conn: rustls::ClientConnection,
    sock: std::net::TcpStream,
}

impl KeepAlive {
    /// Connects and completes the TLS handshake.
    pub fn open(addr: &str, ca_pem: &str) -> KeepAlive {
        Self::open_alpn(addr, ca_pem, &[])
    }

    /// As [`KeepAlive::open`], offering the ALPN protocols `alpn` (`h2`).
    pub fn open_alpn(addr: &str, ca_pem: &str, alpn: &[&[u8]]) -> KeepAlive {
        use rustls::pki_types::ServerName;
        let mut config = client_config(ca_pem);
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let config = Arc::new(config);
        let name = ServerName::try_from("localhost").unwrap();
        let mut conn = rustls::ClientConnection::new(config, name).unwrap();
        let mut sock = std::net::TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).expect("the TLS handshake");
        }
        KeepAlive { conn, sock }
    }

    /// Writes `bytes` as they are; `Err` once the server has closed the
    /// connection.
    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        let mut tls = rustls::Stream::new(&mut self.conn, &mut self.sock);
        tls.write_all(bytes)?;
        tls.flush()
    }

    /// Reads (and keeps) what the server sends until it closes the
    /// connection, for up to `limit`: how long that took and what came, or
    /// `None` if it stayed open.
    pub fn wait_closed(&mut self, limit: Duration) -> Option<(Duration, Vec<u8>)> {
        let started = Instant::now();
        let mut seen = Vec::new();
        while started.elapsed() < limit {
            if self.closed_now(&mut seen) {
                return Some((started.elapsed(), seen));
            }
        }
        None
    }

    /// [`KeepAlive::wait_closed`] on an HTTP/2 connection, answering the
    /// server's PINGs as a client does (a graceful shutdown waits for the
    /// answer).
    pub fn wait_closed_h2(&mut self, limit: Duration) -> Option<(Duration, Vec<u8>)> {
        let started = Instant::now();
        let mut seen = Vec::new();
        let mut answered = 0;
        while started.elapsed() < limit {
            if self.closed_now(&mut seen) {
                return Some((started.elapsed(), seen));
            }
            let pings: Vec<H2Frame> = h2_frames(&seen)
                .into_iter()
                .filter(|f| f.kind == H2Frame::PING && f.flags & H2Frame::ACK == 0)
                .collect();
            for ping in &pings[answered..] {
                let _ = self.write(&h2_frame(H2Frame::PING, H2Frame::ACK, 0, &ping.payload));
            }
            answered = pings.len();
        }
        None
    }

    /// Whether the server has closed the connection (waiting at most 100 ms
    /// to find out); what it sent meanwhile is appended to `seen`.
    pub fn closed_now(&mut self, seen: &mut Vec<u8>) -> bool {
        use std::io::{ErrorKind, Read};
        self.sock
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut tls = rustls::Stream::new(&mut self.conn, &mut self.sock);
        let mut chunk = [0u8; 16 * 1024];
        let closed = match tls.read(&mut chunk) {
            Ok(0) => true,
            Ok(n) => {
                seen.extend_from_slice(&chunk[..n]);
                false
            }
            Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        };
        self.sock
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        closed
    }

    /// The common name of the certificate this connection was opened with.
    pub fn server_cn(&self) -> String {
        let certs = self
            .conn
            .peer_certificates()
            .expect("the server sent its certificate");
        common_name(certs[0].as_ref())
    }

    /// `METHOD PATH` with a JSON body (keep-alive), and its answer.
    pub fn request(&mut self, method: &str, path: &str, body: &[u8]) -> Reply {
        let mut bytes = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(body);
        self.send_raw(&bytes)
    }

    /// A POST whose body is sent chunked, without a Content-Length (the
    /// size is known only once it has been read).
    pub fn post_chunked(&mut self, path: &str, body: &[u8]) -> Reply {
        let mut bytes = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        .into_bytes();
        for chunk in body.chunks(512) {
            bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            bytes.extend_from_slice(chunk);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"0\r\n\r\n");
        self.send_raw(&bytes)
    }

    /// Writes `request` (a whole HTTP/1.1 request) and reads one response
    /// (with a Content-Length, as the server always sends).
    pub fn send_raw(&mut self, request: &[u8]) -> Reply {
        use std::io::{Read, Write};
        let mut tls = rustls::Stream::new(&mut self.conn, &mut self.sock);
        tls.write_all(request)
            .expect("writing over the kept-alive connection");
        tls.flush().unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        let (head_end, length) = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse::<usize>().unwrap())
                    .expect("a Content-Length");
                break (end + 4, length);
            }
            let n = tls.read(&mut chunk).expect("reading the answer");
            assert!(n > 0, "the server closed the connection");
            buf.extend_from_slice(&chunk[..n]);
        };
        while buf.len() < head_end + length {
            let n = tls.read(&mut chunk).expect("reading the answer");
            assert!(n > 0, "the server closed the connection mid-answer");
            buf.extend_from_slice(&chunk[..n]);
        }
        let status_line = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("an HTTP status line");
        Reply {
            status,
            body: buf[head_end..head_end + length].to_vec(),
        }
    }
}

/// The value of one Prometheus series (`name{labels}` exactly as encoded),
/// if `/metrics` has it.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(series)?
            .strip_prefix(' ')?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

/// Polls `probe` until it returns `Some` (up to `timeout`).
pub fn wait_until<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + timeout;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An AdmissionReview v1 about any object: `gvk` is (group, version, kind).
pub fn review(
    uid: &str,
    operation: &str,
    gvk: (&str, &str, &str),
    resource: &str,
    namespace: Option<&str>,
    object: &serde_json::Value,
) -> serde_json::Value {
    let (group, version, kind) = gvk;
    let mut review = serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": resource},
            "name": object.pointer("/metadata/name").and_then(|n| n.as_str()).unwrap_or(""),
            "operation": operation,
            "userInfo": {"username": "kubernetes-admin"},
            "object": object,
            "oldObject": if operation == "UPDATE" { object.clone() } else { serde_json::Value::Null },
            "dryRun": false
        }
    });
    if let Some(namespace) = namespace {
        review["request"]["namespace"] = namespace.into();
    }
    review
}

/// The patch of an AdmissionReview answer, decoded, if it has one.
pub fn answer_patch(answer: &serde_json::Value) -> Option<serde_json::Value> {
    use base64::Engine;
    let patch = answer.pointer("/response/patch")?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(patch)
        .expect("the patch is base64");
    Some(serde_json::from_slice(&bytes).expect("the patch is JSON"))
}

/// An AdmissionReview v1 asking to create `pod` in `namespace`.
pub fn pod_review(uid: &str, namespace: &str, pod: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "name": pod.pointer("/metadata/name").and_then(|n| n.as_str()).unwrap_or(""),
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": pod,
            "oldObject": null,
            "dryRun": false,
            "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}
        }
    })
}

/// The response of an AdmissionReview answer, with its patch decoded and
/// applied to `pod`: (allowed, the pod after, the response JSON).
pub fn apply_answer(
    pod: &serde_json::Value,
    answer: &serde_json::Value,
) -> (bool, serde_json::Value, serde_json::Value) {
    let response = answer["response"].clone();
    let allowed = response["allowed"].as_bool().unwrap();
    let after = match response.get("patch").and_then(|p| p.as_str()) {
        Some(patch) => {
            assert_eq!(response["patchType"], "JSONPatch");
            apply_patch(pod, patch).unwrap_or_else(|e| panic!("{e}"))
        }
        None => pod.clone(),
    };
    (allowed, after, response)
}

/// `pod` with an answer's `patch` (a base64 JSONPatch) applied.
pub fn apply_patch(pod: &serde_json::Value, patch: &str) -> Result<serde_json::Value, String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(patch)
        .map_err(|e| format!("the patch is not base64: {e}"))?;
    let patch: json_patch::Patch =
        serde_json::from_slice(&bytes).map_err(|e| format!("not a JSON Patch: {e}"))?;
    let mut after = pod.clone();
    json_patch::patch(&mut after, &patch)
        .map_err(|e| format!("the patch does not apply to the pod: {e}"))?;
    Ok(after)
}

/// The HTTP/2 connection preface and an empty SETTINGS frame: what a client
/// sends first.
pub const H2_PREFACE_AND_SETTINGS: &[u8] =
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// The types of the HTTP/2 frames in `bytes` (a server's output from its
/// first frame on), in order: 4 SETTINGS, 6 PING, 7 GOAWAY, 3 RST_STREAM…
pub fn h2_frame_types(bytes: &[u8]) -> Vec<u8> {
    h2_frames(bytes).iter().map(|f| f.kind).collect()
}

/// One HTTP/2 frame as read off the wire.
#[derive(Debug, Clone)]
pub struct H2Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

impl H2Frame {
    pub const DATA: u8 = 0;
    pub const HEADERS: u8 = 1;
    pub const RST_STREAM: u8 = 3;
    pub const PING: u8 = 6;
    pub const GOAWAY: u8 = 7;
    pub const WINDOW_UPDATE: u8 = 8;
    pub const END_STREAM: u8 = 1;
    pub const ACK: u8 = 1;
}

fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut frame = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    frame.extend_from_slice(&[kind, flags]);
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// A header block in HPACK without compression: each field a literal
/// without indexing, with a literal name.
fn hpack_literal(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in fields {
        assert!(name.len() < 127 && value.len() < 127);
        block.push(0);
        block.push(name.len() as u8);
        block.extend_from_slice(name.as_bytes());
        block.push(value.len() as u8);
        block.extend_from_slice(value.as_bytes());
    }
    block
}

/// How a request body sent frame by frame ends.
#[derive(Debug, Clone, Copy)]
pub enum BodyEnd {
    /// The stream stays open (more is declared than sent).
    Open,
    /// The last DATA frame ends the stream, and comes after a pause (a
    /// client still uploading when the server could answer).
    After(Duration),
}

/// A POST over HTTP/2 written frame by frame (as Go's client, the API
/// server's, or curl send it), so that what the server answers is seen as
/// it is on the wire, with no client library to smooth it over: the
/// headers (`extra` besides the pseudo-headers), `body` in DATA frames of
/// 16 KiB, ending per `end`, then every frame the server sends until it
/// ends or resets stream 1 (and 300 ms more), or closes.
pub fn h2_post_frames(
    addr: &str,
    ca_pem: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &[u8],
    end: BodyEnd,
) -> Vec<H2Frame> {
    let mut conn = KeepAlive::open_alpn(addr, ca_pem, &[b"h2"]);
    let mut fields = vec![
        (":method", "POST"),
        (":scheme", "https"),
        (":authority", "localhost"),
        (":path", path),
    ];
    fields.extend_from_slice(extra);
    let mut out = H2_PREFACE_AND_SETTINGS.to_vec();
    out.extend(h2_frame(H2Frame::HEADERS, 0x4, 1, &hpack_literal(&fields)));
    let chunks: Vec<&[u8]> = body.chunks(16 * 1024).collect();
    let (last, first) = chunks.split_last().expect("a body");
    for chunk in first {
        out.extend(h2_frame(H2Frame::DATA, 0, 1, chunk));
    }
    match end {
        BodyEnd::Open => {
            out.extend(h2_frame(H2Frame::DATA, 0, 1, last));
            conn.write(&out).expect("writing the request");
        }
        BodyEnd::After(pause) => {
            conn.write(&out).expect("writing the request");
            std::thread::sleep(pause);
            // The server may have closed the stream already: that is for
            // the caller to see in the frames.
            let _ = conn.write(&h2_frame(H2Frame::DATA, H2Frame::END_STREAM, 1, last));
        }
    }
    let mut seen = Vec::new();
    let mut frames;
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        frames = h2_frames(&seen);
        let ended = frames.iter().any(|f| {
            f.stream == 1
                && (f.kind == H2Frame::RST_STREAM
                    || (f.flags & H2Frame::END_STREAM != 0
                        && matches!(f.kind, H2Frame::DATA | H2Frame::HEADERS)))
        });
        if ended {
            // What follows the end at once (a RST_STREAM) belongs to it.
            let grace = Instant::now() + Duration::from_millis(300);
            while Instant::now() < grace && !conn.closed_now(&mut seen) {}
            return h2_frames(&seen);
        }
        if Instant::now() > until || conn.closed_now(&mut seen) {
            return frames;
        }
    }
}

/// The whole frames in `bytes`, a server's output from its first frame on.
fn h2_frames(bytes: &[u8]) -> Vec<H2Frame> {
    let mut frames = Vec::new();
    let mut at = 0;
    while at + 9 <= bytes.len() {
        let length = u32::from_be_bytes([0, bytes[at], bytes[at + 1], bytes[at + 2]]) as usize;
        if at + 9 + length > bytes.len() {
            break;
        }
        frames.push(H2Frame {
            kind: bytes[at + 3],
            flags: bytes[at + 4],
            stream: u32::from_be_bytes([
                bytes[at + 5],
                bytes[at + 6],
                bytes[at + 7],
                bytes[at + 8],
            ]) & 0x7fff_ffff,
            payload: bytes[at + 9..at + 9 + length].to_vec(),
        });
        at += 9 + length;
    }
    frames
}
