//! The Explorer, in a real headless Chromium: `check explore` serves the counterexample of
//! `pause-unfenced` (Kleppmann's GC pause), and the page shows the property as a counterexample
//! and the path's steps in words. Needs Debian's `chromium` (the README's test command installs
//! it when missing).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the Explorer however the test ends.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `check explore` and returns it with the counterexample link it printed.
fn explore(scenario: &str, timing: &str) -> (Served, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_check"))
        .args(["explore", scenario, "--timing", timing, "--addr", &addr])
        .stdout(Stdio::piped())
        .spawn()
        .expect("check explore starts");
    let stdout = child.stdout.take().unwrap();
    let served = Served(child);
    let link = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.trim().strip_prefix("http://").filter(|l| l.contains("/#/steps/")).map(|l| format!("http://{l}")))
        .expect("check explore prints the counterexample link");
    (served, link)
}

/// The page's DOM once Chromium has run its scripts and fetched the states.
fn render(url: &str) -> String {
    let profile = tempfile_dir();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            &format!("--user-data-dir={}", profile.display()),
            "--virtual-time-budget=15000",
            "--dump-dom",
            url,
        ])
        .stderr(Stdio::null())
        .output()
        .expect("chromium runs (apt-get install -y chromium)");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(out.status.success(), "chromium failed: {:?}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("explorer-test-{}-{}", std::process::id(), Instant::now().elapsed().as_nanos()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(dom: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in dom.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&gt;", ">").replace("&lt;", "<").split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn the_explorer_opens_on_the_pause_counterexample_in_a_real_browser() {
    let (_served, link) = explore("pause-unfenced", "async");
    let start = Instant::now();
    let mut page = String::new();
    // The Explorer's checker runs to completion in the background; allow it a moment.
    while start.elapsed() < Duration::from_secs(60) {
        page = text(&render(&link));
        if page.contains("Counterexample found: Always no_lost_update") {
            break;
        }
    }
    assert!(page.contains("Counterexample found: Always no_lost_update"), "{page}");
    assert!(page.contains("Counterexample found: Always ordered_fenced_writes"), "{page}");
    // The path's steps, in words: the acquisition, the pause, the two writes.
    for step in ["client 1 -> redis 0: SET NX PX 4", "redis 0 -> client 1: OK", "client 1 PAUSES", "client 1 -> resource: write 1", "client 0 -> resource: write 1"] {
        assert!(page.contains(step), "missing step {step:?} in {page}");
    }
    // The state panel reads like the debate.
    assert!(page.contains("VIOLATED no_lost_update"), "{page}");
    assert!(page.contains("believes it holds until local"), "{page}");
}
