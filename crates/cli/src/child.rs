//! A `yibao serve` child process, for the benchmarks and the crash harness: the server under
//! test runs in its own process, so its memory is its own and it can be killed with SIGKILL.

use tokio::io::{AsyncBufReadExt, BufReader};

/// A running `yibao serve` child and the address it listens on.
pub(crate) struct Server {
    child: tokio::process::Child,
    pub(crate) address: String,
}

impl Server {
    pub(crate) async fn start(db: &str, log: &std::path::Path) -> Result<Server, String> {
        let exe = std::env::current_exe().map_err(|error| format!("cannot find this program: {error}"))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|error| format!("cannot open {}: {error}", log.display()))?;
        let mut child = tokio::process::Command::new(exe)
            .args(["serve", "--db", db, "--listen", "127.0.0.1:0"])
            .env(
                "YIBAO_SECRET",
                std::env::var("YIBAO_SECRET").unwrap_or_else(|_| "crash-harness-server-secret-0123456789abcdef".into()),
            )
            .env("YIBAO_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| format!("cannot start the server: {error}"))?;
        let stdout = child.stdout.take().ok_or("no stdout from the server")?;
        let mut lines = BufReader::new(stdout).lines();
        // The banner's first line names the address (the port is chosen by the system).
        let address = loop {
            match lines.next_line().await.map_err(|error| error.to_string())? {
                Some(text) => {
                    if let Some((_, url)) = text.split_once("listening on http://") {
                        break url.trim().to_string();
                    }
                }
                None => {
                    let status = child.wait().await.map_err(|error| error.to_string())?;
                    return Err(format!("the server exited before listening ({status}); see the log"));
                }
            }
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server { child, address })
    }

    /// `kill -9`, and wait until the process is gone.
    pub(crate) async fn kill(mut self) -> Result<(), String> {
        self.child.kill().await.map_err(|error| format!("cannot kill the server: {error}"))
    }

    /// The server's peak resident memory (`VmHWM`) so far, in MiB, where Linux tells it.
    pub(crate) fn peak_memory_mib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()?)).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024)
    }
}
