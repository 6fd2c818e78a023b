//! Against the MariaDB server on 127.0.0.1:3306 (root, no password); each
//! test creates and drops its own databases.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use coffer_drivers::mysql::discover;
use coffer_drivers::{backup, restore, validate, RestoreTarget};
use coffer_model::{AccountId, Region, Resource, ResourceType, Server};

use crate::{point, resource, vault};

fn client(database: Option<&str>) -> Command {
    let mut command = Command::new("mariadb");
    command.args([
        "--no-defaults",
        "--host=127.0.0.1",
        "--port=3306",
        "--user=root",
        "--default-character-set=utf8mb4",
        "--batch",
        "--skip-column-names",
    ]);
    if let Some(database) = database {
        command.arg(format!("--database={database}"));
    }
    command
}

/// Runs `sql` and returns the client's output.
#[track_caller]
fn sql(database: Option<&str>, sql: &str) -> String {
    let out = client(database)
        .args(["--execute", sql])
        .output()
        .unwrap_or_else(|e| panic!("the mariadb client must be installed (mariadb-client): {e}"));
    assert!(
        out.status.success(),
        "MariaDB must run on 127.0.0.1:3306 as root without a password (.ci/run starts it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A database dropped when the test ends.
struct TempDb(String);

impl TempDb {
    fn new(prefix: &str) -> TempDb {
        let db = TempDb::named(prefix);
        sql(None, &format!("CREATE DATABASE {}", db.0));
        db
    }

    fn named(prefix: &str) -> TempDb {
        TempDb(format!(
            "{prefix}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        ))
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = client(None)
            .args(["--execute", &format!("DROP DATABASE IF EXISTS {}", self.0)])
            .output();
    }
}

fn db_resource(database: &str, port: &str) -> Resource {
    resource(
        ResourceType::MySQL,
        &format!("maria/{database}"),
        &[
            ("server", "maria"),
            ("host", "127.0.0.1"),
            ("port", port),
            ("database", database),
            ("user", "root"),
        ],
    )
}

/// Tables with values a dump must escape, an empty table, a name with a
/// backtick, a view, a trigger, a routine and an event.
fn seed(db: &str) {
    sql(
        Some(db),
        "CREATE TABLE items (id int PRIMARY KEY AUTO_INCREMENT, s text, b blob, f double, j json);
         INSERT INTO items (s, b, f, j) VALUES
           ('it''s a \\\\ back\\nslash\\ttab', 0x00FF0A27225C, 3.14159, '{\"a\": [1, null]}'),
           (NULL, NULL, NULL, NULL),
           ('ünï© 🎉 \"quoted\"', '', 1e-300, NULL),
           ('NULL', 0x4E554C4C, -0.0, '[]'),
           ('line one\nline two', 0x0D0A, 0.1, NULL);
         INSERT INTO items (s) SELECT concat('row ', seq) FROM seq_1_to_3000;
         CREATE TABLE `odd``name` (x int);
         INSERT INTO `odd``name` VALUES (1), (2);
         CREATE TABLE empty (x int);
         CREATE VIEW item_ids AS SELECT id FROM items;
         CREATE TRIGGER items_touch BEFORE INSERT ON items FOR EACH ROW SET NEW.s = coalesce(NEW.s, 'touched');
         CREATE PROCEDURE count_items() SELECT count(*) FROM items;
         CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DO DELETE FROM empty;",
    );
}

/// What a database holds, table by table, as the client shows it (binary
/// values in hex), for comparisons.
fn contents(db: &str) -> String {
    let mut out = String::new();
    for table in ["items", "`odd``name`", "empty"] {
        out.push_str(&sql(Some(db), &format!("SELECT * FROM {table} ORDER BY 1")));
    }
    out.push_str(&sql(Some(db), "SELECT hex(b) FROM items ORDER BY id"));
    out
}

#[tokio::test]
async fn a_database_streams_in_restores_to_a_new_database_and_validates() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault(dir.path());
    let source = TempDb::new("coffer_my_src");
    seed(&source.0);
    let res = db_resource(&source.0, "3306");

    let outcome = backup(&res, &vault, vec!["coffer-test".into()], dir.path())
        .await
        .unwrap();
    let recorded = outcome.manifest.clone().unwrap();
    let tables: Vec<_> = recorded
        .tables
        .iter()
        .map(|t| (t.name.as_str(), t.rows))
        .collect();
    assert_eq!(tables, [("empty", 0), ("items", 3005), ("odd`name", 2)]);
    let rp = point(&res, &outcome);

    // Restore into a new database: the same rows, view, trigger, routine.
    let restored = TempDb::named("coffer_my_rst");
    let target = RestoreTarget::Database {
        name: restored.0.clone(),
        table: None,
        server: None,
    };
    let result = restore(&rp, &res, &vault, &target, false).await.unwrap();
    assert_eq!(
        result.created,
        format!("mysql://127.0.0.1:3306/{}", restored.0)
    );
    assert_eq!(contents(&restored.0), contents(&source.0));
    assert_eq!(
        sql(Some(&restored.0), "SELECT count(*) FROM item_ids"),
        "3005\n"
    );
    assert_eq!(sql(Some(&restored.0), "CALL count_items()"), "3005\n");
    sql(Some(&restored.0), "INSERT INTO items (s) VALUES (NULL)");
    assert_eq!(
        sql(
            Some(&restored.0),
            "SELECT s FROM items ORDER BY id DESC LIMIT 1"
        ),
        "touched\n"
    );
    assert_eq!(
        sql(
            None,
            &format!(
                "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = '{}'",
                restored.0
            )
        ),
        "nightly\n"
    );

    // An existing database is refused (the source too), then replaced with force.
    let error = restore(&rp, &res, &vault, &target, false)
        .await
        .unwrap_err();
    assert!(
        error.is_target_exists() && error.to_string().contains("with force"),
        "{error}"
    );
    let onto_source = RestoreTarget::Database {
        name: source.0.clone(),
        table: None,
        server: None,
    };
    let error = restore(&rp, &res, &vault, &onto_source, false)
        .await
        .unwrap_err();
    assert!(error.is_target_exists(), "{error}");
    restore(&rp, &res, &vault, &target, true).await.unwrap();
    assert_eq!(
        sql(Some(&restored.0), "SELECT count(*) FROM items"),
        "3005\n"
    );

    // One table alone, back into the source after it was dropped.
    sql(Some(&source.0), "DROP TABLE `odd``name`; DELETE FROM empty");
    let one = RestoreTarget::Database {
        name: source.0.clone(),
        table: Some("odd`name".into()),
        server: None,
    };
    restore(&rp, &res, &vault, &one, false).await.unwrap();
    assert_eq!(
        sql(Some(&source.0), "SELECT x FROM `odd``name` ORDER BY x"),
        "1\n2\n"
    );
    assert_eq!(sql(Some(&source.0), "SELECT count(*) FROM items"), "3005\n");
    let error = restore(&rp, &res, &vault, &one, false).await.unwrap_err();
    assert!(
        error.is_target_exists() && error.to_string().contains("table odd`name exists"),
        "{error}"
    );
    let error = restore(
        &rp,
        &res,
        &vault,
        &RestoreTarget::Database {
            name: source.0.clone(),
            table: Some("nope".into()),
            server: None,
        },
        false,
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("no table \"nope\""), "{error}");

    // Validation restores into a scratch database, compares, and drops it.
    let validation = validate(&rp, &res, &vault, dir.path(), None).await.unwrap();
    assert!(validation.passed(), "{validation:?}");
    let mut tampered = rp.clone();
    tampered.manifest.as_mut().unwrap().tables[1].checksum = "1".into();
    let validation = validate(&tampered, &res, &vault, dir.path(), None)
        .await
        .unwrap();
    assert!(!validation.passed());
    assert!(
        validation.problems[0].contains("table items: checksum"),
        "{validation:?}"
    );
    let scratch = sql(
        None,
        &format!(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'coffer_validate_{}'",
            tampered.recovery_point_id.to_lowercase()
        ),
    );
    assert_eq!(scratch, "", "the scratch database is dropped");
}

/// Moves one unit between two accounts, each move a transaction, until
/// `control.go` is 0 (a client killed midway would leave the server
/// running the procedure).
fn start_transfers(db: &str) -> Child {
    sql(
        Some(db),
        "CREATE TABLE control (go int);
         INSERT INTO control VALUES (1);
         DELIMITER //
         CREATE PROCEDURE transfers()
         BEGIN
           WHILE (SELECT go FROM control) = 1 DO
             START TRANSACTION;
             UPDATE accounts SET balance = balance - 1 WHERE id = 1;
             DO SLEEP(0.001);
             UPDATE accounts SET balance = balance + 1 WHERE id = 2;
             INSERT INTO moves (amount) VALUES (1);
             COMMIT;
           END WHILE;
         END //",
    );
    client(Some(db))
        .args(["--execute", "CALL transfers()"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn a_backup_under_concurrent_transfers_never_holds_half_a_transfer() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault(dir.path());
    let source = TempDb::new("coffer_my_busy");
    sql(
        Some(&source.0),
        "CREATE TABLE accounts (id int PRIMARY KEY, balance int) ENGINE=InnoDB;
         INSERT INTO accounts VALUES (1, 100000), (2, 100000);
         CREATE TABLE moves (id int PRIMARY KEY AUTO_INCREMENT, amount int) ENGINE=InnoDB;
         CREATE TABLE bulk (id int PRIMARY KEY, body text) ENGINE=InnoDB;
         INSERT INTO bulk SELECT seq, repeat(md5(seq), 8) FROM seq_1_to_20000;",
    );
    let res = db_resource(&source.0, "3306");
    let mut transfers = start_transfers(&source.0);
    // Let the transfers get going, then back up three times while they run.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut points = Vec::new();
    for _ in 0..3 {
        let outcome = backup(&res, &vault, vec![], dir.path()).await.unwrap();
        points.push(outcome);
    }
    sql(Some(&source.0), "UPDATE control SET go = 0");
    assert!(transfers.wait().unwrap().success());

    let mut moved = std::collections::BTreeSet::new();
    for (index, outcome) in points.iter().enumerate() {
        let rp = point(&res, outcome);
        let restored = TempDb::named(&format!("coffer_my_busy{index}"));
        let target = RestoreTarget::Database {
            name: restored.0.clone(),
            table: None,
            server: None,
        };
        restore(&rp, &res, &vault, &target, false).await.unwrap();
        let found = sql(
            Some(&restored.0),
            "SELECT sum(balance), 100000 - min(balance), (SELECT count(*) FROM moves) FROM accounts",
        );
        let fields: Vec<&str> = found.trim().split('\t').collect();
        assert_eq!(fields[0], "200000", "a transfer is never half in a backup");
        assert_eq!(
            fields[1], fields[2],
            "every move's row is there with its transfer"
        );
        moved.insert(fields[1].to_string());
        let moves = outcome
            .manifest
            .as_ref()
            .unwrap()
            .tables
            .iter()
            .find(|t| t.name == "moves")
            .unwrap()
            .rows;
        assert_eq!(
            moves.to_string(),
            fields[2],
            "the manifest describes the dump"
        );
        let validation = validate(&rp, &res, &vault, dir.path(), None).await.unwrap();
        assert!(validation.passed(), "{validation:?}");
    }
    assert!(
        moved.len() > 1 || !moved.contains("0"),
        "the transfers ran during the backups: {moved:?}"
    );
}

/// The server sessions working on `db`, other than `except`.
fn sessions_on(db: &str, except: &str) -> String {
    sql(
        None,
        &format!(
            "SELECT ID, COMMAND, STATE, INFO FROM information_schema.PROCESSLIST \
             WHERE DB = '{db}' AND ID <> {except} AND ID <> CONNECTION_ID()"
        ),
    )
}

#[tokio::test]
async fn a_stopped_backup_kills_its_dump_frees_its_session_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault(dir.path());
    let db = TempDb::new("coffer_my_stop");
    sql(
        Some(&db.0),
        "CREATE TABLE a (x int); INSERT INTO a VALUES (1); CREATE TABLE held (x int);",
    );
    // Another session holds a write lock the dump must wait for.
    let mut locker = client(Some(&db.0))
        .args(["--execute", "LOCK TABLES held WRITE; SELECT SLEEP(120);"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let waited = Instant::now();
    let locker_id = loop {
        let id = sql(
            None,
            &format!(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '{}' AND INFO = 'SELECT SLEEP(120)'",
                db.0
            ),
        );
        if !id.trim().is_empty() {
            break id.trim().to_string();
        }
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "the lock was never taken"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let res = db_resource(&db.0, "3306");

    // A completion window ends: the backup's future is dropped.
    let stopped = tokio::time::timeout(
        Duration::from_secs(3),
        backup(&res, &vault, vec![], dir.path()),
    )
    .await;
    assert!(stopped.is_err(), "the dump waits for the lock");
    let waited = Instant::now();
    loop {
        let left = sessions_on(&db.0, &locker_id);
        if left.is_empty() {
            break;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "the dump's session is still on the server: {left}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sql(None, &format!("KILL {locker_id}"));
    locker.wait().unwrap();
    // Give a storage thread still finishing its read a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(vault.storage.snapshots(&vault.secret).unwrap().is_empty());
}

#[tokio::test]
async fn a_failing_dump_carries_its_words_and_leaves_no_recovery_point() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault(dir.path());
    let error = backup(
        &db_resource("coffer_no_such_db", "3306"),
        &vault,
        vec![],
        dir.path(),
    )
    .await
    .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("Unknown database") && text.contains("coffer_no_such_db"),
        "{text}"
    );
    let error = backup(&db_resource("mysql", "1"), &vault, vec![], dir.path())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("Can't connect"), "{error}");
    assert!(vault.storage.snapshots(&vault.secret).unwrap().is_empty());
}

#[tokio::test]
async fn discovery_lists_databases_with_comment_tags_and_without_system_schemas() {
    let tagged = TempDb::named("coffer_my_disc");
    sql(
        None,
        &format!(
            "CREATE DATABASE {} COMMENT 'Orders.\\ncoffer: backup-tier=critical, env=test'",
            tagged.0
        ),
    );
    let skipped = TempDb::new("coffer_my_skip");
    let server = Server {
        name: "maria".into(),
        engine: ResourceType::MySQL,
        host: "127.0.0.1".into(),
        port: 3306,
        user: Some("root".into()),
        password: None,
        account_id: AccountId::new("111122223333").unwrap(),
        region: Region::new("eu-west-1").unwrap(),
        tags: [("team".to_string(), "payments".to_string())].into(),
        databases: vec![],
        exclude_databases: vec!["coffer_my_skip*".into()],
        database_tags: Default::default(),
    };
    let found = discover(&server).await.unwrap();
    let mine = found
        .iter()
        .find(|r| r.resource_name == format!("maria/{}", tagged.0))
        .unwrap();
    assert_eq!(mine.tags["backup-tier"], "critical");
    assert_eq!(mine.tags["env"], "test");
    assert_eq!(mine.tags["team"], "payments");
    assert_eq!(mine.resource_type, ResourceType::MySQL);
    assert_eq!(
        mine.resource_arn.to_string(),
        format!(
            "arn:coffer:mysql:eu-west-1:111122223333:database/maria/{}",
            tagged.0
        )
    );
    assert!(!found.iter().any(|r| r.resource_name.ends_with(&skipped.0)));
    for system in ["mysql", "information_schema", "performance_schema", "sys"] {
        assert!(
            !found
                .iter()
                .any(|r| r.resource_name == format!("maria/{system}")),
            "{system} is the server's own"
        );
    }
    let endpoint = coffer_drivers::mysql::Endpoint::of_server(&server).unwrap();
    assert!(!format!("{endpoint:?}").contains("password: Some(\""));
}
