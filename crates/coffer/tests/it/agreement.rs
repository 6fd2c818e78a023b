//! The catalog agrees with the ledger, or Coffer says where it does not:
//! rows edited with SQL behind Coffer's back (a completed job made FAILED,
//! a locked point's DeleteAt moved to the past, a vault's LockDate, a
//! legal hold, a control result) are named by `evidence verify`, refused
//! by report runs, never trusted by a protection decision, and corrected
//! by the next evaluation; on SQLite and on PostgreSQL.

use crate::{Home, Run};

/// The report test's stack with vault `primary` under a compliance lock.
fn locked_stack() -> String {
    crate::report::STACK.replace(
        "      BackupVaultName: primary\n",
        "      BackupVaultName: primary\n      LockConfiguration:\n        MinRetentionDays: 1\n        MaxRetentionDays: 100\n        ChangeableForDays: 3\n",
    )
}

fn ok(run: &Run) {
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

fn failed_with(run: &Run, needles: &[&str]) {
    assert_ne!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "expected {needle:?} in:\n{}",
            run.stderr
        );
    }
}

/// The catalog's database, as someone with write access to it sees it.
pub(crate) trait Database {
    fn exec(&self, sql: &str);
    fn text(&self, sql: &str) -> String;
}

pub(crate) struct Sqlite<'a>(pub(crate) &'a Home);

impl Database for Sqlite<'_> {
    fn exec(&self, sql: &str) {
        let conn = rusqlite::Connection::open(self.0.path().join("catalog.db")).unwrap();
        conn.execute_batch(sql).unwrap();
    }
    fn text(&self, sql: &str) -> String {
        let conn = rusqlite::Connection::open(self.0.path().join("catalog.db")).unwrap();
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }
}

pub(crate) struct Postgres(pub(crate) String);

impl Database for Postgres {
    fn exec(&self, sql: &str) {
        use sqlx::Connection;
        crate::postgres::block_on(async {
            let mut conn = sqlx::PgConnection::connect(&self.0).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
        });
    }
    fn text(&self, sql: &str) -> String {
        use sqlx::{Connection, Row};
        crate::postgres::block_on(async {
            let mut conn = sqlx::PgConnection::connect(&self.0).await.unwrap();
            sqlx::query(sql)
                .fetch_one(&mut conn)
                .await
                .unwrap()
                .get::<String, _>(0)
        })
    }
}

/// SQL text literal.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Puts a row's document (and the columns given) back as they were.
fn put_back(db: &dyn Database, table: &str, id: &str, doc: &str, sets: &str) {
    db.exec(&format!(
        "UPDATE {table} SET doc = {}{sets} WHERE id = {}",
        quoted(doc),
        quoted(id)
    ));
}

fn the_attacks_are_named_and_refused(home: &Home, db: &dyn Database) {
    let verified = home.run(&["evidence", "verify"]);
    ok(&verified);
    assert!(
        verified.stdout.contains("Catalog OK: "),
        "{}",
        verified.stdout
    );

    // A completed job made FAILED: named, and no report signs it.
    let job = db.text("SELECT id FROM backup_jobs");
    let job_doc = db.text("SELECT doc FROM backup_jobs");
    db.exec("UPDATE backup_jobs SET state = 'FAILED', doc = REPLACE(doc, '\"COMPLETED\"', '\"FAILED\"')");
    let said = format!("backup job {job}: the catalog says FAILED, the ledger's last entry (seq ");
    failed_with(
        &home.run(&["evidence", "verify"]),
        &[&said, "Catalog FAILED verification: 1 row(s)"],
    );
    failed_with(
        &home.run(&["report", "run", "jobs_daily"]),
        &["the report was not signed", &said],
    );
    put_back(db, "backup_jobs", &job, &job_doc, ", state = 'COMPLETED'");
    ok(&home.run(&["evidence", "verify"]));
    ok(&home.run(&["report", "run", "jobs_daily"]));

    // A point in the compliance-locked vault, made due today: the sweep
    // keeps it and a delete is refused, each naming the row.
    let point = db.text("SELECT id FROM recovery_points");
    let point_doc = db.text("SELECT doc FROM recovery_points");
    let delete_at_column = db.text("SELECT delete_at FROM recovery_points");
    let delete_at: serde_json::Value = serde_json::from_str(&point_doc).unwrap();
    let delete_at = delete_at["CalculatedLifecycle"]["DeleteAt"]
        .as_str()
        .unwrap()
        .to_string();
    db.exec(&format!(
        "UPDATE recovery_points SET delete_at = '2026-01-01T00:00:00.000Z', doc = REPLACE(doc, {}, '2026-01-01T00:00:00Z')",
        quoted(&delete_at)
    ));
    let named = format!(
        "recovery point {point}: the catalog says COMPLETED, the ledger's last entry (seq "
    );
    failed_with(&home.run(&["evidence", "verify"]), &[&named]);
    let sweep = home.run(&["lifecycle", "sweep"]);
    assert!(
        format!("{}{}", sweep.stdout, sweep.stderr).contains("disagrees with the evidence ledger"),
        "{sweep:?}"
    );
    assert_eq!(db.text("SELECT status FROM recovery_points"), "COMPLETED");
    failed_with(
        &home.run(&["recovery-points", "delete", &point]),
        &[
            "deletion refused: the catalog disagrees with the evidence ledger",
            &named,
        ],
    );
    assert_eq!(db.text("SELECT status FROM recovery_points"), "COMPLETED");
    put_back(
        db,
        "recovery_points",
        &point,
        &point_doc,
        &format!(", delete_at = {}", quoted(&delete_at_column)),
    );
    ok(&home.run(&["evidence", "verify"]));

    // The vault's LockDate moved: the vault is named and no apply changes it.
    let vault_doc = db.text("SELECT doc FROM objects WHERE kind = 'backup-vault'");
    let lock_date: serde_json::Value = serde_json::from_str(&vault_doc).unwrap();
    let lock_date = lock_date["LockDate"].as_str().unwrap().to_string();
    db.exec(&format!(
        "UPDATE objects SET doc = REPLACE(doc, {}, '2099-01-01T00:00:00.000Z') WHERE kind = 'backup-vault'",
        quoted(&lock_date)
    ));
    failed_with(
        &home.run(&["evidence", "verify"]),
        &["backup vault arn:coffer:backup:eu-west-1:210987654321:backup-vault:primary: the catalog says \"primary\" locked", "LockDate 2099-01-01T00:00:00.000Z"],
    );
    let stack = home.path().join("files/stack.yaml").display().to_string();
    let inventory = home
        .path()
        .join("files/inventory.yaml")
        .display()
        .to_string();
    failed_with(
        &home.run(&["apply", "--stack", "docs", &stack, &inventory]),
        &["changed outside Coffer"],
    );
    db.exec(&format!(
        "UPDATE objects SET doc = {} WHERE kind = 'backup-vault'",
        quoted(&vault_doc)
    ));
    ok(&home.run(&["evidence", "verify"]));
}

