//! The backends each test runs on.

use coffer_catalog::Catalog;
use sqlx::Connection;

/// A catalog on one backend; drops its PostgreSQL database afterwards.
pub struct Engine {
    pub name: &'static str,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_database: Option<String>,
}

fn admin_url() -> String {
    std::env::var("COFFER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

pub fn now() -> jiff::Timestamp {
    "2026-11-24T10:00:00Z".parse().unwrap()
}

impl Engine {
    pub async fn open(&self) -> Catalog {
        Catalog::open(&self.url, now())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", self.name))
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let Some(db) = self.pg_database.take() else {
            return;
        };
        let admin = admin_url();
        // Best effort: a leftover test database is named coffer_test_* and harmless.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// One SQLite and one PostgreSQL engine, each empty.
pub async fn engines() -> Vec<Engine> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Engine {
        name: "sqlite",
        url: format!("sqlite://{}", dir.path().join("catalog.db").display()),
        _dir: Some(dir),
        pg_database: None,
    };
    let admin = admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
        panic!("PostgreSQL is not reachable at {admin} ({e}); start it (see README: `.ci/run` starts it) or set COFFER_TEST_POSTGRES_URL")
    });
    let db = format!("coffer_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap();
    let postgres = Engine {
        name: "postgres",
        url: format!("{base}/{db}"),
        _dir: None,
        pg_database: Some(db),
    };
    vec![sqlite, postgres]
}
