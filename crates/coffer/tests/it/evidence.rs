//! The evidence ledger end to end: every change is appended in its own
//! transaction, checkpoints are signed, and `coffer evidence verify` names
//! any edited, removed, reordered or cut-back entry.

use crate::{Home, Run};

const STACK: &str = r#"
Resources:
  Vault:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: primary
      LockConfiguration:
        MinRetentionDays: 1
        MaxRetentionDays: 100
"#;

fn ok(run: &Run) {
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

fn sql(home: &Home, statement: &str) {
    let conn = rusqlite::Connection::open(home.path().join("catalog.db")).unwrap();
    conn.execute_batch(statement).unwrap();
}

fn events(home: &Home) -> Vec<(i64, String, String)> {
    let conn = rusqlite::Connection::open(home.path().join("catalog.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT seq, kind, event FROM ledger ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn failed_with(run: &Run, needle: &str) {
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(needle),
        "expected {needle:?} in:\n{}",
        run.stderr
    );
}

/// The public key `coffer keys public` prints (with its fingerprint).
fn public_key(home: &Home) -> String {
    let public = home.run(&["keys", "public"]);
    ok(&public);
    assert!(
        public.stdout.contains("fingerprint  SHA256:"),
        "{}",
        public.stdout
    );
    public
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("public key"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn every_change_is_in_the_ledger_and_any_tampering_is_named() {
    let home = crate::home_with_docs_backed_up(STACK, "30");

    // The policy, the lock, the job's states and the point, in order.
    let logged = events(&home);
    let find = |kind: &str, event: &str| {
        logged
            .iter()
            .position(|(_, k, e)| k == kind && e.starts_with(event))
            .unwrap_or_else(|| panic!("no {kind} {event} in {logged:#?}"))
    };
    let applied = find("stack", "POLICY_APPLIED files ");
    let lock = find("vault lock", "LOCK_SET ");
    let created = find("backup job", "created CREATED");
    let running = find("backup job", "RUNNING");
    let point = find("recovery point", "created COMPLETED");
    let completed = find("backup job", "COMPLETED");
    assert!(
        applied < lock
            && lock < created
            && created < running
            && running < point
            && point < completed
    );

    ok(&home.run(&["evidence", "checkpoint"]));
    let verified = home.run(&["evidence", "verify"]);
    ok(&verified);
    assert!(verified.stdout.contains("Ledger OK"), "{}", verified.stdout);
    assert!(
        verified.stdout.contains("this home's own key"),
        "{}",
        verified.stdout
    );

    // An auditor verifies with the public key they were given; another key fails.
    let hex = public_key(&home);
    ok(&home.run(&["evidence", "verify", "--public-key", &hex]));
    let other = Home::new();
    let other_hex = public_key(&other);
    failed_with(
        &home.run(&["evidence", "verify", "--public-key", &other_hex]),
        "signature does not verify",
    );

    // An inclusion proof of the point's entry.
    let proof = home.run(&["evidence", "prove", &point.to_string(), "-o", "json"]);
    ok(&proof);
    let proof: serde_json::Value = serde_json::from_str(&proof.stdout).unwrap();
    assert_eq!(proof["LeafIndex"], point);
    assert!(proof["AuditPath"].as_array().unwrap().len() >= 2);

    // Edited: the entry is named.
    sql(
        &home,
        &format!("UPDATE ledger SET event = 'FAILED' WHERE seq = {completed}"),
    );
    failed_with(
        &home.run(&["evidence", "verify"]),
        &format!("entry {completed} (backup job"),
    );
    sql(
        &home,
        &format!("UPDATE ledger SET event = 'COMPLETED' WHERE seq = {completed}"),
    );
    ok(&home.run(&["evidence", "verify"]));

    // Reordered: two entries swap places.
    let swap = |a: usize, b: usize| {
        format!(
            "UPDATE ledger SET seq = -1 WHERE seq = {a}; UPDATE ledger SET seq = {a} WHERE seq = {b}; UPDATE ledger SET seq = {b} WHERE seq = -1;"
        )
    };
    sql(&home, &swap(running, point));
    failed_with(&home.run(&["evidence", "verify"]), "does not follow");
    sql(&home, &swap(running, point));
    ok(&home.run(&["evidence", "verify"]));

    // Removed from the middle, then cut back below the checkpoint.
    sql(&home, &format!("DELETE FROM ledger WHERE seq = {lock}"));
    failed_with(
        &home.run(&["evidence", "verify"]),
        &format!("entry {} is at position {lock}", lock + 1),
    );
    sql(&home, &format!("DELETE FROM ledger WHERE seq >= {lock}"));
    failed_with(&home.run(&["evidence", "verify"]), "it was cut back");
}

const PRINCIPAL: &str = "arn:coffer:iam::210987654321:user/ops";

/// The operating-system user a command run by this test acts as.
fn os_user() -> Option<String> {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

/// A home whose config.toml names `PRINCIPAL` (and `catalog`, when given,
/// as its catalog URL).
fn home_as_ops(catalog: Option<&str>) -> Home {
    let home = Home::new();
    let mut config = format!("[defaults]\nprincipal = \"{PRINCIPAL}\"\n");
    if let Some(url) = catalog {
        config.push_str(&format!("[catalog]\nurl = \"{url}\"\n"));
    }
    std::fs::write(home.path().join("config.toml"), config).unwrap();
    home
}

/// A format-1 entry after `prev`, as the build before actors wrote it.
fn v1_entry(seq: i64, prev: &str) -> coffer_catalog::LedgerEntry {
    let mut entry = coffer_catalog::LedgerEntry {
        seq,
        time: "2026-01-02T03:04:05.678Z".parse().unwrap(),
        kind: "stack".into(),
        subject: format!("old-{seq}"),
        event: "POLICY_APPLIED files 00 created 0 updated 0 deleted 0".into(),
        doc_sha256: "ab".repeat(32),
        prev_hash: prev.into(),
        actor: None,
        entry_hash: String::new(),
        format: coffer_catalog::FORMAT_V1,
        mac: None,
    };
    entry.entry_hash = entry.computed_hash();
    entry
}

/// A format-2 entry after `prev` with a valid hash but a MAC made without
/// the deployment's ledger key: what a catalog writer could append.
fn forged_entry(seq: i64, prev: &str) -> coffer_catalog::LedgerEntry {
    let mut entry = coffer_catalog::LedgerEntry {
        seq,
        time: "2026-12-01T00:00:00.000Z".parse().unwrap(),
        kind: "legal hold".into(),
        subject: "forged-hold".into(),
        event: "CANCELED".into(),
        doc_sha256: "cd".repeat(32),
        prev_hash: prev.into(),
        actor: Some(coffer_catalog::Actor::new(PRINCIPAL, None, None)),
        entry_hash: String::new(),
        format: coffer_catalog::FORMAT_V2,
        mac: None,
    };
    entry.entry_hash = entry.computed_hash();
    entry.mac = Some(coffer_catalog::LedgerKey::from_bytes([0; 32]).mac(&entry.entry_hash));
    entry
}

/// The INSERT of `entry` with every column, for SQLite or PostgreSQL.
fn insert_sql(entry: &coffer_catalog::LedgerEntry) -> String {
    let text = |v: Option<&str>| v.map_or("NULL".to_string(), |v| format!("'{v}'"));
    let actor = entry.actor.as_ref();
    format!(
        "INSERT INTO ledger (seq, time, kind, subject, event, doc_sha256, prev_hash, entry_hash, format, actor_principal, actor_account, actor_os_user, mac) VALUES ({}, '{}', '{}', '{}', '{}', '{}', '{}', '{}', {}, {}, {}, {}, {})",
        entry.seq,
        entry.time.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
        entry.kind,
        entry.subject,
        entry.event,
        entry.doc_sha256,
        entry.prev_hash,
        entry.entry_hash,
        entry.format,
        text(actor.map(|a| a.principal.as_str())),
        text(actor.and_then(|a| a.account.as_deref())),
        text(actor.and_then(|a| a.os_user.as_deref())),
        text(entry.mac.as_deref()),
    )
}

fn last_hash_sqlite(home: &Home) -> (i64, String) {
    let conn = rusqlite::Connection::open(home.path().join("catalog.db")).unwrap();
    conn.query_row(
        "SELECT seq, entry_hash FROM ledger ORDER BY seq DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

fn apply_vault_stack(home: &Home) {
    let stack = home.write("stack.yaml", STACK);
    ok(&home.run(&["apply", "--stack", "vaults", &stack]));
}

#[test]
fn cli_entries_name_the_configured_principal_and_os_user_after_an_older_chain() {
    let home = home_as_ops(None);
    // A ledger begun by the build before actors: format-1 entries, no MAC.
    ok(&home.run(&["get", "vaults"]));
    let first = v1_entry(0, coffer_catalog::GENESIS);
    let second = v1_entry(1, &first.entry_hash);
    sql(
        &home,
        &format!("{}; {};", insert_sql(&first), insert_sql(&second)),
    );

    apply_vault_stack(&home);
    let conn = rusqlite::Connection::open(home.path().join("catalog.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT format, actor_principal, actor_account, actor_os_user, mac FROM ledger WHERE seq >= 2 ORDER BY seq")
        .unwrap();
    #[allow(clippy::type_complexity)] // One row's columns, read once.
    let rows: Vec<(
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    )> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(rows.len() >= 2, "{rows:?}"); // The stack and its vault lock.
    for (format, principal, account, user, mac) in &rows {
        assert_eq!(*format, 2);
        assert_eq!(principal.as_deref(), Some(PRINCIPAL));
        assert_eq!(account.as_deref(), Some("210987654321"));
        assert_eq!(*user, os_user());
        assert_eq!(mac.as_ref().map(String::len), Some(64));
    }
    // The ledger key lives beside the signing key, private, not in the catalog.
    let key_path = home.path().join("ledger.key");
    let key_text = std::fs::read_to_string(&key_path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let catalog = std::fs::read(home.path().join("catalog.db")).unwrap();
    assert!(!catalog
        .windows(key_text.trim().len())
        .any(|w| w == key_text.trim().as_bytes()));

    // The old entries and the new ones verify as one chain.
    ok(&home.run(&["evidence", "checkpoint"]));
    let verified = home.run(&["evidence", "verify"]);
    ok(&verified);
    assert!(
        verified
            .stdout
            .contains(&format!("MACs of {} entries checked", rows.len())),
        "{}",
        verified.stdout
    );
}

#[test]
fn an_entry_appended_around_coffer_is_named_by_its_mac() {
    let home = home_as_ops(None);
    apply_vault_stack(&home);
    ok(&home.run(&["evidence", "checkpoint"]));
    ok(&home.run(&["evidence", "verify"]));
    // A catalog writer appends an entry with a valid chain after the
    // checkpoint; only the MAC can tell.
    let (seq, hash) = last_hash_sqlite(&home);
    sql(
        &home,
        &format!("{};", insert_sql(&forged_entry(seq + 1, &hash))),
    );
    failed_with(
        &home.run(&["evidence", "verify"]),
        &format!(
            "entry {} (legal hold forged-hold, \"CANCELED\"): its MAC does not verify",
            seq + 1
        ),
    );
    // Without a MAC at all, or in the old format to dodge it: named too.
    sql(
        &home,
        &format!("UPDATE ledger SET mac = NULL WHERE seq = {}", seq + 1),
    );
    failed_with(&home.run(&["evidence", "verify"]), "carries no MAC");
    sql(
        &home,
        &format!("DELETE FROM ledger WHERE seq = {}", seq + 1),
    );
    let old = v1_entry(seq + 1, &hash);
    sql(&home, &format!("{};", insert_sql(&old)));
    failed_with(
        &home.run(&["evidence", "verify"]),
        "in the old format 1 after entry 0",
    );
}

#[test]
fn an_entry_appended_around_coffer_is_named_on_a_postgresql_catalog() {
    let db = crate::postgres::Database::create();
    let home = home_as_ops(Some(&db.url()));
    apply_vault_stack(&home);
    let url = db.url();
    crate::postgres::block_on(async {
        use sqlx::{Connection, Row};
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        let row = sqlx::query("SELECT seq, entry_hash, actor_principal, actor_os_user FROM ledger ORDER BY seq DESC LIMIT 1")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        let seq: i64 = row.get("seq");
        let hash: String = row.get("entry_hash");
        assert_eq!(
            row.get::<Option<String>, _>("actor_principal").as_deref(),
            Some(PRINCIPAL)
        );
        assert_eq!(row.get::<Option<String>, _>("actor_os_user"), os_user());
        ok(&home.run(&["evidence", "verify"]));
        sqlx::query(&insert_sql(&forged_entry(seq + 1, &hash)))
            .execute(&mut conn)
            .await
            .unwrap();
        failed_with(
            &home.run(&["evidence", "verify"]),
            &format!("entry {} (legal hold forged-hold", seq + 1),
        );
    });
}

#[test]
fn evidence_log_looks_entries_up_by_actor_kind_subject_and_time() {
    let home = home_as_ops(None);
    apply_vault_stack(&home);
    let log = |args: &[&str]| -> serde_json::Value {
        let mut full = vec!["evidence", "log", "-o", "json"];
        full.extend_from_slice(args);
        let run = home.run(&full);
        ok(&run);
        serde_json::from_str(&run.stdout).unwrap()
    };
    let subjects = |doc: &serde_json::Value| -> Vec<String> {
        doc["Entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["Subject"].as_str().unwrap().to_string())
            .collect()
    };
    let vault = "arn:coffer:backup:eu-west-1:210987654321:backup-vault:primary";
    // Newest first: the vault lock after the stack it came with, after the
    // vault's own entry.
    let mine = log(&["--actor", PRINCIPAL]);
    assert_eq!(subjects(&mine), [vault, "vaults", vault], "{mine}");
    assert_eq!(mine["Entries"][0]["Actor"]["Principal"], PRINCIPAL);
    assert_eq!(
        mine["Entries"][0]["Actor"]["OsUser"],
        serde_json::json!(os_user())
    );
    assert!(subjects(&log(&["--actor", "coffer:scheduler"])).is_empty());
    assert_eq!(subjects(&log(&["--kind", "stack"])), ["vaults"]);
    assert_eq!(subjects(&log(&["--subject", vault])), [vault, vault]);
    assert!(subjects(&log(&["--since", "2999-01-01T00:00:00Z"])).is_empty());
    assert_eq!(
        subjects(&log(&["--until", "2999-01-01T00:00:00Z"])).len(),
        3
    );

    // A page at a time, as lookup-events pages.
    let page = log(&["--max-results", "1"]);
    assert_eq!(subjects(&page), [vault]);
    let token = page["NextToken"].as_str().unwrap().to_string();
    let next = log(&["--max-results", "1", "--next-token", &token]);
    assert_eq!(subjects(&next), ["vaults"]);
    let token = next["NextToken"].as_str().unwrap().to_string();
    let last = log(&["--max-results", "1", "--next-token", &token]);
    assert_eq!(subjects(&last), [vault]);
    assert!(last["NextToken"].is_null(), "{last}");

    // The table names the actor and the operating-system user.
    let table = home.run(&["evidence", "log", "--kind", "vault lock"]);
    ok(&table);
    assert!(
        table.stdout.contains(PRINCIPAL) && table.stdout.contains("LOCK_SET"),
        "{}",
        table.stdout
    );
    failed_with(
        &home.run(&["evidence", "log", "--since", "yesterday"]),
        "--since \"yesterday\": not an RFC 3339 time",
    );
}

const LOOSER: &str = r#"
Resources:
  Vault:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: primary
      LockConfiguration:
        MinRetentionDays: 1
        MaxRetentionDays: 365
"#;

const UNLOCKED: &str = r#"
Resources:
  Vault:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: primary
"#;

#[test]
fn weakening_a_lock_is_its_own_section_refused_without_confirmation_and_logged() {
    let home = home_as_ops(None);
    apply_vault_stack(&home);
    let vault = "arn:coffer:backup:eu-west-1:210987654321:backup-vault:primary";
    for (text, what) in [
        (LOOSER, "lock MaxRetentionDays 100 → 365"),
        (UNLOCKED, "lock removed"),
    ] {
        let stack = home.write("stack.yaml", text);
        let plan = home.run(&["plan", "--stack", "vaults", &stack]);
        assert_eq!(plan.code, 2, "{plan:?}");
        assert!(
            plan.stdout
                .contains(&format!("Weakens protection:\n  ! {vault}: {what}")),
            "{}",
            plan.stdout
        );
        let before = events(&home).len();
        let vaults_before = home.run(&["get", "vaults", "-o", "json"]).stdout;
        let refused = home.run(&["apply", "--stack", "vaults", &stack]);
        failed_with(&refused, "needs an explicit confirmation");
        assert!(
            refused.stderr.contains("--allow-weakening"),
            "{}",
            refused.stderr
        );
        assert_eq!(
            events(&home).len(),
            before,
            "a refused apply changes nothing"
        );
        assert_eq!(
            home.run(&["get", "vaults", "-o", "json"]).stdout,
            vaults_before
        );

        ok(&home.run(&["apply", "--stack", "vaults", "--allow-weakening", &stack]));
        let logged = home.run(&[
            "evidence",
            "log",
            "--kind",
            "weakening",
            "--max-results",
            "1",
            "-o",
            "json",
        ]);
        ok(&logged);
        let logged: serde_json::Value = serde_json::from_str(&logged.stdout).unwrap();
        let entry = &logged["Entries"][0];
        assert_eq!(entry["Subject"], vault);
        assert_eq!(entry["Event"], format!("WEAKENED {what} (stack vaults)"));
        assert_eq!(entry["Actor"]["Principal"], PRINCIPAL);
    }
    ok(&home.run(&["evidence", "verify"]));
}
