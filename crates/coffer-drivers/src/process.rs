//! Database tools as child processes: their output read as a stream whose
//! failure (a non-zero exit) is a read error carrying the tool's stderr,
//! so the vault discards a backup the tool did not finish.

use std::io::Read;
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

/// At most this much of a tool's stderr is kept (the end is what matters).
const STDERR_LIMIT: usize = 16 * 1024;

/// Collects a child's stderr on a thread, so a chatty tool never blocks.
pub struct StderrCollector {
    text: Arc<Mutex<Vec<u8>>>,
    thread: Option<JoinHandle<()>>,
}

impl StderrCollector {
    pub fn start(mut stderr: ChildStderr) -> StderrCollector {
        let text = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&text);
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut text = sink.lock().unwrap_or_else(PoisonError::into_inner);
                text.extend_from_slice(&buf[..n]);
                if text.len() > STDERR_LIMIT {
                    let cut = text.len() - STDERR_LIMIT;
                    text.drain(..cut);
                }
            }
        });
        StderrCollector {
            text,
            thread: Some(thread),
        }
    }

    /// The collected text, after the tool closed its stderr.
    pub fn finish(&mut self) -> String {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let text = self.text.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&text).trim().to_string()
    }
}

/// Why a database tool could not be started or read.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The tool is not on `PATH`.
    #[error("{tool} is not installed or not on PATH (Debian package {package})")]
    NotInstalled { tool: String, package: String },
    /// The tool is not in the directory the configuration names for it.
    #[error("{tool} is not in {}, the directory config.toml's [tools] {setting} names; put it there, or correct the setting", dir.display())]
    NotInDirectory {
        tool: String,
        dir: std::path::PathBuf,
        setting: &'static str,
    },
    /// The tool is there but the system would not start it.
    #[error("cannot start {tool}: {source}")]
    Start {
        tool: String,
        #[source]
        source: std::io::Error,
    },
    /// The child was spawned without a pipe for its output.
    #[error("the tool's output is not piped")]
    OutputNotPiped,
    /// The child was spawned without a pipe for its errors.
    #[error("the tool's errors are not piped")]
    ErrorsNotPiped,
}

/// Spawns `command` with piped stdout/stderr; a missing tool is explained.
///
/// # Errors
/// `NotInstalled` when the tool is not on `PATH` (naming its Debian
/// package), `Start` when it cannot be started.
pub fn spawn(command: &mut Command, tool: &str, package: &str) -> Result<Child, ToolError> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ToolError::NotInstalled {
                    tool: tool.to_string(),
                    package: package.to_string(),
                }
            } else {
                ToolError::Start {
                    tool: tool.to_string(),
                    source,
                }
            }
        })
}

/// A child's stdout as a reader: at end of output it waits for the child,
/// and a non-zero exit becomes an error with the tool's stderr.
pub struct ChildReader {
    tool: &'static str,
    child: Arc<Mutex<Child>>,
    stdout: ChildStdout,
    stderr: StderrCollector,
    finished: bool,
}

impl ChildReader {
    /// # Errors
    /// When the child's stdout or stderr is not piped.
    pub fn new(tool: &'static str, mut child: Child) -> Result<ChildReader, ToolError> {
        let stdout = child.stdout.take().ok_or(ToolError::OutputNotPiped)?;
        let stderr = child.stderr.take().ok_or(ToolError::ErrorsNotPiped)?;
        Ok(ChildReader {
            tool,
            child: Arc::new(Mutex::new(child)),
            stdout,
            stderr: StderrCollector::start(stderr),
            finished: false,
        })
    }

    /// A handle that kills the tool when dropped, if it still runs: held by
    /// the async side of a backup, so a backup that is stopped (its future
    /// dropped, as when a completion window ends) stops its tool too, even
    /// while the reading thread is blocked on the tool's output.
    pub fn stopper(&self) -> ChildStopper {
        ChildStopper {
            child: Arc::clone(&self.child),
        }
    }
}

/// Kills a tool that still runs when dropped (see [`ChildReader::stopper`]).
#[derive(Debug)]
pub struct ChildStopper {
    child: Arc<Mutex<Child>>,
}

impl Drop for ChildStopper {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        if matches!(child.try_wait(), Ok(None)) {
            let _ = child.kill();
        }
    }
}

impl Read for ChildReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.finished {
            return Ok(0);
        }
        let n = self.stdout.read(buf)?;
        if n > 0 || buf.is_empty() {
            return Ok(n);
        }
        self.finished = true;
        let status = self
            .child
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .wait()?;
        let stderr = self.stderr.finish();
        if status.success() {
            Ok(0)
        } else {
            Err(std::io::Error::other(format!(
                "{} exited with {status}: {}",
                self.tool,
                if stderr.is_empty() {
                    "(no message)"
                } else {
                    &stderr
                }
            )))
        }
    }
}

impl Drop for ChildReader {
    fn drop(&mut self) {
        if !self.finished {
            // The vault stopped reading (an error elsewhere): stop the tool.
            let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
