//! `coffer quickstart`: the whole of Coffer on the embedded default, in one
//! command. It creates a home, applies the shipped example policy
//! (`examples/quickstart/stack.yaml`), creates real resources to protect
//! (folders with files, SQLite databases, a PostgreSQL database when a
//! server answers on 127.0.0.1:5432 and a MariaDB one when a server answers
//! on 127.0.0.1:3306, saying what it skipped and why), leaves one untagged
//! so a control fails honestly, backs them up, copies one point to a second
//! vault, runs a restore drill (the documents restored where the user can
//! open them, then the stack's restore testing plan once: each tested
//! resource restored to a scratch target, validated, the target deleted,
//! the result printed per resource), evaluates
//! the framework, delivers the reports, verifies them, and prints where
//! everything is. Run again on the same home, it
//! reuses what exists and adds a new round of backups.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use coffer_model::RecoveryPoint;
use coffer_report::bundle::Trust;
use coffer_service::backup::{requested_lifecycle, StartBackup, StartCopy};
use coffer_service::quickstart::{BucketReadiness, MARIADB_SERVER, RESTORE_TESTING_PLAN};
use coffer_service::report::DeliveryAt;
use coffer_service::restore::{RestoreTarget, StartRestore};
use coffer_service::stack::PolicyInput;
use coffer_service::Service;

use crate::context::Context;
use crate::{progress, render, Outcome};

const STACK: &str = include_str!("../../../examples/quickstart/stack.yaml");
const STEPS: usize = 8;

fn step(n: usize, what: &str) {
    println!("\n[{n}/{STEPS}] {what}");
}

/// Writes `path` with `contents` unless it exists.
fn ensure(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    if !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(path, contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// A SQLite database with a table of rows, created once; each run adds a row.
fn sqlite(path: &Path, table: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let conn = rusqlite::Connection::open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, created TEXT, body TEXT);
         INSERT INTO {table} (created, body) VALUES (datetime('now'), 'quickstart round');"
    ))
    .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The PostgreSQL database to protect, if a server answers locally (and
/// `pg_dump` is installed to back it up).
async fn postgres(name: &str) -> Option<String> {
    use sqlx::{Connection, Executor};
    std::process::Command::new("pg_dump")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let url = "postgres://postgres@127.0.0.1:5432/postgres";
    let connect = sqlx::PgConnection::connect(url);
    let mut conn = tokio::time::timeout(std::time::Duration::from_secs(3), connect)
        .await
        .ok()?
        .ok()?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut conn)
        .await
        .ok()?;
    if exists.is_none() {
        conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .ok()?;
    }
    let _ = conn.close().await;
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    let mut db = sqlx::PgConnection::connect(&url).await.ok()?;
    db.execute(
        "CREATE TABLE IF NOT EXISTS invoices (id serial PRIMARY KEY, amount int, created timestamptz DEFAULT now());
         INSERT INTO invoices (amount) SELECT g FROM generate_series(1, 100) g;",
    )
    .await
    .ok()?;
    let _ = db.close().await;
    Some(name.to_string())
}

/// The newest completed point of `resource` in the primary vault.
async fn newest(service: &Service, resource: &str) -> anyhow::Result<String> {
    let points: Vec<RecoveryPoint> = service
        .records(|p: &RecoveryPoint| {
            p.resource_arn == resource
                && p.backup_vault_name == "quickstart-primary"
                && p.status == coffer_model::RecoveryPointStatus::Completed
        })
        .await?;
    points
        .into_iter()
        .max_by_key(|p| p.creation_date)
        .map(|p| p.recovery_point_id)
        .context("the backup left no recovery point")
}

pub async fn run(ctx: &Context) -> anyhow::Result<Outcome> {
    let service = ctx.service().await?.acting_as(&ctx.caller());
    let result = rounds(ctx, &service).await;
    service.close().await;
    result
}

