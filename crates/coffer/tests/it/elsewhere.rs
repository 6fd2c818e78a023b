//! Restores to elsewhere: a database point onto another declared server
//! (a scratch MariaDB or PostgreSQL server of the test's own, in another
//! account and region), a directory point into another directory, a copy
//! in a second site's vault restored with the first site gone (its server
//! stopped, its vault's storage removed), and a MySQL point restored by
//! Debian's `restic` alone. Each restore job records what it created
//! (`CreatedResourceArn`), which `restore start` prints and `jobs
//! describe` shows.

use coffer_testkit::{Engine, ScratchServer};
use serde_json::Value;

use crate::{ok, refused, DropMysqlDatabases, Home, Run};

const VAULTS: &str = r#"
Resources:
  Primary:
    Type: AWS::Backup::BackupVault
    Properties: {BackupVaultName: primary}
"#;

const ACCOUNT: &str = "210987654321";
/// The second site: another account and region.
const DR_ACCOUNT: &str = "111122223333";
const DR_REGION: &str = "eu-central-1";

/// The value after `label` on a line of `run`'s output.
fn printed(run: &Run, label: &str) -> String {
    run.stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("no {label:?} in {}", run.stdout))
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// Applies the vault `primary` with `inventory` (its lines after the
/// defaults), backs `arn` up into it, and returns the recovery point.
fn backed_up(home: &Home, inventory: &str, arn: &str) -> String {
    let stack = home.write("stack.yaml", VAULTS);
    let inventory = home.write(
        "inventory.yaml",
        &format!("defaults:\n  account: \"{ACCOUNT}\"\n  region: eu-west-1\n{inventory}"),
    );
    ok(&home.run(&["apply", "--stack", "else", &stack, &inventory]));
    let backup = home.run(&["backup", "start", "--resource", arn, "--vault", "primary"]);
    ok(&backup);
    printed(&backup, "recovery point")
}

/// The restore job `run` started, as `jobs describe` shows it.
fn described_job(home: &Home, run: &Run) -> Value {
    let id = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Restore job "))
        .and_then(|l| l.split(':').next())
        .unwrap_or_else(|| panic!("no restore job in {}", run.stdout))
        .trim()
        .to_string();
    let described = home.run(&["jobs", "describe", &id, "-o", "json"]);
    ok(&described);
    serde_json::from_str(&described.stdout).unwrap()
}

/// Indents an inventory entry's lines to sit under a section with
/// `account` and `region` of its own.
fn in_site(entry: &str, account: &str, region: &str) -> String {
    format!("{entry}    account: \"{account}\"\n    region: {region}\n")
}

