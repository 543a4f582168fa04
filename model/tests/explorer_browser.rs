//! The Explorer, in a real headless Chromium: `check explore` serves the counterexample of
//! `pause-unfenced` (Kleppmann's GC pause), and the page shows the property as a counterexample
//! and the path's steps in words. Needs Debian's `chromium` (the README's test command installs
//! it when missing).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// Kills the Explorer however the test ends.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `check explore` on a port it picks and returns it with the counterexample link it
/// printed.
fn explore(scenario: &str, timing: &str) -> (Served, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_check"))
        .args(["explore", scenario, "--timing", timing, "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("check explore starts");
    let stdout = child.stdout.take().unwrap();
    let mut served = Served(child);
    let mut lines = BufReader::new(stdout).lines();
    let link = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.trim().strip_prefix("http://").filter(|l| l.contains("/#/steps/")).map(|l| format!("http://{l}")))
        .expect("check explore prints the counterexample link");
    // Keep reading what it prints after the link: a closed pipe would end it (SIGPIPE).
    std::thread::spawn(move || lines.for_each(drop));
    let addr = link.trim_start_matches("http://").split('/').next().unwrap().to_string();
    // The link is printed before the Explorer serves (until then `check explore` holds the
    // port with a listener that answers nothing): wait until it answers, or the browser shows
    // "refused to connect" and never asks again. A process that ended will never answer.
    while !answers(&addr) {
        if let Ok(Some(status)) = served.0.try_wait() {
            panic!("check explore ended ({status}) before serving on {addr}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (served, link)
}

/// Whether the Explorer on `addr` answers a request for its status.
fn answers(addr: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if write!(stream, "GET /.status HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").is_err() {
        return false;
    }
    let mut first = String::new();
    BufReader::new(stream).read_line(&mut first).is_ok() && first.starts_with("HTTP/1.1 200")
}

/// A headless Chromium driven over the DevTools protocol: it loads a page and is asked for the
/// page's text until the text has what a test waits for. (Polling the live page, rather than
/// `--dump-dom` with a virtual-time budget, does not depend on how a Chromium version decides
/// that a page has settled: the Explorer fetches its states after the page has loaded.)
struct Browser {
    child: Child,
    profile: PathBuf,
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Browser {
    fn start() -> Browser {
        let profile = std::env::temp_dir().join(format!("explorer-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).unwrap();
        let child = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                &format!("--user-data-dir={}", profile.display()),
                "about:blank",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium runs (apt-get install -y chromium)");
        // Chromium writes the port it chose to the profile once it listens.
        let started = Instant::now();
        let port = loop {
            let written = std::fs::read_to_string(profile.join("DevToolsActivePort")).unwrap_or_default();
            if let Some(port) = written.lines().next().and_then(|l| l.trim().parse::<u16>().ok()) {
                break port;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "chromium did not open its DevTools port within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        };
        let page = page_socket_url(port);
        let (socket, _) = tungstenite::connect(page.as_str()).expect("DevTools websocket");
        if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
            // A browser that stops answering fails the test instead of hanging it.
            stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        }
        Browser { child, profile, socket, next_id: 0 }
    }

    /// Sends one DevTools command and returns its result, skipping the events in between.
    fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = serde_json::json!({"id": id, "method": method, "params": params});
        self.socket.send(Message::text(request.to_string())).expect("DevTools send");
        loop {
            let message = self.socket.read().expect("DevTools read");
            let Ok(text) = message.to_text() else { continue };
            let Ok(reply) = serde_json::from_str::<serde_json::Value>(text) else { continue };
            if reply["id"] == id {
                assert!(reply.get("error").is_none(), "{method} failed: {}", reply["error"]);
                return reply["result"].clone();
            }
        }
    }

    /// Loads `url` and returns the page's visible text once it contains every `wanted` text, or
    /// the last text seen when `timeout` has passed.
    fn text_once_it_shows(&mut self, url: &str, wanted: &[&str], timeout: Duration) -> String {
        self.call("Page.navigate", serde_json::json!({"url": url}));
        let started = Instant::now();
        loop {
            let result = self.call(
                "Runtime.evaluate",
                serde_json::json!({"expression": "document.body ? document.body.innerText : ''", "returnByValue": true}),
            );
            let text = result["result"]["value"].as_str().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ");
            if wanted.iter().all(|w| text.contains(w)) || started.elapsed() > timeout {
                return text;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// The DevTools websocket of the browser's first page, from its `/json/list` endpoint.
fn page_socket_url(port: u16) -> String {
    let started = Instant::now();
    loop {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("DevTools HTTP endpoint");
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(stream, "GET /json/list HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").unwrap();
        // The endpoint keeps the connection open: read the headers, then Content-Length bytes.
        let mut reader = BufReader::new(stream);
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).expect("DevTools HTTP response");
            let header = header.trim();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("DevTools HTTP body");
        let body = String::from_utf8_lossy(&body);
        let targets: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap_or_default();
        if let Some(url) = targets.iter().find(|t| t["type"] == "page").and_then(|t| t["webSocketDebuggerUrl"].as_str()) {
            return url.to_owned();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "chromium lists no page: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The first `n` characters of a page's text, for failure messages that stay readable.
fn excerpt(text: &str, n: usize) -> String {
    text.chars().take(n).collect()
}

#[test]
fn the_explorer_opens_on_the_pause_counterexample_in_a_real_browser() {
    let (_served, link) = explore("pause-unfenced", "async");
    let mut browser = Browser::start();
    // The Explorer's checker runs to completion in the background; the page shows the
    // discoveries once it has, then the path's steps, in words: the acquisition, the pause, the
    // two writes; and the state panel, which reads like the debate.
    let wanted = [
        "Counterexample found: Always no_lost_update",
        "Counterexample found: Always ordered_fenced_writes",
        "client 1 -> redis 0: SET NX PX 4",
        "redis 0 -> client 1: OK",
        "client 1 PAUSES",
        "client 1 -> resource: write 1",
        "client 0 -> resource: write 1",
        "VIOLATED no_lost_update",
        "believes it holds until local",
    ];
    let page = browser.text_once_it_shows(&link, &wanted, Duration::from_secs(120));
    for text in wanted {
        assert!(page.contains(text), "after 120 s the page lacks {text:?}; it shows: {}", excerpt(&page, 4000));
    }
    // The background search is bounded (the counterexample's depth, the cell's budget): it
    // ends, instead of keeping a core busy for as long as the Explorer stays open.
    let addr = link.trim_start_matches("http://").split('/').next().expect("a host").to_string();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !status(&addr).contains("\"done\":true") {
        assert!(Instant::now() < deadline, "the Explorer's search has not ended after 120 s: {}", status(&addr));
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The Explorer's `/.status` answer (its body), or `""`.
fn status(addr: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(addr) else { return String::new() };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if write!(stream, "GET /.status HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").is_err() {
        return String::new();
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.split("\r\n\r\n").nth(1).unwrap_or_default().to_string()
}
