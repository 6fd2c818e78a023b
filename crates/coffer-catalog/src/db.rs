//! Opening the catalog (SQLite file in WAL mode, or PostgreSQL) and running
//! its versioned migrations.
//!
//! Migrations are SQL files embedded in the binary, applied in order inside
//! a transaction each, and recorded with a checksum so a catalog written by a
//! different build is detected instead of silently misread.

use std::path::Path;

use sha2::{Digest, Sha256};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor, Row};
use tracing::info;

use crate::error::{redact_url, Error, Result};
use crate::time::format_ts;

/// The database behind a catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

struct Migration {
    version: i64,
    description: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "initial schema",
        sql: include_str!("migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        description: "vault secrets",
        sql: include_str!("migrations/0002_vault_secrets.sql"),
    },
    Migration {
        version: 3,
        description: "vault checks",
        sql: include_str!("migrations/0003_vault_checks.sql"),
    },
    Migration {
        version: 4,
        description: "evidence ledger",
        sql: include_str!("migrations/0004_ledger.sql"),
    },
    Migration {
        version: 5,
        description: "control results",
        sql: include_str!("migrations/0005_control_results.sql"),
    },
    Migration {
        version: 6,
        description: "report jobs",
        sql: include_str!("migrations/0006_report_jobs.sql"),
    },
    Migration {
        version: 7,
        description: "current control results, framework evaluations",
        sql: include_str!("migrations/0007_control_current.sql"),
    },
    Migration {
        version: 8,
        description: "copy jobs by source point and destination",
        sql: include_str!("migrations/0008_copy_jobs_by_source.sql"),
    },
    Migration {
        version: 9,
        description: "schedule marks",
        sql: include_str!("migrations/0009_schedule_marks.sql"),
    },
    Migration {
        version: 10,
        description: "resources by account and region",
        sql: include_str!("migrations/0010_resources_by_place.sql"),
    },
    Migration {
        version: 11,
        description: "ledger entries name their actor and carry a MAC",
        sql: include_str!("migrations/0011_ledger_actor_mac.sql"),
    },
    Migration {
        version: 12,
        description: "object history: every version of each ledgered policy object",
        sql: include_str!("migrations/0012_object_versions.sql"),
    },
    Migration {
        version: 13,
        description: "declared cuts of the ledger",
        sql: include_str!("migrations/0013_ledger_cuts.sql"),
    },
    Migration {
        version: 14,
        description: "access keys for the API and counted authentication refusals",
        sql: include_str!("migrations/0014_access_keys.sql"),
    },
    Migration {
        version: 15,
        description: "request tokens of the API's idempotent operations",
        sql: include_str!("migrations/0015_request_tokens.sql"),
    },
    Migration {
        version: 16,
        description:
            "ledger entries by subject and kind, for the catalog's agreement with the ledger",
        sql: include_str!("migrations/0016_ledger_by_subject_kind.sql"),
    },
    Migration {
        version: 17,
        description: "restore tests whose scratch target may be left, by index",
        sql: include_str!("migrations/0017_restore_test_scratch.sql"),
    },
    Migration {
        version: 18,
        description: "the organization as last applied",
        sql: include_str!("migrations/0018_organization.sql"),
    },
    Migration {
        version: 20,
        description: "restore jobs by recovery point, backup jobs by plan; the parameters of a request token's first request",
        sql: include_str!("migrations/0020_api_reads.sql"),
    },
    Migration {
        version: 21,
        description: "the object a request token's create made, by its ARN",
        sql: include_str!("migrations/0021_request_token_objects.sql"),
    },
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 21;

fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

pub(crate) async fn connect(url: &str) -> Result<(AnyPool, Backend)> {
    sqlx::any::install_default_drivers();
    let backend = if url.starts_with("sqlite:") {
        Backend::Sqlite
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Backend::Postgres
    } else {
        return Err(Error::UnsupportedUrl {
            url: redact_url(url),
        });
    };
    let mut url = url.to_string();
    if backend == Backend::Sqlite {
        let path = url
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:")
            .split('?')
            .next()
            .unwrap_or_default()
            .to_string();
        if let Some(parent) = Path::new(&path).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|source| Error::CreateDir {
                    path: parent.display().to_string(),
                    source,
                })?;
            }
        }
        if !url.contains("mode=") {
            url.push_str(if url.contains('?') {
                "&mode=rwc"
            } else {
                "?mode=rwc"
            });
        }
    }
    let options: AnyConnectOptions = url.parse().map_err(|source| Error::Open {
        url: redact_url(&url),
        source,
    })?;
    // Set-at-a-time reads of a large estate take seconds by design: slow
    // statements are debug detail, not warnings on a user's terminal.
    let options = options.log_slow_statements(
        tracing::log::LevelFilter::Debug,
        std::time::Duration::from_secs(5),
    );
    let pool = AnyPoolOptions::new()
        .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // WAL lets readers run while one writer applies; the busy
                    // timeout makes a second writer wait instead of failing.
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 15000; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(|source| Error::Open {
            url: redact_url(&url),
            source,
        })?;
    Ok((pool, backend))
}

pub(crate) async fn migrate(pool: &AnyPool, backend: Backend, now: jiff::Timestamp) -> Result<()> {
    pool.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT NOT NULL PRIMARY KEY, description TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    .await?;
    for migration in MIGRATIONS {
        let mut tx = match backend {
            Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => pool.begin().await?,
        };
        if backend == Backend::Postgres {
            // Serializes concurrent migrators across processes.
            sqlx::query("SELECT pg_advisory_xact_lock(7421001)")
                .execute(&mut *tx)
                .await?;
        }
        let applied = sqlx::query("SELECT checksum FROM schema_migrations WHERE version = $1")
            .bind(migration.version)
            .fetch_optional(&mut *tx)
            .await?;
        match applied {
            Some(row) => {
                let stored: String = row.try_get("checksum")?;
                if stored != checksum(migration.sql) {
                    return Err(Error::MigrationChanged {
                        version: migration.version,
                        description: migration.description.to_string(),
                    });
                }
                tx.rollback().await?;
            }
            None => {
                sqlx::raw_sql(migration.sql).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO schema_migrations (version, description, checksum, applied_at) VALUES ($1, $2, $3, $4)")
                    .bind(migration.version)
                    .bind(migration.description)
                    .bind(checksum(migration.sql))
                    .bind(format_ts(now))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                info!(
                    version = migration.version,
                    description = migration.description,
                    "catalog migrated"
                );
            }
        }
    }
    let newest: Option<i64> = sqlx::query("SELECT MAX(version) AS v FROM schema_migrations")
        .fetch_one(pool)
        .await?
        .try_get("v")?;
    if let Some(found) = newest {
        if found > SCHEMA_VERSION {
            return Err(Error::TooNew {
                found,
                known: SCHEMA_VERSION,
            });
        }
    }
    Ok(())
}
