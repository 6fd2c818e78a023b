//! Typed reads of policy objects: one by account, region and name (or by
//! ARN), the objects of a kind in a scope, and their names.

use std::collections::BTreeMap;

use coffer_catalog::{Catalog, DesiredObject, Error, ObjectKind};
use serde::Deserialize;
use serde_json::json;

use crate::engines::{engines, now};

const ACCOUNT: &str = "111122223333";

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct Vault {
    backup_vault_name: String,
    #[serde(default)]
    min_retention_days: u32,
}

fn vault(region: &str, name: &str, days: u32) -> DesiredObject {
    DesiredObject {
        kind: ObjectKind::BackupVault,
        account_id: ACCOUNT.into(),
        region: region.into(),
        name: name.into(),
        arn: format!("arn:coffer:backup:{region}:{ACCOUNT}:backup-vault:{name}"),
        doc: json!({"BackupVaultName": name, "MinRetentionDays": days}),
    }
}

fn resource(region: &str, name: &str) -> DesiredObject {
    let arn = format!("arn:coffer:fs:{region}:{ACCOUNT}:filesystem/{name}");
    DesiredObject {
        kind: ObjectKind::Resource,
        account_id: ACCOUNT.into(),
        region: region.into(),
        name: arn.clone(),
        arn: arn.clone(),
        doc: json!({"ResourceArn": arn, "ResourceType": "FileSystem"}),
    }
}

async fn apply(catalog: &Catalog, stack: &str, region: &str, desired: Vec<DesiredObject>) {
    let files = BTreeMap::from([("stack.yaml".to_string(), "ab".repeat(32))]);
    let plan = catalog
        .plan_stack(stack, ACCOUNT, region, desired, files, now())
        .await
        .unwrap();
    catalog.apply_stack(&plan, now()).await.unwrap();
}

async fn estate(catalog: &Catalog) {
    apply(
        catalog,
        "paris",
        "eu-west-3",
        vec![
            vault("eu-west-3", "nightly", 7),
            vault("eu-west-3", "archive", 35),
            resource("eu-west-3", "home"),
        ],
    )
    .await;
    apply(
        catalog,
        "dublin",
        "eu-west-1",
        vec![
            vault("eu-west-1", "nightly", 14),
            resource("eu-west-1", "home"),
        ],
    )
    .await;
}

#[tokio::test]
async fn an_object_is_read_by_account_region_and_name_into_its_type() {
    for engine in engines().await {
        let catalog = engine.open().await;
        estate(&catalog).await;
        let found: Option<Vault> = catalog
            .object(ObjectKind::BackupVault, ACCOUNT, "eu-west-1", "nightly")
            .await
            .unwrap();
        assert_eq!(
            found,
            Some(Vault {
                backup_vault_name: "nightly".into(),
                min_retention_days: 14
            }),
            "{}",
            engine.name
        );
        let elsewhere: Option<Vault> = catalog
            .object(
                ObjectKind::BackupVault,
                "444455556666",
                "eu-west-1",
                "nightly",
            )
            .await
            .unwrap();
        assert_eq!(elsewhere, None, "{}", engine.name);
        let missing: Option<Vault> = catalog
            .object(ObjectKind::BackupVault, ACCOUNT, "eu-west-1", "archive")
            .await
            .unwrap();
        assert_eq!(missing, None, "{}", engine.name);
        let by_arn: Option<Vault> = catalog
            .object_by_arn(
                ObjectKind::BackupVault,
                &format!("arn:coffer:backup:eu-west-3:{ACCOUNT}:backup-vault:archive"),
            )
            .await
            .unwrap();
        assert_eq!(
            by_arn.map(|v| v.min_retention_days),
            Some(35),
            "{}",
            engine.name
        );
        let arn = format!("arn:coffer:fs:eu-west-3:{ACCOUNT}:filesystem/home");
        let home: Option<serde_json::Value> = catalog
            .object(ObjectKind::Resource, ACCOUNT, "eu-west-3", &arn)
            .await
            .unwrap();
        assert_eq!(home.unwrap()["ResourceArn"], json!(arn), "{}", engine.name);
        let wrong_region: Option<serde_json::Value> = catalog
            .object(ObjectKind::Resource, ACCOUNT, "eu-west-1", &arn)
            .await
            .unwrap();
        assert_eq!(wrong_region, None, "{}", engine.name);
    }
}

#[tokio::test]
async fn the_objects_of_a_scope_are_only_those_of_its_account_and_region() {
    for engine in engines().await {
        let catalog = engine.open().await;
        estate(&catalog).await;
        let paris: Vec<Vault> = catalog
            .objects_in(ObjectKind::BackupVault, ACCOUNT, "eu-west-3")
            .await
            .unwrap();
        let names: Vec<&str> = paris.iter().map(|v| v.backup_vault_name.as_str()).collect();
        assert_eq!(names, ["archive", "nightly"], "{}", engine.name);
        assert_eq!(
            catalog
                .names_in(ObjectKind::BackupVault, ACCOUNT, "eu-west-1")
                .await
                .unwrap(),
            ["nightly"],
            "{}",
            engine.name
        );
        assert!(catalog
            .names_in(ObjectKind::BackupVault, ACCOUNT, "us-east-1")
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            catalog
                .names_in(ObjectKind::Resource, ACCOUNT, "eu-west-1")
                .await
                .unwrap(),
            [format!("arn:coffer:fs:eu-west-1:{ACCOUNT}:filesystem/home")],
            "{}",
            engine.name
        );
        // Whole rows (stack, ARN, version), of the scope only.
        let stored = catalog
            .stored_in(ObjectKind::BackupVault, ACCOUNT, "eu-west-3")
            .await
            .unwrap();
        let named: Vec<(&str, &str, &str)> = stored
            .iter()
            .map(|o| (o.name.as_str(), o.account_id.as_str(), o.region.as_str()))
            .collect();
        assert_eq!(
            named,
            [
                ("archive", ACCOUNT, "eu-west-3"),
                ("nightly", ACCOUNT, "eu-west-3")
            ],
            "{}",
            engine.name
        );
        assert!(stored.iter().all(|o| !o.stack.is_empty() && o.version >= 1));
        let resources = catalog
            .stored_in(ObjectKind::Resource, ACCOUNT, "eu-west-1")
            .await
            .unwrap();
        assert_eq!(resources.len(), 1, "{}", engine.name);
    }
}

#[tokio::test]
async fn a_document_that_does_not_read_as_the_type_names_the_object() {
    for engine in engines().await {
        let catalog = engine.open().await;
        estate(&catalog).await;
        let error = catalog
            .objects_in::<Vec<u8>>(ObjectKind::BackupVault, ACCOUNT, "eu-west-1")
            .await
            .unwrap_err();
        assert!(
            matches!(&error, Error::Corrupt { what, .. } if what == "backup vault nightly"),
            "{}: {error}",
            engine.name
        );
    }
}
