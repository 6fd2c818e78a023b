//! What the AWS Backup API keeps in the catalog: keyset pages that rows
//! written meanwhile never shift, objects of no stack, access keys, and
//! refusals counted within bounds. Both engines.

use coffer_catalog::{
    AccessKeyRecord, Condition, DesiredObject, Error, ObjectKind, OTHER_SOURCES,
    REFUSAL_SOURCES_PER_HOUR,
};
use jiff::SignedDuration;

use crate::engines::{engines, now};
use crate::records::job;

#[tokio::test]
async fn pages_of_records_neither_repeat_nor_skip_while_rows_are_written() {
    for engine in engines().await {
        let catalog = engine.open().await;
        for i in 0..5 {
            catalog.insert(&job(&format!("J{i}")), now()).await.unwrap();
        }
        let here = [
            Condition::eq("account_id", "111122223333"),
            Condition::eq("region", "eu-west-1"),
        ];
        let mut seen = Vec::new();
        let mut cursor = None;
        let mut written = 0;
        loop {
            let page = catalog
                .records_page::<coffer_model::BackupJob>(&here, cursor.as_ref(), 2)
                .await
                .unwrap();
            seen.extend(page.items.iter().map(|s| s.record.backup_job_id.clone()));
            // A row written between pages, later than every row seen.
            if written < 2 {
                let later = now()
                    .checked_add(SignedDuration::from_secs(60 * (written + 1)))
                    .unwrap();
                catalog
                    .insert(&job(&format!("K{written}")), later)
                    .await
                    .unwrap();
                written += 1;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "{}: {seen:?}", engine.name);
        assert_eq!(seen.len(), 7, "{}: {seen:?}", engine.name);
        let completed = catalog
            .records_page::<coffer_model::BackupJob>(
                &[Condition::eq("state", "COMPLETED")],
                None,
                10,
            )
            .await
            .unwrap();
        assert!(completed.items.is_empty(), "{}", engine.name);
        let before = catalog
            .records_page::<coffer_model::BackupJob>(
                &[Condition::before("creation_date", now())],
                None,
                10,
            )
            .await
            .unwrap();
        assert!(
            before.items.is_empty() && before.next.is_none(),
            "{}",
            engine.name
        );
    }
}

fn vault(name: &str) -> DesiredObject {
    let arn = format!("arn:coffer:backup:eu-west-1:111122223333:backup-vault:{name}");
    DesiredObject {
        kind: ObjectKind::BackupVault,
        account_id: "111122223333".into(),
        region: "eu-west-1".into(),
        name: name.into(),
        arn: arn.clone(),
        doc: serde_json::json!({
            "BackupVaultName": name,
            "BackupVaultArn": arn,
            "AccountId": "111122223333",
            "Region": "eu-west-1",
        }),
    }
}

#[tokio::test]
async fn objects_of_no_stack_are_created_paged_and_deleted_with_their_entries() {
    for engine in engines().await {
        let catalog = engine.open().await;
        for name in ["c", "a", "b"] {
            catalog
                .create_unowned_object(&vault(name), now())
                .await
                .unwrap();
        }
        let again = catalog.create_unowned_object(&vault("a"), now()).await;
        assert!(
            matches!(again, Err(Error::Conflict { .. })),
            "{}",
            engine.name
        );
        let first = catalog
            .objects_page(
                ObjectKind::BackupVault,
                "111122223333",
                "eu-west-1",
                None,
                2,
            )
            .await
            .unwrap();
        let names: Vec<&str> = first.items.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["a", "b"], "{}", engine.name);
        let rest = catalog
            .objects_page(
                ObjectKind::BackupVault,
                "111122223333",
                "eu-west-1",
                first.next.as_deref(),
                2,
            )
            .await
            .unwrap();
        assert_eq!(rest.items.len(), 1);
        assert!(rest.next.is_none());
        // A vault holding a recovery point is not deleted.
        let held = catalog
            .stored_object(ObjectKind::BackupVault, "111122223333", "eu-west-1", "c")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(held.stack, coffer_catalog::NO_STACK);
        catalog
            .insert(&crate::records::recovery_point("P1", "c"), now())
            .await
            .unwrap();
        let refused = catalog.delete_unowned_object(&held, now()).await;
        assert!(
            matches!(refused, Err(Error::Blocked { .. })),
            "{}",
            engine.name
        );
        let free = catalog
            .stored_object(ObjectKind::BackupVault, "111122223333", "eu-west-1", "a")
            .await
            .unwrap()
            .unwrap();
        catalog.delete_unowned_object(&free, now()).await.unwrap();
        let subjects: Vec<String> = catalog
            .ledger_entries(0, catalog.ledger_len().await.unwrap())
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == "backup vault")
            .map(|e| format!("{} {}", e.event, e.subject))
            .collect();
        assert!(
            subjects.contains(&format!("DELETED {}", free.arn)),
            "{}: {subjects:?}",
            engine.name
        );
        assert_eq!(
            catalog
                .recovery_points_in_vault("111122223333", "eu-west-1", "c")
                .await
                .unwrap(),
            1
        );
        // A page of vaults counted in one grouped query: the same counts,
        // a vault holding none absent.
        for (id, vault) in [("P2", "c"), ("P3", "b")] {
            catalog
                .insert(&crate::records::recovery_point(id, vault), now())
                .await
                .unwrap();
        }
        let counts = catalog
            .recovery_points_in_vaults("111122223333", "eu-west-1", &["b", "c", "none"])
            .await
            .unwrap();
        assert_eq!(
            counts,
            std::collections::HashMap::from([("b".to_string(), 1), ("c".to_string(), 2)]),
            "{}",
            engine.name
        );
    }
}

