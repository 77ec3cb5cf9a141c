//! `sightline demo` as a child process on a free port, in a temporary directory, killed
//! however the test ends (a panic included).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// A running demo.
pub struct Demo {
    child: Child,
    /// Its `--data-dir`.
    pub dir: tempfile::TempDir,
    /// Its `--http` port.
    pub port: u16,
    /// `http://127.0.0.1:{port}`.
    pub url: String,
}

impl Demo {
    /// Starts the demo and waits until it answers `/healthz` (its tokens are written by
    /// then), for up to three minutes.
    pub fn start() -> Result<Demo> {
        let dir = tempfile::tempdir()?;
        let port = sightline_chaos::free_port()?;
        let child = Command::new(env!("CARGO_BIN_EXE_sightline"))
            .args(["demo", "--data-dir"])
            .arg(dir.path())
            .args(["--http", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let demo = Demo {
            child,
            dir,
            port,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(180);
        while !sightline_chaos::Client::new(&demo.url).healthy() {
            if Instant::now() > deadline {
                bail!("the demo did not answer /healthz within three minutes");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(demo)
    }

    /// `demo-tokens.json`: one token per role.
    pub fn tokens(&self) -> Result<Value> {
        let path = self.dir.path().join("demo-tokens.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(serde_json::from_str(&text)?)
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
