//! Against the PostgreSQL server on 127.0.0.1:5432 (trust auth, user
//! postgres); each test creates and drops its own databases.

use std::path::Path;
use std::process::Command;

use coffer_drivers::postgres::{discover, manifest, Endpoint};
use coffer_drivers::{backup, restore, validate, RestoreTarget};
use coffer_model::{AccountId, Region, ResourceType, Server};
use sqlx::{Connection, PgConnection};

use crate::{point, resource, vault};

const ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

async fn admin() -> PgConnection {
    PgConnection::connect(ADMIN).await.unwrap_or_else(|e| {
        panic!("PostgreSQL must run on 127.0.0.1:5432 with trust auth (.ci/run starts it): {e}")
    })
}

/// A database dropped when the test ends.
struct TempDb(String);

impl TempDb {
    async fn new(prefix: &str) -> TempDb {
        let name = format!(
            "{prefix}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        );
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin().await)
            .await
            .unwrap();
        TempDb(name)
    }

    async fn connect(&self) -> PgConnection {
        PgConnection::connect(&format!("postgres://postgres@127.0.0.1:5432/{}", self.0))
            .await
            .unwrap()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        coffer_testkit::drop_database(&self.0);
    }
}

async fn seed(db: &TempDb) {
    let mut conn = db.connect().await;
    sqlx::raw_sql(
        "CREATE SCHEMA sales;
         CREATE TABLE sales.orders (id serial PRIMARY KEY, customer text, total numeric(12,2), placed timestamptz DEFAULT now());
         INSERT INTO sales.orders (customer, total) SELECT 'c' || g, g * 1.5 FROM generate_series(1, 20000) g;
         CREATE TABLE public.notes (t text, body jsonb);
         INSERT INTO public.notes VALUES ('x', '{\"a\": [1, 2.5, null]}'), (NULL, NULL);
         CREATE TABLE public.empty (id int);",
    )
    .execute(&mut conn)
    .await
    .unwrap();
}

fn db_resource(database: &str, port: &str) -> coffer_model::Resource {
    resource(
        ResourceType::PostgreSQL,
        &format!("local/{database}"),
        &[
            ("server", "local"),
            ("host", "127.0.0.1"),
            ("port", port),
            ("database", database),
            ("user", "postgres"),
        ],
    )
}

#[tokio::test]
async fn a_database_streams_in_restores_to_a_new_database_and_validates() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault(dir.path());
    let source = TempDb::new("coffer_drv_src").await;
    seed(&source).await;
    let res = db_resource(&source.0, "5432");

    let outcome = backup(&res, &vault, vec!["coffer-test".into()], dir.path())
        .await
        .unwrap();
    let recorded = outcome.manifest.clone().unwrap();
    let orders = recorded
        .tables
        .iter()
        .find(|t| t.name == "sales.orders")
        .unwrap();
    assert_eq!(orders.rows, 20000);
    assert_eq!(recorded.tables.len(), 3, "{recorded:?}");
    let rp = point(&res, &outcome);

    // Restore into a new database: the same tables, rows and checksums.
    let restored = format!("{}_r", source.0);
    let target = RestoreTarget::Database {
        name: restored.clone(),
        table: None,
        server: None,
    };
    let result = restore(&rp, &res, &vault, &target, false).await.unwrap();
    assert!(result.created.ends_with(&restored), "{result:?}");
    let guard = TempDb(restored.clone());
    let mut conn = guard.connect().await;
    assert_eq!(manifest(&mut conn).await.unwrap(), recorded);
    conn.close().await.unwrap();

    // An existing database is refused, then replaced with --force.
    let error = restore(&rp, &res, &vault, &target, false)
        .await
        .unwrap_err();
    assert!(
        error.is_target_exists() && error.to_string().contains("with force"),
        "{error}"
    );
    let error = restore(
        &rp,
        &res,
        &vault,
        &RestoreTarget::Database {
            name: source.0.clone(),
            table: None,
            server: None,
        },
        false,
    )
    .await
    .unwrap_err();
    assert!(
        error.to_string().contains("exists"),
        "the source is never overwritten: {error}"
    );
    restore(&rp, &res, &vault, &target, true).await.unwrap();

    // One table alone, back into the source after it was dropped.
    sqlx::raw_sql("DROP TABLE sales.orders")
        .execute(&mut source.connect().await)
        .await
        .unwrap();
    let one = RestoreTarget::Database {
        name: source.0.clone(),
        table: Some("sales.orders".into()),
        server: None,
    };
    restore(&rp, &res, &vault, &one, false).await.unwrap();
    let mut conn = source.connect().await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM sales.orders")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(count, 20000);
    conn.close().await.unwrap();
    let error = restore(&rp, &res, &vault, &one, false).await.unwrap_err();
    assert!(
        error.to_string().contains("table sales.orders exists"),
        "{error}"
    );

    // Validation restores into a scratch database and compares.
    let validation = validate(&rp, &res, &vault, dir.path(), None).await.unwrap();
    assert!(validation.passed(), "{validation:?}");
    let mut tampered = rp.clone();
    tampered.manifest.as_mut().unwrap().tables[0].checksum = "1".into();
    let validation = validate(&tampered, &res, &vault, dir.path(), None)
        .await
        .unwrap();
    assert!(!validation.passed());
    assert!(
        validation.problems[0].contains("checksum"),
        "{validation:?}"
    );

    // Debian's restic alone dumps the stream; pg_restore loads it.
    let password = coffer_vault::restic_password(&vault.secret);
    let dump = dir.path().join("by-restic.pgdump");
    let out = Command::new("restic")
        .args(["--no-cache", "--repo"])
        .arg(dir.path().join("vault"))
        .args([
            "dump",
            &outcome.snapshot_id,
            &format!("/{}.pgdump", source.0),
        ])
        .env("RESTIC_PASSWORD", password)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&dump, &out.stdout).unwrap();
    let by_restic = TempDb::new("coffer_drv_restic").await;
    pg_restore_file(&by_restic.0, &dump);
    let mut conn = by_restic.connect().await;
    assert_eq!(manifest(&mut conn).await.unwrap(), recorded);
    conn.close().await.unwrap();
}

