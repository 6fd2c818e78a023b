//! The organization kept in the catalog and the plans it owns: one
//! ownership model for stacks, the organization and the API. Both engines.

use std::collections::BTreeMap;

use coffer_catalog::{Change, DesiredObject, Error, ObjectKind, Owner};
use jiff::SignedDuration;

use crate::engines::{engines, now};

const ACCOUNT: &str = "333333333333";
const REGION: &str = "eu-west-1";

fn object(kind: ObjectKind, name: &str, doc: serde_json::Value) -> DesiredObject {
    DesiredObject {
        kind,
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        name: name.into(),
        arn: format!("arn:coffer:backup:{REGION}:{ACCOUNT}:backup-plan:{name}"),
        doc,
    }
}

fn org_plan(days: u32) -> Vec<DesiredObject> {
    vec![
        object(
            ObjectKind::BackupPlan,
            "orgs/daily",
            serde_json::json!({"BackupPlanName": "orgs/daily", "Rules": [{"RuleName": "nightly", "Lifecycle": {"DeleteAfterDays": days}}]}),
        ),
        object(
            ObjectKind::BackupSelection,
            "orgs/daily/tier",
            serde_json::json!({"SelectionName": "tier", "BackupPlanName": "orgs/daily"}),
        ),
    ]
}

#[tokio::test]
async fn the_organization_owns_its_plans_and_no_stack_changes_them() {
    for engine in engines().await {
        let catalog = engine.open().await;
        let files = BTreeMap::from([("organization.yaml".to_string(), "ab".repeat(32))]);
        let digests = BTreeMap::from([("root.json".to_string(), "cd".repeat(32))]);
        let at = now();
        let plan = catalog
            .plan_organization(
                None,
                serde_json::json!({"v": 1}),
                vec![],
                org_plan(35),
                files.clone(),
                at,
            )
            .await
            .unwrap();
        assert!(plan.has_changes());
        assert_eq!(plan.objects.count(), (2, 0, 0), "{}", engine.name);
        catalog
            .apply_organization(&plan, &digests, at)
            .await
            .unwrap();
        let record = catalog.organization().await.unwrap().unwrap();
        assert_eq!((record.version, record.files.clone()), (1, files.clone()));
        let stored = catalog
            .stored_object(ObjectKind::BackupPlan, ACCOUNT, REGION, "orgs/daily")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.owner(), Owner::Organization, "{}", engine.name);

        // A stack declaring the same plan is blocked naming the owner; a
        // stack of the account, applied and emptied, never touches it.
        let blocked = catalog
            .plan_stack(
                "own",
                ACCOUNT,
                REGION,
                org_plan(7)[..1].to_vec(),
                BTreeMap::new(),
                at,
            )
            .await
            .unwrap();
        assert!(
            blocked
                .blockers
                .iter()
                .any(|b| b.reason.contains("belongs to the organization")),
            "{:?}",
            blocked.blockers
        );
        for desired in [
            vec![object(
                ObjectKind::BackupVault,
                "own-vault",
                serde_json::json!({}),
            )],
            vec![],
        ] {
            let own = catalog
                .plan_stack("own", ACCOUNT, REGION, desired, BTreeMap::new(), at)
                .await
                .unwrap();
            assert!(
                own.changes.iter().all(|c| c.name() == "own-vault"),
                "{:?}",
                own.changes
            );
            catalog.apply_stack(&own, at).await.unwrap();
        }
        assert!(catalog
            .stored_object(ObjectKind::BackupPlan, ACCOUNT, REGION, "orgs/daily")
            .await
            .unwrap()
            .is_some());

        // An edited policy changes the plan; an account moved out deletes it.
        let later = at.checked_add(SignedDuration::from_hours(1)).unwrap();
        let edited = catalog
            .plan_organization(
                Some(record.clone()),
                serde_json::json!({"v": 2}),
                vec![],
                org_plan(90),
                files.clone(),
                later,
            )
            .await
            .unwrap();
        assert_eq!(edited.objects.count(), (0, 1, 0));
        let Change::Update { fields, .. } = &edited.objects.changes[0] else {
            panic!("{:?}", edited.objects.changes)
        };
        assert_eq!(fields[0].path, "Rules[0].Lifecycle.DeleteAfterDays");
        catalog
            .apply_organization(&edited, &digests, later)
            .await
            .unwrap();
        // A plan made from a stale read of the organization changes nothing.
        let stale = catalog
            .plan_organization(
                Some(record),
                serde_json::json!({"v": 3}),
                vec![],
                vec![],
                files.clone(),
                later,
            )
            .await
            .unwrap();
        assert!(matches!(
            catalog.apply_organization(&stale, &digests, later).await,
            Err(Error::Conflict { .. })
        ));
        let current = catalog.organization().await.unwrap().unwrap();
        assert_eq!(current.version, 2);
        let moved = catalog
            .plan_organization(
                Some(current),
                serde_json::json!({"v": 3}),
                vec![],
                vec![],
                files,
                later,
            )
            .await
            .unwrap();
        assert_eq!(moved.objects.count(), (0, 0, 2));
        catalog
            .apply_organization(&moved, &digests, later)
            .await
            .unwrap();
        assert!(catalog
            .stored_object(ObjectKind::BackupPlan, ACCOUNT, REGION, "orgs/daily")
            .await
            .unwrap()
            .is_none());
        let n = catalog.ledger_len().await.unwrap();
        let applied: Vec<String> = catalog
            .ledger_entries(1, n)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == "organization")
            .map(|e| e.event)
            .collect();
        assert_eq!(applied.len(), 3, "{applied:?}");
        assert!(applied
            .iter()
            .all(|e| e.starts_with("ORGANIZATION_APPLIED policies ")));
    }
}
