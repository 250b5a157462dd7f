//! `load --addr ADDR --tokens FILE [--ceiling ADDR] [--connections 32]
//! [--duration 5] [--slice 0.5] [--warmup 2] [--warmup-pass] [--path /orders]
//! [--once] [--grpc] [--stats ADDR] [--ceiling-stats ADDR]`: a load
//! generator cheap enough not to be the bottleneck. One
//! current-thread runtime (the run pins it to one core), a fixed number of
//! keep-alive HTTP/1.1 connections, each sending the next request as soon
//! as the last answer is read, the `Authorization: Bearer` tokens taken
//! round-robin from FILE across all connections (a line `TOKEN PROOF` is
//! sent as `Authorization: DPoP TOKEN` with `DPoP: PROOF`). Requests are written from
//! a reused buffer and answers read by `Content-Length` with no HTTP
//! library (`wrk` with a Lua script choosing tokens was near its own limit
//! at 100-140 k/s on this kind of machine).
//!
//! After a warm-up that is not recorded (with `--warmup-pass`, at least one
//! pass over the tokens), the service is measured in slices of `--slice`
//! seconds. With `--ceiling`, the unprotected service (same headers) gets
//! the slices between, in the order C V V C C V ..., and each variant slice
//! is compared with its neighbouring ceiling slice: a drift of the shared
//! machine's speed over seconds weighs on both alike. `--once` uses each
//! token at most once (the cold path: the run ends early when they run
//! out). Prints one JSON line: requests, seconds, requests/s, latency
//! percentiles in µs, errors (answers other than 200), the server's CPU
//! time per request (from `GET /__stats`), and with `--ceiling` the same for
//! the ceiling and the medians of the slice-by-slice ratios.
//!
//! With `--grpc`, each connection is an HTTP/2 connection (the `h2` crate)
//! carrying one unary gRPC call at a time to `--path` (an empty message;
//! `grpc-status` 0 is a success), and `--stats` / `--ceiling-stats` say
//! where the servers answer `GET /__stats` (HTTP/1.1).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http::header::{self, HeaderName, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Args {
    addr: SocketAddr,
    /// The unprotected service, measured in alternate slices with `addr`.
    ceiling: Option<SocketAddr>,
    tokens: Vec<String>,
    /// With `--grpc`: each line's `authorization` (and `dpop`) header
    /// values, made once, so that a request costs the generator no
    /// formatting, copy or check of a kilobyte token.
    grpc_headers: Vec<(HeaderValue, Option<HeaderValue>)>,
    connections: usize,
    duration: Duration,
    slice: Duration,
    warmup: Duration,
    warmup_pass: bool,
    path: String,
    once: bool,
    grpc: bool,
    stats: Option<SocketAddr>,
    ceiling_stats: Option<SocketAddr>,
}

fn usage(why: &str) -> ! {
    eprintln!(
        "load: {why}\nusage: load --addr ADDR --tokens FILE [--ceiling ADDR] [--connections N] [--duration SECS] [--slice SECS] [--warmup SECS] [--warmup-pass] [--path PATH] [--once] [--grpc] [--stats ADDR] [--ceiling-stats ADDR]"
    );
    std::process::exit(2);
}

