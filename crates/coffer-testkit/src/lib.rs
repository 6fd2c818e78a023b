//! Real services for Coffer's tests, started by the tests that need them.
//!
//! [`Moto`]: an S3 server (`moto_server` from the virtual environment that
//! `.ci/run` prepares and names in `COFFER_TEST_VENV`) on a free loopback
//! port, stopped when dropped; optionally checking SigV4 signatures. A
//! missing server fails the test with a message saying how to get one;
//! nothing is skipped.
//!
//! [`ScratchServer`]: a database server of a test's own (MariaDB through
//! `mariadb-install-db` and `mariadbd`, PostgreSQL through `initdb` and
//! `pg_ctl`) in a fresh data directory on a free loopback port, its
//! superuser without a password; stopped and its directory removed when
//! dropped.

// Test support: a failure to start a service is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Access key and secret moto accepts (any would do).
pub const KEY: &str = "test";

/// A moto server on a free loopback port; stopped when dropped.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    venv: PathBuf,
    /// The server's request log (its standard error), when kept.
    log: Option<PathBuf>,
}

impl Moto {
    pub fn start() -> Moto {
        Moto::spawn(None, false)
    }

    /// A server that keeps its request log, for [`Moto::requests`].
    pub fn start_logged() -> Moto {
        Moto::spawn(None, true)
    }

    /// The requests the server answered so far, one line each as its log
    /// writes them (`"GET /bucket/key HTTP/1.1" 200 -`, from the method on).
    pub fn requests(&self) -> Vec<String> {
        let log = self
            .log
            .as_ref()
            .unwrap_or_else(|| panic!("start the server with Moto::start_logged"));
        std::fs::read_to_string(log)
            .unwrap()
            .lines()
            .filter_map(|line| line.split_once(" \"").map(|(_, rest)| rest.to_string()))
            .collect()
    }

    /// The GetObject requests answered so far for keys of `bucket` (no
    /// sub-resource such as `?tagging`): the object bodies read.
    pub fn object_reads(&self, bucket: &str) -> Vec<String> {
        let start = format!("GET /{bucket}/");
        self.requests()
            .into_iter()
            .filter_map(|line| {
                let path = line.strip_prefix(&start)?.split(' ').next()?.to_string();
                (!path.contains('?') && !path.is_empty()).then_some(path)
            })
            .collect()
    }

    /// A server that checks every request's SigV4 signature: started with
    /// its first three requests unauthenticated, which create an IAM user
    /// allowed everything and its access key. Returns the server and that
    /// key's ID and secret.
    pub fn start_checking_signatures() -> (Moto, String, String) {
        let moto = Moto::spawn(Some(3), false);
        let keys = moto.boto3(
            "iam = boto3.client('iam', endpoint_url=s3.meta.endpoint_url, region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n\
             iam.create_user(UserName='coffer')\n\
             key = iam.create_access_key(UserName='coffer')['AccessKey']\n\
             iam.put_user_policy(UserName='coffer', PolicyName='all', PolicyDocument=json.dumps({'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}]}))\n\
             print(key['AccessKeyId'], key['SecretAccessKey'])",
            &[],
        );
        let mut words = keys.split_whitespace().map(str::to_string);
        let (id, secret) = (words.next().unwrap(), words.next().unwrap());
        (moto, id, secret)
    }

