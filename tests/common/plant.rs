//! The plant's test services shared by the Kafka, plant and monitoring tests: free ports, the
//! pinned test tools of `tests/tools/fetch.sh`, and a tansu broker.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A tool `tests/tools/fetch.sh` put under `$HOME/.cache/foodqc-tools`, if it is there.
pub fn tool(rel: &str) -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from)?;
    let path = home.join(".cache/foodqc-tools").join(rel);
    path.is_file().then_some(path)
}

/// The tansu broker binary.
pub fn tansu() -> Option<PathBuf> {
    tool("tansu-0.6.0/tansu")
}

/// A tansu broker with in-memory storage on `port`, stopped when dropped.
pub struct Broker(Child);

impl Broker {
    /// Start one and wait until it listens.
    pub fn start(bin: &Path, port: u16) -> Broker {
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        let until = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < until, "tansu did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker(child)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