fn args() -> Args {
    let mut addr = None;
    let mut tokens = None;
    let mut out = Args {
        addr: "127.0.0.1:0".parse().unwrap(),
        ceiling: None,
        tokens: Vec::new(),
        grpc_headers: Vec::new(),
        connections: 32,
        duration: Duration::from_secs(5),
        slice: Duration::from_millis(500),
        warmup: Duration::from_secs(2),
        warmup_pass: false,
        path: "/orders".into(),
        once: false,
        grpc: false,
        stats: None,
        ceiling_stats: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
        };
        let secs =
            |v: String| Duration::from_secs_f64(v.parse().unwrap_or_else(|_| usage("seconds")));
        let addr_of = |v: String| {
            v.parse()
                .unwrap_or_else(|_| usage("an address is HOST:PORT"))
        };
        match arg.as_str() {
            "--addr" => addr = Some(addr_of(value())),
            "--ceiling" => out.ceiling = Some(addr_of(value())),
            "--tokens" => tokens = Some(value()),
            "--connections" => {
                out.connections = value().parse().unwrap_or_else(|_| usage("--connections N"))
            }
            "--duration" => out.duration = secs(value()),
            "--slice" => out.slice = secs(value()),
            "--warmup" => out.warmup = secs(value()),
            "--warmup-pass" => out.warmup_pass = true,
            "--path" => out.path = value(),
            "--once" => out.once = true,
            "--grpc" => out.grpc = true,
            "--stats" => out.stats = Some(addr_of(value())),
            "--ceiling-stats" => out.ceiling_stats = Some(addr_of(value())),
            _ => usage(&format!("unknown argument {arg}")),
        }
    }
    out.addr = addr.unwrap_or_else(|| usage("--addr is required"));
    let file = tokens.unwrap_or_else(|| usage("--tokens is required"));
    out.tokens = jwt_gate_load::read_tokens(std::path::Path::new(&file))
        .unwrap_or_else(|e| usage(&format!("{file}: {e}")));
    if out.tokens.is_empty() || out.connections == 0 || out.slice.is_zero() {
        usage("no tokens, no connections or an empty slice");
    }
    if out.grpc {
        let value = |v: String| HeaderValue::try_from(v).unwrap_or_else(|_| usage("a token line"));
        out.grpc_headers = out
            .tokens
            .iter()
            .map(|line| match line.split_once(' ') {
                Some((token, proof)) => (value(format!("DPoP {token}")), Some(value(proof.into()))),
                None => (value(format!("Bearer {line}")), None),
            })
            .collect();
    }
    out
}

/// A connection to a server under load.
enum Conn {
    /// HTTP/1.1 keep-alive.
    Http1(TcpStream),
    /// HTTP/2 (gRPC): the handle to send on; the connection itself runs in
    /// a task of its own.
    Grpc(h2::client::SendRequest<Bytes>),
}

/// One server under load: its connections and what was measured on it.
struct Target {
    addr: SocketAddr,
    /// Where it answers `GET /__stats`.
    stats: SocketAddr,
    streams: Vec<Conn>,
    /// The next token (round-robin across its connections).
    next: Arc<AtomicUsize>,
    /// Each token at most once.
    once: bool,
    latencies: Histogram<u64>,
    errors: u64,
    seconds: f64,
    server_cpu_us: u64,
    own_cpu_us: u64,
    /// Requests/s and server CPU µs per request, slice by slice.
    slices: Vec<(f64, Option<f64>)>,
    stats_start: serde_json::Value,
    stats_end: serde_json::Value,
}

impl Target {
    async fn connect(
        addr: SocketAddr,
        stats: Option<SocketAddr>,
        connections: usize,
        once: bool,
        grpc: bool,
    ) -> io::Result<Self> {
        let mut streams = Vec::with_capacity(connections);
        for _ in 0..connections {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            streams.push(if grpc {
                let (send, connection) = h2::client::handshake(stream)
                    .await
                    .map_err(io::Error::other)?;
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                Conn::Grpc(send)
            } else {
                Conn::Http1(stream)
            });
        }
        Ok(Self {
            addr,
            stats: stats.unwrap_or(addr),
            streams,
            next: Arc::new(AtomicUsize::new(0)),
            once,
            latencies: histogram(),
            errors: 0,
            seconds: 0.0,
            server_cpu_us: 0,
            own_cpu_us: 0,
            slices: Vec::new(),
            stats_start: serde_json::Value::Null,
            stats_end: serde_json::Value::Null,
        })
    }