#[test]
fn rows_edited_behind_coffers_back_are_named_refused_and_never_trusted() {
    let home = crate::home_with_docs_backed_up(&locked_stack(), "35");
    let db = Sqlite(&home);
    the_attacks_are_named_and_refused(&home, &db);

    // A legal hold made CANCELED with SQL: named, and no cancel goes
    // through it.
    ok(&home.run(&[
        "legal-holds",
        "create",
        "--title",
        "case",
        "--description",
        "d",
        "--vault",
        "primary",
    ]));
    let hold = db.text("SELECT id FROM legal_holds");
    db.exec("UPDATE legal_holds SET status = 'CANCELED', doc = REPLACE(doc, '\"ACTIVE\"', '\"CANCELED\"')");
    failed_with(
        &home.run(&["evidence", "verify"]),
        &[&format!("legal hold {hold}: the catalog says CANCELED")],
    );
    failed_with(
        &home.run(&["legal-holds", "cancel", &hold, "--reason", "closed"]),
        &["cancelling the hold refused"],
    );
}

#[test]
fn an_evaluation_corrects_a_result_edited_behind_coffers_back() {
    let home = crate::home_with_docs_backed_up(crate::report::STACK, "35");
    let db = Sqlite(&home);
    ok(&home.run(&["audit", "evaluate"]));
    let results = db.text("SELECT CAST(COUNT(*) AS TEXT) FROM control_results");
    // One result flipped, in its row, its document and the current row.
    let id = db.text("SELECT result_id FROM control_current ORDER BY control_name LIMIT 1");
    db.exec(&format!(
        "UPDATE control_results SET status = 'NON_COMPLIANT', doc = REPLACE(doc, '\"COMPLIANT\"', '\"NON_COMPLIANT\"') WHERE id = {0}; \
         UPDATE control_current SET status = 'NON_COMPLIANT' WHERE result_id = {0}",
        quoted(&id)
    ));
    failed_with(
        &home.run(&["evidence", "verify"]),
        &[&format!("control result {id}: the catalog says core ")],
    );
    // The next evaluation compares with the stored result and records the
    // one it finds, in the ledger; the current row is COMPLIANT again.
    ok(&home.run(&["audit", "evaluate"]));
    let after = db.text("SELECT CAST(COUNT(*) AS TEXT) FROM control_results");
    assert_eq!(
        after.parse::<i64>().unwrap(),
        results.parse::<i64>().unwrap() + 1
    );
    assert_eq!(
        db.text("SELECT CAST(COUNT(*) AS TEXT) FROM control_current WHERE status <> 'COMPLIANT'"),
        "0"
    );
    // The edited row stays named: the ledger keeps its evidence.
    failed_with(
        &home.run(&["evidence", "verify"]),
        &[&format!("control result {id}: ")],
    );
    ok(&home.run(&["report", "run", "control_compliance"]));
}

#[test]
fn on_a_postgresql_catalog_edited_rows_are_named_and_refused() {
    let database = crate::postgres::Database::create();
    let home = crate::docs_backed_up_in(database.home(), &locked_stack(), "35");
    let db = Postgres(database.url());
    the_attacks_are_named_and_refused(&home, &db);
}