/// A plan of no stack is written as `apply` writes a stack's: every
/// version in the history beside its entry (a deletion a tombstone), no
/// object entry without its version, and its rules marked for the
/// scheduler from when they were written.
#[tokio::test]
async fn writes_of_no_stack_keep_their_history_and_mark_a_plans_rules() {
    for engine in engines().await {
        let catalog = engine.open().await;
        let arn = "arn:coffer:backup:eu-west-1:111122223333:backup-plan:daily";
        let plan = |rules: &[&str]| DesiredObject {
            kind: ObjectKind::BackupPlan,
            account_id: "111122223333".into(),
            region: "eu-west-1".into(),
            name: "daily".into(),
            arn: arn.into(),
            doc: serde_json::json!({
                "BackupPlanName": "daily",
                "Rules": rules.iter().map(|r| serde_json::json!({"RuleName": r})).collect::<Vec<_>>(),
            }),
        };
        let created = now();
        catalog
            .create_unowned_object(&plan(&["nightly"]), created)
            .await
            .unwrap();
        let stored = catalog
            .stored_object(ObjectKind::BackupPlan, "111122223333", "eu-west-1", "daily")
            .await
            .unwrap()
            .unwrap();
        let later = created.checked_add(SignedDuration::from_hours(1)).unwrap();
        catalog
            .update_unowned_object(&stored, &plan(&["nightly", "hourly"]).doc, later)
            .await
            .unwrap();
        let marks = catalog.rules_first_seen().await.unwrap();
        let mark = |rule: &str| {
            marks
                .get(&(
                    "111122223333".to_string(),
                    "eu-west-1".to_string(),
                    "daily".to_string(),
                    rule.to_string(),
                ))
                .copied()
        };
        assert_eq!(mark("nightly"), Some(created), "{}", engine.name);
        assert_eq!(mark("hourly"), Some(later), "{}", engine.name);
        let stored = catalog
            .stored_object(ObjectKind::BackupPlan, "111122223333", "eu-west-1", "daily")
            .await
            .unwrap()
            .unwrap();
        catalog.delete_unowned_object(&stored, later).await.unwrap();
        let history = catalog
            .object_history(ObjectKind::BackupPlan, "111122223333", "eu-west-1", "daily")
            .await
            .unwrap();
        let changes: Vec<String> = history.iter().map(|v| v.change.to_string()).collect();
        assert_eq!(
            changes,
            ["CREATED", "UPDATED", "DELETED"],
            "{}",
            engine.name
        );
        assert!(history.iter().all(|v| v.stack.is_empty()));
        assert_eq!(
            history[1].doc.as_ref().unwrap()["Rules"][1]["RuleName"],
            "hourly"
        );
        let scope = catalog
            .object_versions_in(ObjectKind::BackupPlan, "111122223333", "eu-west-1")
            .await
            .unwrap();
        assert_eq!(scope.len(), 3);
        assert!(
            catalog.versions_missing().await.unwrap().is_empty(),
            "{}",
            engine.name
        );
    }
}