    /// Every connection busy until `until`; recorded when `record`.
    async fn run(&mut self, args: &Arc<Args>, until: Instant, record: bool) -> io::Result<()> {
        let before = server_stats(self.stats).await;
        let own_before = jwt_gate_load::cpu_time_us();
        let started = Instant::now();
        let tasks: Vec<_> = self
            .streams
            .drain(..)
            .map(|conn| {
                let (args, next, once) = (Arc::clone(args), Arc::clone(&self.next), self.once);
                let host = self.addr.to_string();
                tokio::spawn(async move {
                    match conn {
                        Conn::Http1(stream) => connection(stream, &args, &next, once, until)
                            .await
                            .map(|(s, m)| (Conn::Http1(s), m)),
                        Conn::Grpc(send) => grpc_connection(send, &host, &args, &next, once, until)
                            .await
                            .map(|(s, m)| (Conn::Grpc(s), m)),
                    }
                })
            })
            .collect();
        let mut latencies = histogram();
        let (mut errors, mut last) = (0, started);
        for task in tasks {
            let (stream, measured) = task.await.unwrap()?;
            self.streams.push(stream);
            latencies.add(&measured.latencies).unwrap();
            errors += measured.errors;
            last = last.max(measured.last.unwrap_or(started));
        }
        let own_cpu = jwt_gate_load::cpu_time_us().saturating_sub(own_before);
        let after = server_stats(self.stats).await;
        if !record {
            return Ok(());
        }
        let seconds = last.saturating_duration_since(started).as_secs_f64();
        let requests = latencies.len();
        let server_cpu = match (before["cpu_us"].as_u64(), after["cpu_us"].as_u64()) {
            (Some(b), Some(a)) => Some(a.saturating_sub(b)),
            _ => None,
        };
        if self.stats_start.is_null() {
            self.stats_start = before;
        }
        self.stats_end = after;
        if requests > 0 && seconds > 0.0 {
            self.slices.push((
                requests as f64 / seconds,
                server_cpu.map(|c| c as f64 / requests as f64),
            ));
        }
        self.latencies.add(&latencies).unwrap();
        self.errors += errors;
        self.seconds += seconds;
        self.server_cpu_us += server_cpu.unwrap_or(0);
        self.own_cpu_us += own_cpu;
        Ok(())
    }

    fn exhausted(&self, tokens: usize) -> bool {
        self.once && self.next.load(Ordering::Relaxed) >= tokens
    }

    fn report(&self, tokens: usize) -> serde_json::Value {
        let us = |q: f64| self.latencies.value_at_quantile(q) as f64 / 1_000.0;
        let wall_us = self.seconds * 1e6;
        // Every recorded request is in the histogram.
        let count = self.latencies.len();
        let requests = count.max(1) as f64;
        serde_json::json!({
            "requests": count,
            "seconds": self.seconds,
            "rps": if self.seconds > 0.0 { count as f64 / self.seconds } else { 0.0 },
            "p50_us": us(0.50),
            "p90_us": us(0.90),
            "p99_us": us(0.99),
            "p999_us": us(0.999),
            "max_us": self.latencies.max() as f64 / 1_000.0,
            "errors": self.errors,
            "tokens": tokens,
            "exhausted": self.exhausted(tokens),
            // CPU time per recorded request and how busy each side was
            // (the server's from its own counter, give or take the
            // `/__stats` calls around each slice).
            "server_cpu_us_per_request": (self.server_cpu_us > 0).then(|| self.server_cpu_us as f64 / requests),
            "server_busy": (self.server_cpu_us > 0).then(|| self.server_cpu_us as f64 / wall_us),
            "load_busy": self.own_cpu_us as f64 / wall_us,
            "server_stats_start": self.stats_start,
            "server_stats_end": self.stats_end,
        })
    }
}

/// What one connection measured.
struct Measured {
    latencies: Histogram<u64>,
    errors: u64,
    /// When its last answer arrived.
    last: Option<Instant>,
}

impl Measured {
    fn new() -> Self {
        Self {
            latencies: histogram(),
            errors: 0,
            last: None,
        }
    }

    /// The next request's start and token line (its index), or `None` once
    /// `until` has passed or (`once`) the lines ran out.
    fn next(
        args: &Args,
        next: &AtomicUsize,
        once: bool,
        until: Instant,
    ) -> Option<(Instant, usize)> {
        let sent = Instant::now();
        if sent >= until {
            return None;
        }
        let i = next.fetch_add(1, Ordering::Relaxed);
        if once && i >= args.tokens.len() {
            return None;
        }
        Some((sent, i % args.tokens.len()))
    }

    /// Records an answer to a request sent at `sent`.
    fn record(&mut self, sent: Instant, ok: bool) {
        let done = Instant::now();
        let ns = done.saturating_duration_since(sent).as_nanos();
        self.latencies
            .saturating_record(u64::try_from(ns).unwrap_or(u64::MAX).max(1));
        self.errors += u64::from(!ok);
        self.last = Some(done);
    }
}

