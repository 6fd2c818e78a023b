//! Backup selections: which resources a plan covers.
//!
//! The effective set is `((Resources ∪ ListOfTags matches) ∖ NotResources) ∩
//! every Condition`, and a selection with neither Resources nor ListOfTags
//! starts from every supported resource, as AWS Backup does.

use serde::{Deserialize, Serialize};

use crate::arn::{glob_match, ArnPattern};
use crate::finding::Findings;
use crate::names::{AccountId, NameKind, Region};
use crate::resource::Resource;

/// Per-selection quotas.
pub const MAX_PLAIN_ARNS: usize = 500;
pub const MAX_WILDCARD_ARNS: usize = 30;
pub const MAX_CONDITIONS: usize = 30;
pub const MAX_TAG_CONDITIONS: usize = 30;

/// The prefix of condition keys naming a resource tag.
pub const RESOURCE_TAG_PREFIX: &str = "aws:ResourceTag/";

/// A selection of resources for one plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupSelection {
    pub selection_name: String,
    /// The name of the plan this selection belongs to.
    pub backup_plan_name: String,
    pub iam_role_arn: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ArnPattern>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_resources: Vec<ArnPattern>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub list_of_tags: Vec<TagCondition>,
    #[serde(default, skip_serializing_if = "Conditions::is_empty")]
    pub conditions: Conditions,
}

/// A `ListOfTags` entry: `STRINGEQUALS` on a bare tag key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagCondition {
    pub condition_type: String,
    pub condition_key: String,
    pub condition_value: String,
}

/// `Conditions`: each list ANDed with all others.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Conditions {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub string_equals: Vec<ConditionParameter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub string_not_equals: Vec<ConditionParameter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub string_like: Vec<ConditionParameter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub string_not_like: Vec<ConditionParameter>,
}

/// One condition: `aws:ResourceTag/<key>` compared with a value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConditionParameter {
    pub condition_key: String,
    pub condition_value: String,
}

impl Conditions {
    pub fn is_empty(&self) -> bool {
        self.string_equals.is_empty()
            && self.string_not_equals.is_empty()
            && self.string_like.is_empty()
            && self.string_not_like.is_empty()
    }

    fn all(&self) -> impl Iterator<Item = (&'static str, usize, &ConditionParameter)> {
        [
            ("StringEquals", &self.string_equals),
            ("StringNotEquals", &self.string_not_equals),
            ("StringLike", &self.string_like),
            ("StringNotLike", &self.string_not_like),
        ]
        .into_iter()
        .flat_map(|(name, list)| list.iter().enumerate().map(move |(i, c)| (name, i, c)))
    }

    /// Whether a resource satisfies every condition. A missing tag fails the
    /// positive operators and passes the negative ones, as in IAM.
    pub fn matches(&self, resource: &Resource) -> bool {
        self.all().all(|(operator, _, condition)| {
            let tag = condition
                .condition_key
                .strip_prefix(RESOURCE_TAG_PREFIX)
                .and_then(|key| resource.tags.get(key));
            let value = condition.condition_value.as_str();
            match (operator, tag) {
                ("StringEquals", Some(t)) => t == value,
                ("StringNotEquals", Some(t)) => t != value,
                ("StringLike", Some(t)) => glob_match(value, t),
                ("StringNotLike", Some(t)) => !glob_match(value, t),
                ("StringEquals" | "StringLike", None) => false,
                _ => true,
            }
        })
    }
}

impl BackupSelection {
    /// Whether this selection, whose plan lives in `account` and `region`,
    /// covers `resource`. Plans and selections are regional, as in AWS: a
    /// resource of another account or region is never selected.
    pub fn selects(&self, account: &AccountId, region: &Region, resource: &Resource) -> bool {
        if &resource.account_id != account || &resource.region != region {
            return false;
        }
        let included = if self.resources.is_empty() && self.list_of_tags.is_empty() {
            true
        } else {
            self.resources
                .iter()
                .any(|p| p.matches(&resource.resource_arn))
                || self
                    .list_of_tags
                    .iter()
                    .any(|t| resource.tags.get(&t.condition_key) == Some(&t.condition_value))
        };
        included
            && !self
                .not_resources
                .iter()
                .any(|p| p.matches(&resource.resource_arn))
            && self.conditions.matches(resource)
    }

