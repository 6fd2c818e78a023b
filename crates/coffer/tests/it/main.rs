//! End-to-end tests of the `coffer` binary: each test runs the real binary
//! against its own Coffer home (SQLite catalog) and checks exit codes,
//! output, and what the catalog holds afterwards.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agreement;
mod api;
mod audit;
mod buckets;
mod clock;
mod crash;
mod crash_jobs;
mod daemon;
mod dr;
mod drill_targets;
mod elsewhere;
mod evidence;
mod expected;
mod history;
mod jobs;
mod keys;
mod org;
mod org_month;
mod plans;
mod policy;
mod postgres;
mod quickstart;
mod report;
mod restore_testing;
mod vaults;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The result of one `coffer` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A Coffer home in a temporary directory.
#[derive(Debug)]
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Default for Home {
    fn default() -> Self {
        Self::new()
    }
}

impl Home {
    pub fn new() -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `coffer --home HOME --account ... --region ... ARGS`.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut full = vec!["--account", "210987654321", "--region", "eu-west-1"];
        full.extend_from_slice(args);
        self.run_bare(&full)
    }

    /// Runs `coffer --home HOME ARGS`.
    pub fn run_bare(&self, args: &[&str]) -> Run {
        self.run_with(args, |command| command)
    }

    /// Runs `coffer --home HOME ARGS`, its command set up further by
    /// `setup` (its environment, say).
    pub fn run_with(&self, args: &[&str], setup: impl FnOnce(&mut Command) -> &mut Command) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_coffer"));
        command
            .arg("--home")
            .arg(self.path())
            .args(args)
            .env_remove("COFFER_HOME")
            .env_remove("COFFER_LOG");
        let output = setup(&mut command).output().unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Writes a file under the home's `files/` folder and returns its path.
    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.path().join("files").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }
}

/// Starts `coffer ARGS` (as [`Home::run`] does) with the failpoint spec
/// `armed` (`name`, or `name@PATH` to pause until PATH exists) and returns
/// the process once it reports reaching the failpoint `name`, its stdout
/// piped; it is killed and the test fails if it never does.
pub fn spawn_to_failpoint(
    home: &Home,
    armed: &str,
    name: &str,
    args: &[&str],
) -> std::process::Child {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let mut child = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .arg("--home")
        .arg(home.path())
        .args(["--account", "210987654321", "--region", "eu-west-1"])
        .args(args)
        .env_remove("COFFER_HOME")
        .env_remove("COFFER_LOG")
        .env("COFFER_FAILPOINTS", armed)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Drained to the end, so the process never writes to a closed pipe.
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let wanted = format!("coffer: failpoint {name} reached");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut said = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match seen.recv_timeout(left) {
            Ok(line) if line == wanted => return child,
            Ok(line) => said.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "`coffer {}` never reached failpoint {name}; it said:\n{}",
                    args.join(" "),
                    said.join("\n")
                );
            }
        }
    }
}

/// A home where `stack` is applied with one directory, `docs`, declared
/// (`arn:coffer:fs:eu-west-1:210987654321:filesystem/docs`), and backed up
/// once into vault `primary` (kept `days` days).
pub fn home_with_docs_backed_up(stack: &str, days: &str) -> Home {
    docs_backed_up_in(Home::new(), stack, days)
}

/// [`home_with_docs_backed_up`] in a home prepared by the caller (its
/// config.toml naming another catalog, say).
pub fn docs_backed_up_in(home: Home, stack: &str, days: &str) -> Home {
    let data = home.path().join("data/docs");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("a.txt"), "alpha").unwrap();
    let stack = home.write("stack.yaml", stack);
    let inv = home.write(
        "inventory.yaml",
        &format!(
            "defaults:\n  account: \"210987654321\"\n  region: eu-west-1\nfilesystems:\n  - name: docs\n    path: {}\n",
            data.display()
        ),
    );
    for args in [
        vec!["apply", "--stack", "docs", stack.as_str(), inv.as_str()],
        vec![
            "backup",
            "start",
            "--resource",
            "arn:coffer:fs:eu-west-1:210987654321:filesystem/docs",
            "--vault",
            "primary",
            "--delete-after-days",
            days,
        ],
    ] {
        let run = home.run(&args);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    }
    home
}

/// Fails the test unless `run` succeeded.
pub fn ok(run: &Run) {
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
}

/// Fails the test unless `run` was refused (exit 1) saying `needle`.
pub fn refused(run: &Run, needle: &str) {
    assert_eq!(
        run.code, 1,
        "expected a refusal: {}\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.contains(needle),
        "expected {needle:?} in:\n{}",
        run.stderr
    );
}

/// Drops MariaDB test databases even when the test fails.
#[derive(Debug)]
pub struct DropMysqlDatabases(pub Vec<String>);

impl Drop for DropMysqlDatabases {
    fn drop(&mut self) {
        for db in &self.0 {
            coffer_testkit::drop_mysql_database(db);
        }
    }
}

/// A path in the repository.
pub fn repo(path: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.join(path).display().to_string()
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}