fn main() {
    let args = Arc::new(args());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = runtime
        .block_on(run(&args))
        .unwrap_or_else(|e| panic!("a connection to {} failed: {e}", args.addr));
    println!("{result}");
}

/// Warms the service up (not recorded), then measures it in slices; with
/// `--ceiling`, the unprotected service in the slices between (in the
/// order ceiling, variant, variant, ceiling, ... so that a drift of the
/// machine's speed weighs on both alike), and the ratios slice pair by
/// slice pair.
async fn run(args: &Arc<Args>) -> io::Result<serde_json::Value> {
    let tokens = args.tokens.len();
    let mut variant = Target::connect(
        args.addr,
        args.stats,
        args.connections,
        args.once,
        args.grpc,
    )
    .await?;
    let mut ceiling = match args.ceiling {
        Some(addr) => Some(
            Target::connect(addr, args.ceiling_stats, args.connections, false, args.grpc).await?,
        ),
        None => None,
    };
    let mut warmup = args.warmup;
    if args.warmup_pass {
        // Long enough for one pass at a pessimistic 5 000 requests/s.
        warmup = warmup.max(Duration::from_secs_f64(tokens as f64 / 5_000.0));
    }
    variant.run(args, Instant::now() + warmup, false).await?;
    if let Some(ceiling) = &mut ceiling {
        ceiling
            .run(
                args,
                Instant::now() + args.warmup.min(Duration::from_millis(500)),
                false,
            )
            .await?;
    }
    let slices = (args.duration.as_secs_f64() / args.slice.as_secs_f64())
        .ceil()
        .max(1.0) as usize;
    for i in 0..slices {
        if variant.exhausted(tokens) {
            break;
        }
        let mut order: Vec<&mut Target> = match &mut ceiling {
            Some(ceiling) if i % 2 == 0 => vec![ceiling, &mut variant],
            Some(ceiling) => vec![&mut variant, ceiling],
            None => vec![&mut variant],
        };
        for target in order.iter_mut() {
            target.run(args, Instant::now() + args.slice, true).await?;
        }
    }
    let mut out = variant.report(tokens);
    out["connections"] = args.connections.into();
    if let Some(ceiling) = &ceiling {
        let pairs = variant.slices.iter().zip(&ceiling.slices);
        let ratios: Vec<f64> = pairs.clone().map(|(v, c)| v.0 / c.0).collect();
        let cpu_ratios: Vec<f64> = pairs.filter_map(|(v, c)| Some(c.1? / v.1?)).collect();
        out["ceiling"] = ceiling.report(tokens);
        out["ratio"] = median(ratios).into();
        out["cpu_ratio"] = median(cpu_ratios).into();
        out["p99_ratio"] = (out["p99_us"].as_f64().unwrap_or(0.0)
            / out["ceiling"]["p99_us"].as_f64().unwrap_or(1.0))
        .into();
    }
    Ok(out)
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    xs.sort_by(f64::total_cmp);
    (!xs.is_empty()).then(|| xs[xs.len() / 2])
}

fn histogram() -> Histogram<u64> {
    // Nanoseconds, 1 ns to 60 s, 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap()
}

async fn connection(
    mut stream: TcpStream,
    args: &Args,
    next: &AtomicUsize,
    once: bool,
    until: Instant,
) -> io::Result<(TcpStream, Measured)> {
    let mut measured = Measured::new();
    let host = stream.peer_addr()?.to_string();
    let mut request = Vec::with_capacity(4096);
    let mut buffer = vec![0u8; 16 * 1024];
    while let Some((sent, i)) = Measured::next(args, next, once, until) {
        let line = args.tokens[i].as_str();
        // A line with a space is a DPoP-bound token and its proof.
        let (scheme, token, proof) = match line.split_once(' ') {
            Some((token, proof)) => ("DPoP ", token, Some(proof)),
            None => ("Bearer ", line, None),
        };
        request.clear();
        for part in [
            "GET ",
            &args.path,
            " HTTP/1.1\r\nhost: ",
            &host,
            "\r\nauthorization: ",
            scheme,
            token,
            proof.map_or("", |_| "\r\ndpop: "),
            proof.unwrap_or(""),
            "\r\n\r\n",
        ] {
            request.extend_from_slice(part.as_bytes());
        }
        stream.write_all(&request).await?;
        let (status, _) = read_response(&mut stream, &mut buffer).await?;
        measured.record(sent, status == 200);
    }
    Ok((stream, measured))
}