    pub fn validate(&self) -> Findings {
        let mut findings = Findings::new();
        if let Err(err) = NameKind::BackupSelection.check(&self.selection_name) {
            findings.error("SelectionName", err.to_string());
        }
        if self.iam_role_arn.is_empty() {
            findings.error("IamRoleArn", "IamRoleArn is required").hint(
                "any role ARN works (Coffer acts as its own service role), e.g. arn:coffer:iam::111122223333:role/backup-service",
            );
        }
        for (field, list) in [
            ("Resources", &self.resources),
            ("NotResources", &self.not_resources),
        ] {
            for (idx, pattern) in list.iter().enumerate() {
                let partition = pattern.as_str().split(':').nth(1).unwrap_or("*");
                if partition != crate::PARTITION && partition != "*" {
                    findings
                        .warning(
                            format!("{field}[{idx}]"),
                            format!("{pattern} names partition {partition:?}; Coffer's resources are arn:coffer:..., so it matches nothing here"),
                        )
                        .hint("write Coffer ARNs, e.g. arn:coffer:postgres:*:*:database/*, or select by tag");
                }
            }
            let n_wild = list.iter().filter(|p| p.has_wildcard()).count();
            let n_plain = list.len() - n_wild;
            if n_wild > MAX_WILDCARD_ARNS {
                findings.error(field, format!("{n_wild} ARN patterns with wildcards exceed the limit of {MAX_WILDCARD_ARNS} per selection"));
            }
            if n_plain > MAX_PLAIN_ARNS {
                findings.error(
                    field,
                    format!("{n_plain} ARNs exceed the limit of {MAX_PLAIN_ARNS} per selection"),
                );
            }
        }
        if self.list_of_tags.len() > MAX_TAG_CONDITIONS {
            findings.error(
                "ListOfTags",
                format!(
                    "{} tag conditions exceed the limit of {MAX_TAG_CONDITIONS}",
                    self.list_of_tags.len()
                ),
            );
        }
        for (idx, tag) in self.list_of_tags.iter().enumerate() {
            if tag.condition_type != "STRINGEQUALS" {
                findings
                    .error(
                        format!("ListOfTags[{idx}].ConditionType"),
                        format!("ConditionType {:?} is not supported: ListOfTags allows only STRINGEQUALS", tag.condition_type),
                    )
                    .hint("use Conditions (StringLike, StringNotEquals, ...) for other comparisons");
            }
            if tag.condition_key.starts_with(RESOURCE_TAG_PREFIX) {
                findings
                    .error(
                        format!("ListOfTags[{idx}].ConditionKey"),
                        format!(
                            "ListOfTags takes the bare tag key, not {:?}",
                            tag.condition_key
                        ),
                    )
                    .hint(format!(
                        "use {:?}",
                        &tag.condition_key[RESOURCE_TAG_PREFIX.len()..]
                    ));
            }
        }
        let mut n_conditions = 0;
        for (operator, idx, condition) in self.conditions.all() {
            n_conditions += 1;
            match condition.condition_key.strip_prefix(RESOURCE_TAG_PREFIX) {
                Some(key) if !key.is_empty() => {}
                _ => {
                    findings
                        .error(
                            format!("Conditions.{operator}[{idx}].ConditionKey"),
                            format!(
                                "condition key {:?} must name a resource tag",
                                condition.condition_key
                            ),
                        )
                        .hint(format!(
                            "use \"aws:ResourceTag/{}\"",
                            condition.condition_key.trim_start_matches("aws:")
                        ));
                }
            }
        }
        if n_conditions > MAX_CONDITIONS {
            findings.error(
                "Conditions",
                format!("{n_conditions} conditions exceed the limit of {MAX_CONDITIONS}"),
            );
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{AccountId, Region};
    use crate::resource::{ResourceType, Tags};

    fn account() -> AccountId {
        AccountId::new("210987654321").unwrap()
    }

    fn region() -> Region {
        Region::new("eu-west-1").unwrap()
    }

    fn resource(kind: ResourceType, name: &str, tags: &[(&str, &str)]) -> Resource {
        let region = Region::new("eu-west-1").unwrap();
        let account = AccountId::new("210987654321").unwrap();
        Resource {
            resource_arn: kind.arn(&region, &account, name),
            resource_type: kind,
            resource_name: name.into(),
            account_id: account,
            region,
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Tags>(),
            connection: Default::default(),
        }
    }

    fn selection() -> BackupSelection {
        BackupSelection {
            selection_name: "s".into(),
            backup_plan_name: "p".into(),
            iam_role_arn: "arn:coffer:iam::210987654321:role/backup".into(),
            resources: vec![],
            not_resources: vec![],
            list_of_tags: vec![],
            conditions: Conditions::default(),
        }
    }

    #[test]
    fn example_stack_standard_selection() {
        let mut sel = selection();
        sel.resources =
            vec![ArnPattern::parse("arn:coffer:fs:*:210987654321:filesystem/*").unwrap()];
        sel.not_resources =
            vec![ArnPattern::parse("arn:coffer:fs:*:210987654321:filesystem/scratch-*").unwrap()];
        sel.conditions.string_not_equals = vec![ConditionParameter {
            condition_key: "aws:ResourceTag/backup-tier".into(),
            condition_value: "none".into(),
        }];
        assert!(sel.selects(
            &account(),
            &region(),
            &resource(ResourceType::FileSystem, "home", &[])
        ));
        assert!(!sel.selects(
            &account(),
            &region(),
            &resource(ResourceType::FileSystem, "scratch-1", &[])
        ));
        assert!(!sel.selects(
            &account(),
            &region(),
            &resource(ResourceType::FileSystem, "home", &[("backup-tier", "none")])
        ));
        assert!(!sel.selects(
            &account(),
            &region(),
            &resource(ResourceType::PostgreSQL, "main/orders", &[])
        ));
    }

    #[test]
    fn tags_or_with_resources_and_conditions_and() {
        let mut sel = selection();
        sel.list_of_tags = vec![TagCondition {
            condition_type: "STRINGEQUALS".into(),
            condition_key: "backup-tier".into(),
            condition_value: "critical".into(),
        }];
        sel.resources = vec![ArnPattern::parse("arn:coffer:sqlite:*").unwrap()];
        sel.conditions.string_like = vec![ConditionParameter {
            condition_key: "aws:ResourceTag/env".into(),
            condition_value: "prod*".into(),
        }];
        assert!(sel.selects(
            &account(),
            &region(),
            &resource(
                ResourceType::PostgreSQL,
                "m/o",
                &[("backup-tier", "critical"), ("env", "prod-eu")]
            )
        ));
        assert!(sel.selects(
            &account(),
            &region(),
            &resource(ResourceType::SQLite, "app", &[("env", "production")])
        ));
        assert!(!sel.selects(
            &account(),
            &region(),
            &resource(ResourceType::SQLite, "app", &[("env", "staging")])
        ));
        assert!(!sel.selects(
            &account(),
            &region(),
            &resource(ResourceType::SQLite, "app", &[])
        ));
        assert!(!sel.selects(
            &account(),
            &region(),
            &resource(ResourceType::MySQL, "m/o", &[("env", "prod")])
        ));
    }

    #[test]
    fn selections_are_regional() {
        let mut elsewhere = resource(ResourceType::S3, "media", &[]);
        elsewhere.region = Region::new("dc-paris").unwrap();
        assert!(!selection().selects(&account(), &region(), &elsewhere));
        let mut other_account = resource(ResourceType::S3, "media", &[]);
        other_account.account_id = AccountId::new("111122223333").unwrap();
        assert!(!selection().selects(&account(), &region(), &other_account));
    }

    #[test]
    fn empty_selection_selects_everything() {
        assert!(selection().selects(
            &account(),
            &region(),
            &resource(ResourceType::S3, "media", &[])
        ));
    }

    #[test]
    fn list_of_tags_rejects_prefixed_keys_with_fix() {
        let mut sel = selection();
        sel.list_of_tags = vec![TagCondition {
            condition_type: "STRINGLIKE".into(),
            condition_key: "aws:ResourceTag/tier".into(),
            condition_value: "x".into(),
        }];
        let text: Vec<String> = sel.validate().iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 2, "{text:?}");
        assert!(text[1].contains("use \"tier\""), "{text:?}");
    }

    #[test]
    fn aws_partition_patterns_warn_that_they_match_nothing() {
        let mut sel = selection();
        sel.resources = vec![ArnPattern::parse("arn:aws:ec2:*:*:volume/*").unwrap()];
        let findings = sel.validate();
        assert!(!findings.has_errors());
        let text: Vec<String> = findings.iter().map(ToString::to_string).collect();
        assert!(
            text[0].starts_with("Resources[0]: arn:aws:ec2:*:*:volume/* names partition \"aws\""),
            "{text:?}"
        );
    }
}
