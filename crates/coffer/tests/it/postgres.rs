//! The same commands with the catalog on PostgreSQL: only config.toml
//! changes. Needs the local server (127.0.0.1:5432, or
//! `COFFER_TEST_POSTGRES_URL`); an unreachable server fails the test.

use sqlx::Connection;

use crate::{repo, Home};

fn admin_url() -> String {
    std::env::var("COFFER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// A fresh database, dropped at the end.
pub(crate) struct Database {
    name: String,
}

impl Database {
    pub(crate) fn create() -> Database {
        let name = format!("coffer_cli_{}", uuid::Uuid::new_v4().simple());
        block_on(async {
            let admin = admin_url();
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
                panic!("PostgreSQL is not reachable at {admin} ({e}); `.ci/run` starts it, or set COFFER_TEST_POSTGRES_URL")
            });
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .unwrap();
        });
        Database { name }
    }

    /// A new home whose config.toml names this database as its catalog.
    pub(crate) fn home(&self) -> Home {
        let home = Home::new();
        std::fs::write(
            home.path().join("config.toml"),
            format!("[catalog]\nurl = \"{}\"\n", self.url()),
        )
        .unwrap();
        home
    }

    pub(crate) fn url(&self) -> String {
        let admin = admin_url();
        let base = admin.rsplit_once('/').unwrap().0.to_string();
        format!("{base}/{}", self.name)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let name = self.name.clone();
        block_on(async move {
            if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url()).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            }
        });
    }
}

#[test]
fn apply_and_get_work_unchanged_on_a_postgresql_catalog() {
    let db = Database::create();
    let home = db.home();
    let files = [
        repo("examples/backup-stack.yaml"),
        repo("examples/inventory.yaml"),
    ];
    let args = |command: &'static str| -> Vec<String> {
        [command, "--stack", "payments"]
            .into_iter()
            .map(String::from)
            .chain(files.iter().cloned())
            .collect()
    };
    let run = |args: Vec<String>| home.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let apply = run(args("apply"));
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(apply.stdout.contains("20 created"), "{apply:?}");
    let again = run(args("plan"));
    assert_eq!(again.code, 0, "{again:?}");
    let vaults = home.run(&["get", "vaults", "-o", "json"]);
    assert!(
        vaults
            .stdout
            .contains("\"BackupVaultName\": \"payments-primary\""),
        "{vaults:?}"
    );
    // Nothing was written to a local SQLite file.
    assert!(!home.path().join("catalog.db").exists());
}

/// `[catalog] password` is read from where it points and used for the
/// connection (the local server trusts every password, so this proves the
/// URL built with it connects); a missing variable is named, never a value.
#[test]
fn the_catalog_password_is_taken_by_reference() {
    let db = Database::create();
    let home = Home::new();
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "[catalog]\nurl = \"{}\"\npassword = {{ env = \"COFFER_IT_CATALOG_PASSWORD\" }}\n",
            db.url()
        ),
    )
    .unwrap();
    let missing = home.run(&["get", "vaults"]);
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(
        missing
            .stderr
            .contains("environment variable COFFER_IT_CATALOG_PASSWORD is not set"),
        "{missing:?}"
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
        .arg("--home")
        .arg(home.path())
        .args(["get", "vaults"])
        .env("COFFER_IT_CATALOG_PASSWORD", "p@ss:w/rd")
        .env_remove("COFFER_HOME")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