/// The gRPC twin of [`connection`]: one unary call at a time on an HTTP/2
/// connection, an empty message, the same headers.
async fn grpc_connection(
    send: h2::client::SendRequest<Bytes>,
    host: &str,
    args: &Args,
    next: &AtomicUsize,
    once: bool,
    until: Instant,
) -> io::Result<(h2::client::SendRequest<Bytes>, Measured)> {
    let mut measured = Measured::new();
    let uri: http::Uri = format!("http://{host}{}", args.path)
        .parse()
        .map_err(io::Error::other)?;
    // An empty message: not compressed, length 0.
    let message = Bytes::from_static(&[0, 0, 0, 0, 0]);
    let mut send = send;
    let content_type = HeaderValue::from_static("application/grpc");
    let te = HeaderValue::from_static("trailers");
    while let Some((sent, i)) = Measured::next(args, next, once, until) {
        let (authorization, proof) = &args.grpc_headers[i];
        let mut request = http::Request::new(());
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = uri.clone();
        let headers = request.headers_mut();
        headers.insert(header::CONTENT_TYPE, content_type.clone());
        headers.insert(header::TE, te.clone());
        headers.insert(header::AUTHORIZATION, authorization.clone());
        if let Some(proof) = proof {
            headers.insert(HeaderName::from_static("dpop"), proof.clone());
        }
        send = send.ready().await.map_err(io::Error::other)?;
        let (response, mut body) = send
            .send_request(request, false)
            .map_err(io::Error::other)?;
        body.send_data(message.clone(), true)
            .map_err(io::Error::other)?;
        let response = response.await.map_err(io::Error::other)?;
        let http_ok = response.status() == 200;
        let in_headers = response.headers().get("grpc-status").cloned();
        let mut body = response.into_body();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(io::Error::other)?;
            let _ = body.flow_control().release_capacity(chunk.len());
        }
        let trailers = body.trailers().await.map_err(io::Error::other)?;
        let status = in_headers.or_else(|| trailers.and_then(|t| t.get("grpc-status").cloned()));
        measured.record(
            sent,
            http_ok && status.is_some_and(|s| s.as_bytes() == b"0"),
        );
    }
    Ok((send, measured))
}

/// Reads one answer (head and `Content-Length` body) into `buffer`, and
/// returns its status and where its body is.
async fn read_response(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> io::Result<(u16, std::ops::Range<usize>)> {
    let mut filled = 0;
    let (head_end, length) = loop {
        if filled == buffer.len() {
            return Err(io::Error::other("an answer's head over 16 KiB"));
        }
        let n = stream.read(&mut buffer[filled..]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        filled += n;
        if let Some(end) = buffer[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
            break (end + 4, content_length(&buffer[..end])?);
        }
    };
    let total = head_end + length;
    if buffer.len() < total {
        buffer.resize(total, 0);
    }
    while filled < total {
        let n = stream.read(&mut buffer[filled..total]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        filled += n;
    }
    let status = std::str::from_utf8(buffer.get(9..12).unwrap_or_default())
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other("no status line"))?;
    Ok((status, head_end..total))
}

fn content_length(head: &[u8]) -> io::Result<usize> {
    let head = std::str::from_utf8(head).map_err(io::Error::other)?;
    head.split("\r\n")
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .ok_or_else(|| io::Error::other("an answer without Content-Length"))
}

/// `GET /__stats` on a connection of its own: the server's CPU time and
/// counters as JSON (`null` when it has none).
async fn server_stats(addr: SocketAddr) -> serde_json::Value {
    let ask = async {
        let mut stream = TcpStream::connect(addr).await?;
        let request = format!("GET /__stats HTTP/1.1\r\nhost: {addr}\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut buffer = vec![0u8; 16 * 1024];
        let (status, body) = read_response(&mut stream, &mut buffer).await?;
        Ok::<_, io::Error>(
            (status == 200)
                .then(|| serde_json::from_slice(&buffer[body]).ok())
                .flatten(),
        )
    };
    ask.await.ok().flatten().unwrap_or(serde_json::Value::Null)
}