#[test]
fn a_mysql_point_restores_onto_a_declared_server_of_another_site() {
    let home = Home::new();
    let standby = ScratchServer::start(Engine::MariaDb);
    let db = unique("coffer_else");
    let _cleanup = DropMysqlDatabases(vec![db.clone()]);
    let maria = coffer_testkit::mariadb_in;
    maria(None, &format!("CREATE DATABASE {db}"));
    maria(
        Some(&db),
        "CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders VALUES (1, 'it''s'), (2, NULL), (3, 'ünï');
         CREATE TABLE order_lines (id int PRIMARY KEY, qty int); INSERT INTO order_lines VALUES (1, 5), (2, 7);",
    );
    let rp = backed_up(
        &home,
        &format!(
            "mysql:\n  - name: maria\n    host: 127.0.0.1\n    port: 3306\n    user: root\n{}postgres:\n  - name: local\n    host: 127.0.0.1\n    port: 5432\n    user: postgres\n",
            in_site(
                standby.inventory("standby").trim_start_matches("mysql:\n"),
                DR_ACCOUNT,
                DR_REGION
            )
        ),
        &format!("arn:coffer:mysql:eu-west-1:{ACCOUNT}:database/maria/{db}"),
    );

    // The whole database, created on the standby server.
    let restore = |args: &[&str]| {
        let mut full = vec!["restore", "start", "--recovery-point", rp.as_str()];
        full.extend_from_slice(args);
        home.run(&full)
    };
    let restored = restore(&[
        "--target-server",
        "standby",
        "--target-database",
        "orders_dr",
    ]);
    ok(&restored);
    let created = format!("arn:coffer:mysql:{DR_REGION}:{DR_ACCOUNT}:database/standby/orders_dr");
    assert_eq!(printed(&restored, "created resource"), created);
    assert!(
        restored.stdout.contains(&format!(
            "to database orders_dr on server standby ({DR_ACCOUNT}, {DR_REGION})"
        )),
        "{}",
        restored.stdout
    );
    assert_eq!(
        standby.sql(Some("orders_dr"), "SELECT id, note FROM orders ORDER BY id"),
        "1\tit's\n2\tNULL\n3\tünï"
    );
    assert_eq!(
        standby.sql(Some("orders_dr"), "SELECT sum(qty) FROM order_lines"),
        "12"
    );
    let job = described_job(&home, &restored);
    assert_eq!(job["Status"], "COMPLETED");
    assert_eq!(job["CreatedResourceArn"], created.as_str());
    assert_eq!(
        job["RestoreTarget"],
        format!("database orders_dr on server standby ({DR_ACCOUNT}, {DR_REGION})").as_str()
    );

    // It exists now: refused without --force, replaced with it.
    refused(
        &restore(&[
            "--target-server",
            "standby",
            "--target-database",
            "orders_dr",
        ]),
        "--force",
    );
    standby.sql(Some("orders_dr"), "INSERT INTO orders VALUES (4, 'extra')");
    ok(&restore(&[
        "--target-server",
        "standby",
        "--target-database",
        "orders_dr",
        "--force",
    ]));
    assert_eq!(
        standby.sql(Some("orders_dr"), "SELECT count(*) FROM orders"),
        "3"
    );

    // One table into an existing database of the standby server.
    standby.sql(None, "CREATE DATABASE reporting");
    standby.sql(Some("reporting"), "CREATE TABLE kept (x int)");
    let one = restore(&[
        "--target-server",
        &format!("{DR_ACCOUNT}/{DR_REGION}/standby"),
        "--target-database",
        "reporting",
        "--table",
        "order_lines",
    ]);
    ok(&one);
    assert_eq!(
        printed(&one, "created resource"),
        format!("arn:coffer:mysql:{DR_REGION}:{DR_ACCOUNT}:database/standby/reporting")
    );
    assert_eq!(
        standby.sql(
            Some("reporting"),
            "SELECT id, qty FROM order_lines ORDER BY id"
        ),
        "1\t5\n2\t7"
    );
    assert_eq!(
        standby.sql(
            Some("reporting"),
            "SELECT group_concat(table_name ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'reporting'"
        ),
        "kept,order_lines"
    );

    // Refusals, before any job is recorded.
    refused(
        &restore(&["--target-server", "nope", "--target-database", "x"]),
        "no server \"nope\" is declared",
    );
    refused(
        &restore(&["--target-server", "local", "--target-database", "x"]),
        "server local runs PostgreSQL",
    );
    refused(
        &restore(&["--target-dir", &home.path().join("x").display().to_string()]),
        "cannot be restored to a directory",
    );
    refused(
        &restore(&["--target-server", "standby"]),
        "--target-database",
    );
}

#[test]
fn a_postgres_point_restores_to_another_name_on_a_scratch_cluster() {
    let home = Home::new();
    let cluster = ScratchServer::start(Engine::Postgres);
    cluster.sql(None, "CREATE DATABASE shop");
    cluster.sql(
        Some("shop"),
        "CREATE TABLE invoices (id int PRIMARY KEY, amount int); INSERT INTO invoices SELECT g, g * 10 FROM generate_series(1, 50) g",
    );
    let rp = backed_up(
        &home,
        &cluster.inventory("scratch"),
        &format!("arn:coffer:postgres:eu-west-1:{ACCOUNT}:database/scratch/shop"),
    );
    let restored = home.run(&[
        "restore",
        "start",
        "--recovery-point",
        &rp,
        "--target-database",
        "shop_restored",
    ]);
    ok(&restored);
    assert_eq!(
        printed(&restored, "created resource"),
        format!("arn:coffer:postgres:eu-west-1:{ACCOUNT}:database/scratch/shop_restored")
    );
    assert_eq!(
        cluster.sql(
            Some("shop_restored"),
            "SELECT count(*), sum(amount) FROM invoices"
        ),
        "50\t12750"
    );
    // Named explicitly, the same server works too; the name exists now.
    refused(
        &home.run(&[
            "restore",
            "start",
            "--recovery-point",
            &rp,
            "--target-server",
            "scratch",
            "--target-database",
            "shop_restored",
        ]),
        "--force",
    );
}