    fn spawn(unauthenticated: Option<u32>, logged: bool) -> Moto {
        let venv = PathBuf::from(std::env::var("COFFER_TEST_VENV").unwrap_or_else(|_| {
            panic!("COFFER_TEST_VENV is not set: run the tests through .ci/run, which creates a venv with moto[server] and boto3 (or create one and point COFFER_TEST_VENV at it)")
        }));
        let port = free_port();
        let mut command = Command::new(venv.join("bin/moto_server"));
        if let Some(count) = unauthenticated {
            command.env("INITIAL_NO_AUTH_ACTION_COUNT", count.to_string());
        }
        let log = logged.then(|| std::env::temp_dir().join(format!("coffer-moto-{port}.log")));
        let stderr = match &log {
            Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
            None => Stdio::null(),
        };
        let child = command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start moto_server from {}: {e}", venv.display()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "moto_server did not listen on port {port} within 30 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
            venv,
            log,
        }
    }

    /// Creates a bucket (with Object Lock enabled) through boto3.
    pub fn create_bucket(&self, bucket: &str) {
        let script = format!(
            "import boto3; boto3.client('s3', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test').create_bucket(Bucket='{bucket}', ObjectLockEnabledForBucket=True)",
            self.url
        );
        let out = Command::new(self.venv.join("bin/python"))
            .args(["-c", &script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs Python `code` with `s3`, a boto3 client of this server, in
    /// scope and `args` in `sys.argv[1..]`; fails the test unless it
    /// succeeds, and returns its standard output.
    pub fn boto3(&self, code: &str, args: &[&str]) -> String {
        self.boto3_as(KEY, KEY, code, args)
    }

    /// [`Moto::boto3`] with the access key `id` and `secret`.
    pub fn boto3_as(&self, id: &str, secret: &str, code: &str, args: &[&str]) -> String {
        let script = format!(
            "import sys, json, boto3\nfrom botocore.exceptions import ClientError\ns3 = boto3.client('s3', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='{id}', aws_secret_access_key='{secret}')\n{code}",
            self.url
        );
        let out = Command::new(self.venv.join("bin/python"))
            .arg("-c")
            .arg(&script)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(log) = &self.log {
            let _ = std::fs::remove_file(log);
        }
    }
}

/// Every entry under `root` but directories, sorted: its relative path and
/// its contents (a symlink's target for a symlink), to compare trees.
pub fn tree_contents(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            let rel = entry
                .path()
                .strip_prefix(root)
                .unwrap()
                .display()
                .to_string();
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_symlink() {
                let target = std::fs::read_link(entry.path()).unwrap();
                out.push((rel, target.into_os_string().into_encoded_bytes()));
            } else {
                out.push((rel, std::fs::read(entry.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Every file under `dir` (recursively), e.g. a vault's pack files.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

/// Cuts every file under `dir` to half its length (a truncated pack).
pub fn truncate_files_under(dir: &Path) -> usize {
    let files = files_under(dir);
    for path in &files {
        let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        let len = file.metadata().unwrap().len();
        file.set_len(len / 2).unwrap();
    }
    files.len()
}

/// Runs Debian's `restic` on `repository` with `password` (and the test
/// S3 key for `s3:` repositories); fails the test unless it succeeds, and
/// returns its standard output.
pub fn restic_ok(repository: &str, password: &str, args: &[&str]) -> String {
    let out = Command::new("restic")
        .args(["--no-cache", "--repo", repository])
        .args(args)
        .env("RESTIC_PASSWORD", password)
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", KEY)
        .output()
        .unwrap_or_else(|e| {
            panic!("Debian's restic is needed (apt-get install restic; .ci/run installs it): {e}")
        });
    assert!(
        out.status.success(),
        "restic {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The short IDs (as the catalog records them) of a repository's
/// snapshots, as Debian's `restic` lists them.
pub fn restic_snapshot_ids(repository: &str, password: &str) -> std::collections::BTreeSet<String> {
    let listed: serde_json::Value =
        serde_json::from_str(&restic_ok(repository, password, &["snapshots", "--json"]))
            .unwrap_or_else(|e| panic!("restic snapshots --json: {e}"));
    listed
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|s| s["short_id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs one SQL statement with `psql` as `postgres` on 127.0.0.1:5432
/// (the machine's PostgreSQL, trust auth); fails the test unless it works.
pub fn psql(sql: &str) {
    psql_in("postgres", sql);
}

/// Runs SQL in database `db` with `psql` (unaligned, tuples only); fails
/// the test unless it works, and returns what it printed.
pub fn psql_in(db: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", db, "-qtAc", sql])
        .output()
        .unwrap_or_else(|e| {
            panic!("psql is needed (Debian package postgresql-client; .ci/run installs it): {e}")
        });
    assert!(
        out.status.success(),
        "psql {sql:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Drops a test database if it exists (for cleanup: errors are ignored).
pub fn drop_database(name: &str) {
    let _ = Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc"])
        .arg(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .output();
}

/// Runs SQL with the `mariadb` client as root on 127.0.0.1:3306 (the
/// machine's MariaDB, no password), in database `db` when given (batch
/// output without column names); fails the test unless it works, and
/// returns what it printed.
pub fn mariadb_in(db: Option<&str>, sql: &str) -> String {
    mariadb_at(3306, db, sql)
}

/// The `mariadb` client as root on 127.0.0.1:`port`, batch output
/// without column names, in database `db` when given.
fn mariadb_command(port: u16, db: Option<&str>) -> Command {
    let mut command = Command::new("mariadb");
    command.args([
        "--no-defaults",
        "--host=127.0.0.1",
        &format!("--port={port}"),
        "--user=root",
        "--default-character-set=utf8mb4",
        "--batch",
        "--skip-column-names",
    ]);
    if let Some(db) = db {
        command.arg(format!("--database={db}"));
    }
    command
}

/// [`mariadb_in`] on the MariaDB server at 127.0.0.1:`port`.
pub fn mariadb_at(port: u16, db: Option<&str>, sql: &str) -> String {
    let out = mariadb_command(port, db)
        .args(["--execute", sql])
        .output()
        .unwrap_or_else(|e| {
            panic!("mariadb is needed (Debian package mariadb-client; .ci/run installs it): {e}")
        });
    assert!(
        out.status.success(),
        "mariadb {sql:?} on port {port} (the machine's MariaDB must run on 127.0.0.1:3306, root without a password; .ci/run starts it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Pipes `input` into the `mariadb` client on 127.0.0.1:`port`, in
/// database `db`; fails the test unless it works.
pub fn mariadb_feed(port: u16, db: &str, input: &[u8]) {
    use std::io::Write;
    let mut child = mariadb_command(port, Some(db))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("mariadb is needed (Debian package mariadb-client; .ci/run installs it): {e}")
        });
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "mariadb fed {} bytes: {}",
        input.len(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The database engines a [`ScratchServer`] can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    MariaDb,
    Postgres,
}

/// A database server of a test's own: a fresh data directory, a free
/// loopback port, its superuser (`root` for MariaDB, `postgres` for
/// PostgreSQL) without a password. Dropping it stops the server and
/// removes the directory. Both engines have the same interface, so a test
/// asks for one and talks to it through [`ScratchServer::sql`].
#[derive(Debug)]
pub struct ScratchServer {
    pub engine: Engine,
    pub port: u16,
    dir: PathBuf,
    /// The server process (MariaDB; PostgreSQL's runs under `pg_ctl`).
    child: Option<Child>,
}

/// A directory of its own under the system's temporary directory.
fn fresh_dir(prefix: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{n}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A PostgreSQL server tool, run as the `postgres` user when the test runs
/// as root (PostgreSQL refuses to run as root).
fn postgres_tool(name: &str) -> Command {
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--", name]);
        command
    } else {
        Command::new(name)
    }
}

/// Runs a setup command; fails the test with its output and `hint` unless it works.
fn run_setup(command: &mut Command, what: &str, hint: &str) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what} ({hint}): {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({hint}): {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl ScratchServer {
    /// Starts a server of `engine` and waits until it answers.
    pub fn start(engine: Engine) -> ScratchServer {
        match engine {
            Engine::MariaDb => ScratchServer::mariadb(),
            Engine::Postgres => ScratchServer::postgres(),
        }
    }

    /// A MariaDB server: `mariadb-install-db` (root authenticated by an
    /// empty password, not by the socket's user) and `mariadbd` on a free
    /// port, bound to 127.0.0.1, without binary log or option files.
    pub fn mariadb() -> ScratchServer {
        let hint = "Debian package mariadb-server; .ci/run installs it";
        let dir = fresh_dir("coffer-scratch-mariadb");
        let data = dir.join("data");
        // Temporary tables of servers bootstrapping at once collide in a
        // shared temporary directory: each has its own.
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        run_setup(
            Command::new("mariadb-install-db")
                .env("TMPDIR", &tmp)
                .arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .arg(format!("--tmpdir={}", tmp.display()))
                .args([
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                    "--user=root",
                ]),
            "mariadb-install-db",
            hint,
        );
        let port = free_port();
        let child = Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .arg(format!("--socket={}", dir.join("mariadb.sock").display()))
            .arg(format!("--pid-file={}", dir.join("mariadb.pid").display()))
            .arg(format!("--log-error={}", dir.join("error.log").display()))
            .arg(format!("--port={port}"))
            .args([
                "--bind-address=127.0.0.1",
                // mariadbd refuses to run as root unless told to.
                "--user=root",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=64M",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start mariadbd ({hint}): {e}"));
        let server = ScratchServer {
            engine: Engine::MariaDb,
            port,
            dir,
            child: Some(child),
        };
        server.wait_until_it_answers();
        server
    }

    /// A PostgreSQL server: `initdb` (trust authentication, superuser
    /// `postgres`) and `pg_ctl start` on a free port, listening on
    /// 127.0.0.1 and a socket in its own directory. PostgreSQL refuses to
    /// run as root, so when the test runs as root both run as the
    /// `postgres` user through `runuser`, which owns the directory.
    pub fn postgres() -> ScratchServer {
        let hint = "Debian package postgresql with initdb and pg_ctl on PATH; .ci/run installs it";
        let dir = fresh_dir("coffer-scratch-postgres");
        let tool = postgres_tool;
        if running_as_root() {
            run_setup(
                Command::new("chown").arg("postgres:").arg(&dir),
                "chown of the scratch directory to postgres",
                "running as root needs a postgres user, which the postgresql package creates",
            );
        }
        let data = dir.join("data");
        run_setup(
            tool("initdb").arg("-D").arg(&data).args([
                "--auth=trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ]),
            "initdb",
            hint,
        );
        let port = free_port();
        run_setup(
            tool("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-o")
                .arg(format!(
                    "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                    dir.display()
                ))
                .arg("-l")
                .arg(dir.join("server.log"))
                .args(["-w", "start"]),
            "pg_ctl start",
            hint,
        );
        let server = ScratchServer {
            engine: Engine::Postgres,
            port,
            dir,
            child: None,
        };
        server.wait_until_it_answers();
        server
    }

    fn wait_until_it_answers(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let answered = match self.engine {
                Engine::MariaDb => mariadb_command(self.port, None)
                    .args(["--connect-timeout=2", "--execute", "SELECT 1"])
                    .output(),
                Engine::Postgres => Command::new("psql")
                    .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                    .args(["-U", "postgres", "-d", "postgres", "-qtAc", "SELECT 1"])
                    .output(),
            }
            .is_ok_and(|o| o.status.success());
            if answered {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the scratch {:?} server on port {} did not answer within 60 s; its log is in {}",
                self.engine,
                self.port,
                self.dir.display()
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// Runs SQL as the superuser, in database `db` when given; fails the
    /// test unless it works, and returns what it printed (tab-separated
    /// rows, no column names).
    pub fn sql(&self, db: Option<&str>, sql: &str) -> String {
        match self.engine {
            Engine::MariaDb => mariadb_at(self.port, db, sql),
            Engine::Postgres => {
                let out = Command::new("psql")
                    .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                    .args(["-U", "postgres", "-d", db.unwrap_or("postgres")])
                    .args(["-qtA", "-F", "\t", "-c", sql])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "psql {sql:?} on port {}: {}",
                    self.port,
                    String::from_utf8_lossy(&out.stderr)
                );
                String::from_utf8_lossy(&out.stdout).trim().to_string()
            }
        }
    }

    /// The inventory lines declaring this server as `name` (under
    /// `mysql:` or `postgres:`), for a test's inventory file.
    pub fn inventory(&self, name: &str) -> String {
        let (section, user) = match self.engine {
            Engine::MariaDb => ("mysql", "root"),
            Engine::Postgres => ("postgres", "postgres"),
        };
        format!(
            "{section}:\n  - name: {name}\n    host: 127.0.0.1\n    port: {}\n    user: {user}\n",
            self.port
        )
    }
}

impl Drop for ScratchServer {
    fn drop(&mut self) {
        match self.engine {
            Engine::MariaDb => {
                if let Some(child) = self.child.as_mut() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
            Engine::Postgres => {
                let data = self.dir.join("data");
                let _ = postgres_tool("pg_ctl")
                    .arg("-D")
                    .arg(&data)
                    .args(["-m", "immediate", "-w", "stop"])
                    .output();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Drops a MariaDB test database if it exists (for cleanup: errors are
/// ignored).
pub fn drop_mysql_database(name: &str) {
    let _ = Command::new("mariadb")
        .args([
            "--no-defaults",
            "--host=127.0.0.1",
            "--port=3306",
            "--user=root",
        ])
        .arg(format!(
            "--execute=DROP DATABASE IF EXISTS `{}`",
            name.replace('`', "``")
        ))
        .output();
}