/// A request token is reserved once: a second reservation is in
/// progress until the first answers, then gets that answer; a released
/// token (a failed request) is reserved again.
#[tokio::test]
async fn request_tokens_answer_a_retry_with_the_first_answer() {
    use coffer_catalog::{RequestToken, TokenReservation};
    for engine in engines().await {
        let catalog = engine.open().await;
        let token = |t: &'static str| RequestToken {
            account_id: "111122223333",
            region: "eu-west-1",
            operation: "StartBackupJob",
            token: t,
        };
        let principal = "arn:coffer:iam::111122223333:user/ops";
        let reserve =
            |t: &'static str| catalog.reserve_request_token(token(t), "p1", principal, now());
        assert_eq!(reserve("a").await.unwrap(), TokenReservation::Reserved);
        assert_eq!(reserve("a").await.unwrap(), TokenReservation::InProgress);
        catalog
            .answer_request_token(token("a"), r#"{"BackupJobId":"j1"}"#, None, now())
            .await
            .unwrap();
        // An answered token is never released.
        catalog.release_request_token(token("a")).await.unwrap();
        assert_eq!(
            reserve("a").await.unwrap(),
            TokenReservation::Answered(r#"{"BackupJobId":"j1"}"#.into()),
            "{}",
            engine.name
        );
        // The same token with other parameters is neither answered nor
        // reserved, answered or in progress.
        for _ in 0..2 {
            assert_eq!(
                catalog
                    .reserve_request_token(token("a"), "other", principal, now())
                    .await
                    .unwrap(),
                TokenReservation::OtherParameters,
                "{}",
                engine.name
            );
        }
        assert_eq!(
            catalog
                .reserve_request_token(token("c"), "p1", principal, now())
                .await
                .unwrap(),
            TokenReservation::Reserved
        );
        assert_eq!(
            catalog
                .reserve_request_token(token("c"), "p3", principal, now())
                .await
                .unwrap(),
            TokenReservation::OtherParameters
        );
        // The same token of another operation is another token.
        let other = RequestToken {
            operation: "CreateLegalHold",
            ..token("a")
        };
        assert_eq!(
            catalog
                .reserve_request_token(other, "p2", principal, now())
                .await
                .unwrap(),
            TokenReservation::Reserved
        );
        assert_eq!(reserve("b").await.unwrap(), TokenReservation::Reserved);
        catalog.release_request_token(token("b")).await.unwrap();
        assert_eq!(reserve("b").await.unwrap(), TokenReservation::Reserved);
    }
}

/// A create request's token is kept with the ARN of the object it made,
/// and read back by ARNs together, in the order answered; a token in
/// progress, a released one, or one of a request that made nothing is
/// not.
#[tokio::test]
async fn tokens_are_read_back_by_the_arns_of_the_objects_they_created() {
    use coffer_catalog::{RequestToken, TokenReservation};
    for engine in engines().await {
        let catalog = engine.open().await;
        let token = |operation: &'static str, t: &'static str| RequestToken {
            account_id: "111122223333",
            region: "eu-west-1",
            operation,
            token: t,
        };
        let principal = "arn:coffer:iam::111122223333:user/ops";
        let vault = "arn:coffer:backup:eu-west-1:111122223333:backup-vault:made";
        let plan = "arn:coffer:backup:eu-west-1:111122223333:backup-plan:made";
        let at = |s: i64| jiff::Timestamp::from_second(1_790_000_000 + s).unwrap();
        let answered = |op, t, arn, s| {
            let catalog = &catalog;
            async move {
                assert_eq!(
                    catalog
                        .reserve_request_token(token(op, t), "p", principal, at(s))
                        .await
                        .unwrap(),
                    TokenReservation::Reserved
                );
                catalog
                    .answer_request_token(token(op, t), "{}", arn, at(s))
                    .await
                    .unwrap();
            }
        };
        // The vault made twice (deleted between), each time with a token.
        answered("CreateBackupVault", "v-2", Some(vault), 20).await;
        answered("CreateBackupVault", "v-1", Some(vault), 10).await;
        answered("CreateBackupPlan", "p-1", Some(plan), 15).await;
        answered("StartBackupJob", "job", None, 16).await;
        // In progress: reserved, not answered.
        catalog
            .reserve_request_token(token("CreateBackupPlan", "p-2"), "q", principal, at(17))
            .await
            .unwrap();
        let found = catalog
            .tokens_of_created(&[
                vault,
                plan,
                "arn:coffer:backup:eu-west-1:111122223333:backup-vault:other",
            ])
            .await
            .unwrap();
        let seen: Vec<(&str, &str, jiff::Timestamp)> = found
            .iter()
            .map(|t| (t.arn.as_str(), t.token.as_str(), t.answered_at))
            .collect();
        assert_eq!(
            seen,
            [
                (vault, "v-1", at(10)),
                (plan, "p-1", at(15)),
                (vault, "v-2", at(20))
            ],
            "{}",
            engine.name
        );
        assert!(catalog.tokens_of_created(&[]).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn access_keys_and_refusals_are_kept_within_bounds() {
    for engine in engines().await {
        let catalog = engine.open().await;
        let key = AccessKeyRecord {
            key_id: "AKCFAAAAAAAAAAAAAAAA".into(),
            user_name: "ops".into(),
            account_id: "111122223333".into(),
            principal: "arn:coffer:iam::111122223333:user/ops".into(),
            status: "Active".into(),
            wrapped: serde_json::json!({"KeyName": "k", "KeyVersion": 1, "Nonce": "00", "Ciphertext": "00"}),
            created_at: now(),
            last_used_at: None,
            last_used_region: None,
            version: 1,
        };
        // What authentication reads is cached against the stamp: every
        // write of a key changes it, noting a key's use does not.
        let before = catalog.auth_stamp().await.unwrap();
        assert_eq!(catalog.auth_stamp().await.unwrap(), before);
        catalog.insert_access_key(&key, now()).await.unwrap();
        let created = catalog.auth_stamp().await.unwrap();
        assert_ne!(created, before, "{}", engine.name);
        catalog
            .note_access_key_use(&key.key_id, "eu-west-1", now())
            .await
            .unwrap();
        assert_eq!(catalog.auth_stamp().await.unwrap(), created);
        let stored = catalog.access_key(&key.key_id).await.unwrap().unwrap();
        assert_eq!(stored.last_used_region.as_deref(), Some("eu-west-1"));
        catalog
            .set_access_key_status(&stored, "Inactive", now())
            .await
            .unwrap();
        assert_ne!(
            catalog.auth_stamp().await.unwrap(),
            created,
            "{}",
            engine.name
        );
        let stale = catalog
            .set_access_key_status(&stored, "Active", now())
            .await;
        assert!(
            matches!(stale, Err(Error::Conflict { .. })),
            "{}",
            engine.name
        );
        let listed = catalog
            .access_keys("111122223333", Some("ops"))
            .await
            .unwrap();
        assert_eq!(listed[0].status, "Inactive");
        let disabled = catalog.auth_stamp().await.unwrap();
        catalog.delete_access_key(&listed[0], now()).await.unwrap();
        assert_ne!(
            catalog.auth_stamp().await.unwrap(),
            disabled,
            "{}",
            engine.name
        );
        assert!(catalog.access_key(&key.key_id).await.unwrap().is_none());

        // A flood from one source increments one row.
        for _ in 0..20 {
            catalog
                .record_refusal("AKCFX", "InvalidSignatureException", "mismatch", now())
                .await
                .unwrap();
        }
        let rows = catalog.refusals_since(now()).await.unwrap();
        assert_eq!(rows.len(), 1, "{}", engine.name);
        assert_eq!(rows[0].count, 20);
        // Past the hourly cap, new sources share one row.
        let hour = now().checked_add(SignedDuration::from_hours(1)).unwrap();
        for i in 0..REFUSAL_SOURCES_PER_HOUR + 5 {
            catalog
                .record_refusal(
                    &format!("10.0.{}.{}", i / 250, i % 250),
                    "UnrecognizedClientException",
                    "unknown key",
                    hour,
                )
                .await
                .unwrap();
        }
        let later = catalog.refusals_since(hour).await.unwrap();
        assert_eq!(
            i64::try_from(later.len()).unwrap(),
            REFUSAL_SOURCES_PER_HOUR + 1,
            "{}",
            engine.name
        );
        let other = later.iter().find(|r| r.source == OTHER_SOURCES).unwrap();
        assert_eq!(other.count, 5);
        let entries = catalog
            .ledger_entries(0, catalog.ledger_len().await.unwrap())
            .await
            .unwrap();
        let refusal_entries = entries.iter().filter(|e| e.kind == "auth refusal").count();
        assert_eq!(
            i64::try_from(refusal_entries).unwrap(),
            REFUSAL_SOURCES_PER_HOUR + 2,
            "{}",
            engine.name
        );
        let key_entries: Vec<&str> = entries
            .iter()
            .filter(|e| e.kind == "access key")
            .map(|e| e.event.as_str())
            .collect();
        assert_eq!(key_entries.len(), 3, "{}: {key_entries:?}", engine.name);
    }
}

fn restore(id: &str, point: &str, minutes: i64, validation: bool) -> coffer_model::RestoreJob {
    coffer_model::RestoreJob {
        restore_job_id: id.into(),
        account_id: "111122223333".into(),
        region: "eu-west-1".into(),
        recovery_point_arn: format!(
            "arn:coffer:backup:eu-west-1:111122223333:recovery-point:{point}"
        ),
        status: coffer_model::RestoreJobStatus::Completed,
        status_message: None,
        creation_date: now()
            .checked_add(SignedDuration::from_mins(minutes))
            .unwrap(),
        completion_date: None,
        created_resource_arn: None,
        resource_type: coffer_model::ResourceType::FileSystem,
        percent_done: 100,
        validation_status: validation.then_some(coffer_model::ValidationStatus::Successful),
        validation_status_message: None,
        restore_target: None,
        restore_metadata: std::collections::BTreeMap::new(),
        runner: None,
        created_by: None,
        deletion_status: None,
        deletion_status_message: None,
        restore_duration_millis: None,
    }
}

/// DescribeProtectedResource's reads: a resource's newest completed point
/// and its newest restore that is not a validation, by index, whatever
/// other resources' points and restores there are.
#[tokio::test]
async fn a_resources_newest_point_and_latest_restore_are_read_by_index() {
    use coffer_model::RecoveryPointStatus;
    for engine in engines().await {
        let catalog = engine.open().await;
        let home = "arn:coffer:fs:eu-west-1:111122223333:filesystem/home";
        let other = "arn:coffer:fs:eu-west-1:111122223333:filesystem/other";
        assert!(catalog
            .newest_completed_point("111122223333", "eu-west-1", home)
            .await
            .unwrap()
            .is_none());
        let at = |minutes| {
            now()
                .checked_add(SignedDuration::from_mins(minutes))
                .unwrap()
        };
        let mut old = crate::records::recovery_point("OLD", "primary");
        old.creation_date = at(0);
        let mut new = crate::records::recovery_point("NEW", "primary");
        new.creation_date = at(10);
        let mut partial = crate::records::recovery_point("PARTIAL", "primary");
        partial.creation_date = at(20);
        partial.status = RecoveryPointStatus::Partial;
        let mut elsewhere = crate::records::recovery_point("ELSEWHERE", "primary");
        elsewhere.creation_date = at(30);
        elsewhere.resource_arn = other.into();
        for point in [&old, &new, &partial, &elsewhere] {
            catalog.insert(point, now()).await.unwrap();
        }
        let newest = catalog
            .newest_completed_point("111122223333", "eu-west-1", home)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(newest.recovery_point_id, "NEW", "{}", engine.name);
        assert!(catalog
            .latest_restore_of_resource("111122223333", "eu-west-1", home)
            .await
            .unwrap()
            .is_none());
        for job in [
            restore("R1", "OLD", 40, false),
            restore("R2", "NEW", 50, true),
            restore("R3", "ELSEWHERE", 60, false),
        ] {
            catalog.insert(&job, now()).await.unwrap();
        }
        let (job, point_created) = catalog
            .latest_restore_of_resource("111122223333", "eu-west-1", home)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(job.restore_job_id, "R1", "{}", engine.name);
        assert_eq!(point_created, at(0));
        assert!(catalog
            .newest_completed_point("999999999999", "eu-west-1", home)
            .await
            .unwrap()
            .is_none());
    }
}

/// GetBackupPlan's LastExecutionDate: the newest job of the plan that ran,
/// not one merely scheduled or expired, nor another plan's.
#[tokio::test]
async fn a_plans_last_execution_is_its_newest_job_that_ran() {
    use coffer_model::BackupJobState;
    for engine in engines().await {
        let catalog = engine.open().await;
        let last = || catalog.last_plan_execution("111122223333", "eu-west-1", "critical");
        assert_eq!(last().await.unwrap(), None, "{}", engine.name);
        let at = |minutes| {
            now()
                .checked_add(SignedDuration::from_mins(minutes))
                .unwrap()
        };
        for (id, minutes, state, plan) in [
            ("J1", 0, BackupJobState::Completed, "critical"),
            ("J2", 10, BackupJobState::Failed, "critical"),
            ("J3", 20, BackupJobState::Created, "critical"),
            ("J4", 30, BackupJobState::Expired, "critical"),
            ("J5", 40, BackupJobState::Completed, "other"),
        ] {
            let mut job = job(id);
            job.creation_date = at(minutes);
            job.state = state;
            job.backup_plan_name = Some(plan.into());
            catalog.insert(&job, now()).await.unwrap();
        }
        assert_eq!(last().await.unwrap(), Some(at(10)), "{}", engine.name);
    }
}