fn pg_restore_file(database: &str, file: &Path) {
    let out = Command::new("pg_restore")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "--exit-on-error",
            "-d",
            database,
        ])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn an_unreachable_server_or_missing_database_fails_clearly_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault(dir.path());
    let error = backup(&db_resource("postgres", "1"), &vault, vec![], dir.path())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("cannot connect"), "{error}");
    let error = backup(
        &db_resource("coffer_no_such_db", "5432"),
        &vault,
        vec![],
        dir.path(),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("coffer_no_such_db"), "{error}");
    assert!(vault.storage.snapshots(&vault.secret).unwrap().is_empty());
}

#[tokio::test]
async fn a_failing_pg_dump_leaves_no_recovery_point() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault(dir.path());
    let db = TempDb::new("coffer_drv_denied").await;
    let role = format!("coffer_limited_{}", &db.0[db.0.len() - 10..]);
    let mut conn = db.connect().await;
    sqlx::raw_sql(&format!(
        "CREATE ROLE {role} LOGIN; CREATE TABLE secret (x int); INSERT INTO secret VALUES (1);"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let mut res = db_resource(&db.0, "5432");
    res.connection.insert("user".into(), role.clone());
    let error = backup(&res, &vault, vec![], dir.path()).await.unwrap_err();
    assert!(error.to_string().contains("permission denied"), "{error}");
    assert!(vault.storage.snapshots(&vault.secret).unwrap().is_empty());
    drop(db);
    let _ = sqlx::raw_sql(&format!("DROP ROLE IF EXISTS {role}"))
        .execute(&mut admin().await)
        .await;
}

#[tokio::test]
async fn discovery_lists_databases_with_comment_tags_and_excludes() {
    let tagged = TempDb::new("coffer_drv_disc").await;
    let skipped = TempDb::new("coffer_drv_skip").await;
    sqlx::raw_sql(&format!(
        "COMMENT ON DATABASE {} IS 'Orders.\ncoffer: backup-tier=critical, env=test'",
        tagged.0
    ))
    .execute(&mut admin().await)
    .await
    .unwrap();
    let server = Server {
        name: "local".into(),
        engine: ResourceType::PostgreSQL,
        host: "127.0.0.1".into(),
        port: 5432,
        user: Some("postgres".into()),
        password: None,
        account_id: AccountId::new("111122223333").unwrap(),
        region: Region::new("eu-west-1").unwrap(),
        tags: [("team".to_string(), "payments".to_string())].into(),
        databases: vec![],
        exclude_databases: vec!["coffer_drv_skip*".into()],
        database_tags: Default::default(),
    };
    let found = discover(&server).await.unwrap();
    let mine = found
        .iter()
        .find(|r| r.resource_name == format!("local/{}", tagged.0))
        .unwrap();
    assert_eq!(mine.tags["backup-tier"], "critical");
    assert_eq!(mine.tags["team"], "payments");
    assert_eq!(
        mine.resource_arn.to_string(),
        format!(
            "arn:coffer:postgres:eu-west-1:111122223333:database/local/{}",
            tagged.0
        )
    );
    assert!(!found.iter().any(|r| r.resource_name.ends_with(&skipped.0)));
    assert!(!found.iter().any(|r| r.resource_name.contains("template")));
    let endpoint = Endpoint::of_server(&server).unwrap();
    assert!(!format!("{endpoint:?}").contains("password: Some(\""));
}