async fn rounds(ctx: &Context, service: &Service) -> anyhow::Result<Outcome> {
    let caller = &ctx.caller();
    let home = ctx.config.home().to_path_buf();
    let (account, region) = (ctx.account.to_string(), ctx.region.to_string());
    let base = home.join("quickstart");
    let data = base.join("data");
    println!("Coffer quickstart in {}", home.display());

    step(1, "Creating resources to protect");
    for (name, text) in [
        (
            "documents/contract.txt",
            "Contract between Coffer and its users.\n",
        ),
        (
            "documents/minutes/2026-11.md",
            "# Minutes\nBackups are tested monthly.\n",
        ),
        ("photos/readme.txt", "Holiday photos.\n"),
        ("scratch/tmp.txt", "Nobody backs this up.\n"),
    ] {
        ensure(&data.join(name), text.as_bytes())?;
    }
    // Each round changes something, so each backup has news.
    let stamp = service.now();
    std::fs::write(
        data.join(format!("documents/round-{}.txt", stamp.as_second())),
        format!("round at {stamp}\n"),
    )?;
    sqlite(&data.join("orders.db"), "orders")?;
    sqlite(&data.join("sessions.db"), "sessions")?;
    let digest = coffer_catalog::ledger::sha256_hex(home.display().to_string().as_bytes());
    let pg = postgres(&format!("coffer_quickstart_{}", &digest[..8])).await;
    match &pg {
        Some(db) => println!("  PostgreSQL on 127.0.0.1:5432: database {db}"),
        None => println!("  (no PostgreSQL answered on 127.0.0.1:5432: skipped)"),
    }
    let bucket = match service
        .quickstart_bucket(
            &format!("coffer-quickstart-{}", &digest[..8]),
            &stamp.as_second().to_string(),
        )
        .await
    {
        BucketReadiness::Ready(bucket) => {
            println!(
                "  S3 endpoint {} ({}): bucket {}, {} object(s)",
                bucket.endpoint_name, bucket.endpoint.url, bucket.bucket, bucket.objects
            );
            Some(bucket)
        }
        BucketReadiness::Skipped(why) => {
            println!("  (no S3 bucket protected: {why})");
            None
        }
    };
    let maria = match service
        .quickstart_mariadb(
            &ctx.account,
            &ctx.region,
            &format!("coffer_quickstart_{}", &digest[..8]),
        )
        .await
    {
        Ok(db) => {
            println!("  MariaDB on 127.0.0.1:3306: database {db}");
            Some(db)
        }
        Err(why) => {
            println!("  (MariaDB on 127.0.0.1:3306 skipped: {why})");
            None
        }
    };
    let mut inventory = format!(
        "# Written by coffer quickstart: the resources it protects.\ndefaults:\n  account: \"{account}\"\n  region: {region}\nfilesystems:\n"
    );
    for name in ["documents", "photos"] {
        inventory.push_str(&format!(
            "  - name: {name}\n    path: {}\n    tags: {{backup: daily}}\n",
            data.join(name).display()
        ));
    }
    inventory.push_str(&format!(
        "  # Untagged on purpose: the framework reports it NON_COMPLIANT.\n  - name: scratch\n    path: {}\n    tags: {{env: staging}}\nsqlite:\n",
        data.join("scratch").display()
    ));
    for name in ["orders", "sessions"] {
        inventory.push_str(&format!(
            "  - name: {name}\n    path: {}\n    tags: {{backup: daily}}\n",
            data.join(format!("{name}.db")).display()
        ));
    }
    if let Some(db) = &pg {
        inventory.push_str(&format!(
            "postgres:\n  - name: local\n    host: 127.0.0.1\n    port: 5432\n    user: postgres\n    databases: [\"{db}\"]\n    database_tags:\n      {db}: {{backup: daily}}\n    exclude_databases: [\"template*\", \"postgres\"]\n"
        ));
    }
    if let Some(bucket) = &bucket {
        let reference = |secret: &Option<coffer_model::SecretRef>, field: &str| match secret {
            Some(coffer_model::SecretRef::Env(name)) => format!("    {field}: {{env: {name}}}\n"),
            Some(coffer_model::SecretRef::File(path)) => {
                format!("    {field}: {{file: {path}}}\n")
            }
            None => String::new(),
        };
        let endpoint = &bucket.endpoint;
        inventory.push_str(&format!(
            "s3_endpoints:\n  - name: {}\n    url: {}\n    region: {}\n{}{}    path_style: {}\nbuckets:\n  - name: quickstart\n    endpoint: {}\n    bucket: {}\n    tags: {{backup: daily}}\n",
            bucket.endpoint_name,
            endpoint.url,
            endpoint.signing_region,
            reference(&endpoint.access_key_id, "access_key_id"),
            reference(&endpoint.secret_access_key, "secret_access_key"),
            endpoint.path_style,
            bucket.endpoint_name,
            bucket.bucket,
        ));
    }
    if let Some(db) = &maria {
        inventory.push_str(&format!(
            "mysql:\n  - name: {MARIADB_SERVER}\n    host: 127.0.0.1\n    port: 3306\n    user: root\n    databases: [\"{db}\"]\n    database_tags:\n      {db}: {{backup: daily}}\n"
        ));
    }
    let stack_path = base.join("stack.yaml");
    let inventory_path = base.join("inventory.yaml");
    std::fs::create_dir_all(&base)?;
    std::fs::write(&stack_path, STACK)?;
    std::fs::write(&inventory_path, inventory)?;

    step(2, "Applying the example policy");
    let input = PolicyInput {
        paths: vec![stack_path.clone(), inventory_path.clone()],
        parameters: Default::default(),
        stack: "quickstart".into(),
        allow_weakening: false,
    };
    let applied = service.plan_stack(caller, &input, true).await?;
    if render::stack_run(&applied, "quickstart", true) == Outcome::Failure {
        anyhow::bail!("the example policy could not be applied; see the errors above");
    }

    step(3, "Backing up every tagged resource");
    let arn = |kind: &str, name: &str| format!("arn:coffer:{kind}:{region}:{account}:{name}");
    let mut resources = vec![
        arn("fs", "filesystem/documents"),
        arn("fs", "filesystem/photos"),
        arn("sqlite", "database/orders"),
        arn("sqlite", "database/sessions"),
    ];
    if let Some(db) = &pg {
        resources.push(arn("postgres", &format!("database/local/{db}")));
    }
    if bucket.is_some() {
        resources.push(arn("s3", "bucket/quickstart"));
    }
    resources.extend(
        maria
            .as_ref()
            .map(|db| arn("mysql", &format!("database/{MARIADB_SERVER}/{db}"))),
    );
    for resource in &resources {
        let started = service
            .start_backup_job(
                caller,
                StartBackup {
                    resource_arn: resource.clone(),
                    vault_name: "quickstart-primary".into(),
                    lifecycle: requested_lifecycle(None, Some(35))?,
                    queue: false,
                },
            )
            .await?;
        render::backup_started(&started);
        let done = service
            .run_backup_job(
                &started,
                Some(progress::Bar::new("backup")),
                render::waits_behind,
            )
            .await?;
        render::backup_done(&done)?;
    }

    let documents = newest(service, &resources[0]).await?;

    step(4, "Copying the newest documents backup to a second vault");
    let copy = service
        .start_copy_job(
            caller,
            StartCopy {
                recovery_point: documents.clone(),
                destination_vault: "quickstart-copy".into(),
                lifecycle: requested_lifecycle(None, Some(35))?,
                queue: false,
            },
        )
        .await?;
    render::copy_started(&copy);
    render::copy_done(&service.run_copy_job(&copy.job.copy_job_id).await?)?;

    step(
        5,
        "Restore drill: restoring the documents, then running the restore testing plan",
    );
    let drill: PathBuf = base
        .join("restore-drills")
        .join(stamp.strftime("%Y%m%dT%H%M%SZ").to_string());
    let restore = StartRestore {
        recovery_point: documents.clone(),
        target: RestoreTarget::Directory {
            path: drill.clone(),
            select: None,
        },
        force: false,
        not_applied: Default::default(),
    };
    let mut run = service
        .start_restore_job(caller, &documents, &restore.target)
        .await?;
    render::restore_started(&run);
    let end = service
        .run_restore_job(&mut run, restore.force, None)
        .await?;
    render::restore_done(&run, &end)?;
    println!("  Restore testing plan {RESTORE_TESTING_PLAN}, once:");
    let drills = service.quickstart_drills(caller).await?;
    let width = resources.iter().map(String::len).max().unwrap_or(0);
    for drill in &drills {
        let job = &drill.job;
        let validation = job
            .validation_status
            .map_or("NOT VALIDATED", |v| v.as_str());
        let took = job.restore_duration_millis.map_or_else(
            || "not restored".to_string(),
            |ms| format!("restored in {ms} ms"),
        );
        let deletion = job.deletion_status.map_or("NOT DELETED", |d| d.as_str());
        println!(
            "    {:<width$} {validation:<10} {took:<20} scratch target deleted: {deletion}",
            drill.resource_arn
        );
        if !drill.passed() {
            let why = [
                job.status_message.as_deref(),
                job.validation_status_message.as_deref(),
                job.deletion_status_message.as_deref(),
            ];
            for line in why.into_iter().flatten() {
                println!("      {line}");
            }
        }
    }
    for untested in resources
        .iter()
        .filter(|r| !drills.iter().any(|d| &d.resource_arn == *r))
    {
        println!("    {untested:<width$} not tested: no selection of the plan selects it, or it has no point to test");
    }
    if !drills.iter().all(coffer_service::quickstart::Drill::passed) {
        anyhow::bail!("the restore testing plan's drill found problems; see above");
    }

    step(6, "Evaluating the framework");
    let evaluated = service
        .evaluate_frameworks(caller, Some("quickstart_core"))
        .await?;
    let mut failing = Vec::new();
    let mut others = std::collections::BTreeSet::new();
    for (framework, evaluation) in &evaluated {
        println!(
            "  framework {}: {}",
            framework.framework_name,
            evaluation.status.as_str()
        );
        for c in &evaluation.controls {
            println!(
                "    {:<52} {:<17} {} compliant, {} not",
                c.control_name,
                c.status.as_str(),
                c.compliant,
                c.non_compliant
            );
        }
        for r in service
            .current_results(caller, &framework.framework_name, true)
            .await?
            .iter()
            .filter(|r| r.status == coffer_audit::controls::Compliance::NonCompliant)
        {
            // The server's other databases are discovered too, untagged:
            // counted, not listed.
            let on_a_server = r.resource_id.contains(":database/local/")
                || r.resource_id
                    .contains(&format!(":database/{MARIADB_SERVER}/"));
            if on_a_server && !resources.contains(&r.resource_id) {
                others.insert(r.resource_id.clone());
            } else {
                failing.push(format!(
                    "{} {}: {}",
                    r.control_name, r.resource_id, r.reason
                ));
            }
        }
    }

    step(7, "Delivering the reports");
    let mut deliveries = Vec::new();
    for plan in [
        "quickstart_jobs",
        "quickstart_resources",
        "quickstart_controls",
    ] {
        let done = service.start_report_job(caller, plan, 24).await?;
        println!(
            "  {:<28} {} rows -> {}",
            done.template, done.rows, done.destination
        );
        deliveries.push(done.destination);
    }

    step(8, "Verifying the reports as an auditor would");
    let public = coffer_service::keys::signing_public_key(&ctx.config)?;
    for dir in &deliveries {
        let at = DeliveryAt::Folder(Path::new(dir));
        let check =
            coffer_service::report::verify_delivery(at, &Trust::Key(public.clone()), Some(service))
                .await?;
        if render::verified(&check) != Outcome::Success {
            anyhow::bail!("a delivered report did not verify: {dir}");
        }
    }

    println!("\nDone. What to open:");
    println!("  home            {}", home.display());
    println!("  policy          {}", stack_path.display());
    println!("  inventory       {}", inventory_path.display());
    println!("  restore drill   {}", drill.display());
    for dir in &deliveries {
        println!("  report          {dir}");
    }
    println!(
        "  signing key     {} ({})",
        public.fingerprint(),
        public.to_hex()
    );
    if !failing.is_empty() {
        println!("\nNon-compliant, as expected for the untagged resource:");
        for line in &failing {
            println!("  {line}");
        }
    }
    if !others.is_empty() {
        println!(
            "  and {} other database(s) on the local database servers, discovered but untagged, so unprotected",
            others.len()
        );
    }
    println!("\nNext: `coffer verify <report folder> --public-key {}`, `coffer evidence verify`, `coffer serve`.", public.to_hex());
    Ok(Outcome::Success)
}
