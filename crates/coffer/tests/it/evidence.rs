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