#[test]
fn a_directory_point_restores_into_another_directory_and_names_it() {
    let home = crate::home_with_docs_backed_up(
        "Resources:\n  P:\n    Type: AWS::Backup::BackupVault\n    Properties: {BackupVaultName: primary}\n",
        "7",
    );
    let points = home.run(&["recovery-points", "list", "-o", "json"]);
    ok(&points);
    let points: Value = serde_json::from_str(&points.stdout).unwrap();
    let rp = points[0]["RecoveryPointArn"].as_str().unwrap().to_string();
    let target = home.path().join("elsewhere/docs");
    let restored = home.run(&[
        "restore",
        "start",
        "--recovery-point",
        &rp,
        "--target-dir",
        &target.display().to_string(),
    ]);
    ok(&restored);
    assert_eq!(std::fs::read(target.join("a.txt")).unwrap(), b"alpha");
    let created = format!(
        "arn:coffer:fs:eu-west-1:{ACCOUNT}:filesystem/{}",
        target.display()
    );
    assert_eq!(printed(&restored, "created resource"), created);
    assert_eq!(
        described_job(&home, &restored)["CreatedResourceArn"],
        created.as_str()
    );
}

#[test]
fn a_copy_in_a_second_site_restores_with_the_first_site_gone() {
    let home = Home::new();
    let first = ScratchServer::start(Engine::MariaDb);
    let second = ScratchServer::start(Engine::MariaDb);
    first.sql(None, "CREATE DATABASE ledger");
    first.sql(
        Some("ledger"),
        "CREATE TABLE entries (id int PRIMARY KEY, amount decimal(10,2)); INSERT INTO entries VALUES (1, 10.50), (2, -3.25), (3, 99.99)",
    );
    let rp = backed_up(
        &home,
        &format!(
            "{}{}",
            first.inventory("site1"),
            in_site(
                second.inventory("site2").trim_start_matches("mysql:\n"),
                DR_ACCOUNT,
                DR_REGION
            ),
        ),
        &format!("arn:coffer:mysql:eu-west-1:{ACCOUNT}:database/site1/ledger"),
    );
    // The second site's vault, in another account and region.
    let dr_stack = home.write(
        "dr.yaml",
        "Resources:\n  Dr:\n    Type: AWS::Backup::BackupVault\n    Properties: {BackupVaultName: dr}\n",
    );
    ok(&home.run_bare(&[
        "--account",
        DR_ACCOUNT,
        "--region",
        DR_REGION,
        "apply",
        "--stack",
        "site2",
        &dr_stack,
    ]));
    let copy = home.run(&[
        "copy",
        "start",
        "--recovery-point",
        &rp,
        "--destination-vault",
        &format!("arn:coffer:backup:{DR_REGION}:{DR_ACCOUNT}:backup-vault:dr"),
    ]);
    ok(&copy);
    let copy_rp = printed(&copy, "recovery point");

    // The first site is gone: its server stopped, its vault's storage removed.
    drop(first);
    let primary = home
        .path()
        .join(format!("vaults/{ACCOUNT}/eu-west-1/primary"));
    assert!(
        primary.is_dir(),
        "{} holds the first vault",
        primary.display()
    );
    std::fs::remove_dir_all(&primary).unwrap();
    refused(
        &home.run(&[
            "restore",
            "start",
            "--recovery-point",
            &rp,
            "--target-server",
            "site2",
            "--target-database",
            "ledger",
        ]),
        "FAILED",
    );

    let restored = home.run(&[
        "restore",
        "start",
        "--recovery-point",
        &copy_rp,
        "--target-server",
        "site2",
        "--target-database",
        "ledger",
    ]);
    ok(&restored);
    assert_eq!(
        second.sql(Some("ledger"), "SELECT id, amount FROM entries ORDER BY id"),
        "1\t10.50\n2\t-3.25\n3\t99.99"
    );
    assert_eq!(
        printed(&restored, "created resource"),
        format!("arn:coffer:mysql:{DR_REGION}:{DR_ACCOUNT}:database/site2/ledger")
    );
}

