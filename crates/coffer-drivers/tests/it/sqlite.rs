use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use coffer_drivers::{backup, restore, validate, RestoreTarget};
use coffer_model::ResourceType;
use rusqlite::Connection;

use crate::{point, resource, vault};

fn writer(
    path: std::path::PathBuf,
    stop: Arc<AtomicBool>,
    wal: bool,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let conn = Connection::open(&path).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        if wal {
            conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
                .unwrap();
        }
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            // Two statements per transaction: a torn copy would break the pairing.
            conn.execute_batch(&format!(
                "BEGIN; INSERT INTO ledger (amount) VALUES ({n}); INSERT INTO ledger (amount) VALUES (-{n}); COMMIT;"
            ))
            .unwrap();
            n += 1;
        }
        n
    })
}

async fn live_database_round_trip(wal: bool) {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault(dir.path());
    let db = dir.path().join("queue.db");
    {
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE ledger (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL);
             CREATE TABLE notes (body TEXT, data BLOB);
             INSERT INTO notes VALUES ('hello', x'00ff'), (NULL, NULL);",
        )
        .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let handle = writer(db.clone(), Arc::clone(&stop), wal);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let db_text = db.display().to_string();
    let queue = resource(ResourceType::SQLite, "queue", &[("path", &db_text)]);
    let outcome = backup(&queue, &vault, vec![], &dir.path().join("scratch"))
        .await
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    let written = handle.join().unwrap();
    assert!(written > 0);
    let manifest = outcome.manifest.clone().unwrap();
    let ledger = manifest.tables.iter().find(|t| t.name == "ledger").unwrap();
    assert_eq!(
        ledger.rows % 2,
        0,
        "a consistent snapshot holds whole transactions"
    );
    assert!(
        std::fs::read_dir(dir.path().join("scratch"))
            .unwrap()
            .next()
            .is_none(),
        "the snapshot file is removed"
    );

    let rp = point(&queue, &outcome);
    let target = dir.path().join("restored/queue.db");
    restore(
        &rp,
        &queue,
        &vault,
        &RestoreTarget::File {
            path: target.clone(),
        },
        false,
    )
    .await
    .unwrap();
    let conn = Connection::open(&target).unwrap();
    let (rows, sum): (i64, i64) = conn
        .query_row(
            "SELECT count(*), coalesce(sum(amount), 0) FROM ledger",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((rows as u64, sum), (ledger.rows, 0));
    drop(conn);

    // An existing file is kept unless forced.
    let error = restore(
        &rp,
        &queue,
        &vault,
        &RestoreTarget::File {
            path: target.clone(),
        },
        false,
    )
    .await
    .unwrap_err();
    assert!(
        error.is_target_exists() && error.to_string().contains("with force"),
        "{error}"
    );
    restore(
        &rp,
        &queue,
        &vault,
        &RestoreTarget::File {
            path: target.clone(),
        },
        true,
    )
    .await
    .unwrap();

    let validation = validate(&rp, &queue, &vault, &dir.path().join("scratch"), None)
        .await
        .unwrap();
    assert!(validation.passed(), "{validation:?}");
    let mut tampered = rp.clone();
    tampered.manifest.as_mut().unwrap().tables[0].rows += 1;
    let validation = validate(&tampered, &queue, &vault, &dir.path().join("scratch"), None)
        .await
        .unwrap();
    assert!(!validation.passed());
}

#[tokio::test]
async fn a_live_wal_database_under_write_load_snapshots_consistently() {
    live_database_round_trip(true).await;
}

#[tokio::test]
async fn a_live_rollback_journal_database_under_write_load_snapshots_consistently() {
    live_database_round_trip(false).await;
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault(dir.path());
    let bogus = dir.path().join("bogus.db");
    std::fs::write(
        &bogus,
        "this is not SQLite, just text that is long enough to fail",
    )
    .unwrap();
    let text = bogus.display().to_string();
    let res = resource(ResourceType::SQLite, "bogus", &[("path", &text)]);
    let error = backup(&res, &vault, vec![], dir.path()).await.unwrap_err();
    assert!(
        error.to_string().contains("not a readable SQLite database"),
        "{error}"
    );
    assert!(vault.storage.snapshots(&vault.secret).unwrap().is_empty());
}