#[test]
fn restic_alone_restores_a_mysql_point_through_the_mariadb_client() {
    let home = Home::new();
    let server = ScratchServer::start(Engine::MariaDb);
    server.sql(None, "CREATE DATABASE shop");
    server.sql(
        Some("shop"),
        "CREATE TABLE items (id int PRIMARY KEY, name varchar(20), photo blob); INSERT INTO items VALUES (1, 'tea', X'00FF10'), (2, 'ünï', NULL);
         CREATE VIEW named AS SELECT name FROM items;",
    );
    let rp = backed_up(
        &home,
        &server.inventory("m"),
        &format!("arn:coffer:mysql:eu-west-1:{ACCOUNT}:database/m/shop"),
    );
    let described = home.run(&["recovery-points", "describe", &rp, "-o", "json"]);
    ok(&described);
    let point: Value = serde_json::from_str(&described.stdout).unwrap();
    let snapshot = point["SnapshotId"].as_str().unwrap().to_string();

    // With only the exported key and Debian's restic and mariadb.
    let key = home.run(&["vault", "export-key", "primary", "--yes", "-o", "json"]);
    ok(&key);
    let key: Value = serde_json::from_str(&key.stdout).unwrap();
    let repository = key["repository"].as_str().unwrap();
    let password = key["password"].as_str().unwrap();
    let dump = std::process::Command::new("restic")
        .args([
            "--no-cache",
            "--repo",
            repository,
            "dump",
            &snapshot,
            "/shop.sql",
        ])
        .env("RESTIC_PASSWORD", password)
        .output()
        .unwrap_or_else(|e| panic!("Debian's restic is needed (apt-get install restic): {e}"));
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    server.sql(None, "CREATE DATABASE by_restic");
    coffer_testkit::mariadb_feed(server.port, "by_restic", &dump.stdout);
    assert_eq!(
        server.sql(
            Some("by_restic"),
            "SELECT id, name, hex(photo) FROM items ORDER BY id"
        ),
        "1\ttea\t00FF10\n2\tünï\tNULL"
    );
    assert_eq!(
        server.sql(Some("by_restic"), "SELECT group_concat(name) FROM named"),
        "tea,ünï"
    );
}

/// Runs `coffer` on `home` with `PATH` set to `path` only.
fn run_with_path(home: &Home, path: &str, args: &[&str]) -> Run {
    let mut full = vec!["--account", ACCOUNT, "--region", "eu-west-1"];
    full.extend_from_slice(args);
    home.run_with(&full, |command| command.env("PATH", path))
}

#[test]
fn mysql_tools_are_found_where_config_toml_says_and_a_wrong_directory_is_refused_at_load() {
    let home = Home::new();
    let server = ScratchServer::start(Engine::MariaDb);
    server.sql(None, "CREATE DATABASE shop");
    server.sql(
        Some("shop"),
        "CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2)",
    );
    let stack = home.write("stack.yaml", VAULTS);
    let inventory = home.write(
        "inventory.yaml",
        &format!(
            "defaults:\n  account: \"{ACCOUNT}\"\n  region: eu-west-1\n{}",
            server.inventory("m")
        ),
    );
    ok(&home.run(&["apply", "--stack", "else", &stack, &inventory]));
    let arn = format!("arn:coffer:mysql:eu-west-1:{ACCOUNT}:database/m/shop");
    let backup = [
        "backup",
        "start",
        "--resource",
        arn.as_str(),
        "--vault",
        "primary",
    ];

    // Without the tools on PATH and nothing configured: the package is named.
    let nowhere = home.path().join("empty-path");
    std::fs::create_dir_all(&nowhere).unwrap();
    let nowhere = nowhere.display().to_string();
    let missing = run_with_path(&home, &nowhere, &backup);
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(
        missing
            .stderr
            .contains("is not installed or not on PATH (Debian package mariadb-client)"),
        "{missing:?}"
    );

    // The real tools, in a directory of their own that config.toml names.
    let bin = home.path().join("mysql-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["mariadb", "mariadb-dump"] {
        let real = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        let real = String::from_utf8_lossy(&real.stdout).trim().to_string();
        assert!(
            !real.is_empty(),
            "{tool} is needed (Debian package mariadb-client)"
        );
        std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
    }
    let config = home.path().join("config.toml");
    let defaults = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{defaults}\n[tools]\nmysql_bin_dir = \"{{home}}/mysql-bin\"\n"),
    )
    .unwrap();
    let backed_up = run_with_path(&home, &nowhere, &backup);
    ok(&backed_up);
    let rp = printed(&backed_up, "recovery point");
    ok(&run_with_path(
        &home,
        &nowhere,
        &[
            "restore",
            "start",
            "--recovery-point",
            &rp,
            "--target-database",
            "shop_r",
        ],
    ));
    assert_eq!(server.sql(Some("shop_r"), "SELECT sum(x) FROM t"), "3");

    // A directory without the tools is refused when the configuration loads.
    std::fs::remove_file(bin.join("mariadb")).unwrap();
    refused(
        &home.run(&["recovery-points", "list"]),
        "tools.mysql_bin_dir: ",
    );
    let refusal = home.run(&["recovery-points", "list"]);
    assert!(
        refusal.stderr.contains("mysql-bin holds no executable mariadb or mysql; give the directory holding the client tools"),
        "{refusal:?}"
    );
}
