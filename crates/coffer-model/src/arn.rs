//! ARNs in the AWS shape with partition `coffer`, and ARN patterns with `*`
//! wildcards as backup selections use them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::names::{AccountId, Region};

/// The partition of every ARN Coffer builds.
pub const PARTITION: &str = "coffer";

/// A parsed ARN: `arn:<partition>:<service>:<region>:<account>:<resource>`.
///
/// Region and account may be empty (IAM ARNs have no region). The resource
/// part may itself contain `:` or `/`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Arn {
    partition: String,
    service: String,
    region: String,
    account: String,
    resource: String,
}

/// Why a string is not an ARN.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not an ARN: {reason}; expected arn:<partition>:<service>:<region>:<account>:<resource>, e.g. arn:coffer:backup:eu-west-1:111122223333:backup-vault:primary")]
pub struct ArnError {
    pub value: String,
    pub reason: &'static str,
}

impl Arn {
    /// # Errors
    /// When `value` does not have the six `:`-separated parts of an ARN.
    pub fn parse(value: &str) -> Result<Self, ArnError> {
        let err = |reason| ArnError {
            value: value.to_string(),
            reason,
        };
        let mut parts = value.splitn(6, ':');
        if parts.next() != Some("arn") {
            return Err(err("it does not start with \"arn:\""));
        }
        let (Some(partition), Some(service), Some(region), Some(account), Some(resource)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(err("it has fewer than six ':'-separated parts"));
        };
        if partition.is_empty() || service.is_empty() {
            return Err(err("the partition and service must not be empty"));
        }
        if resource.is_empty() {
            return Err(err("the resource part is empty"));
        }
        if value.chars().any(char::is_whitespace) {
            return Err(err("it contains whitespace"));
        }
        Ok(Self {
            partition: partition.to_string(),
            service: service.to_string(),
            region: region.to_string(),
            account: account.to_string(),
            resource: resource.to_string(),
        })
    }

    /// Builds a Coffer ARN.
    pub fn new(service: &str, region: &str, account: &str, resource: &str) -> Self {
        Self {
            partition: PARTITION.to_string(),
            service: service.to_string(),
            region: region.to_string(),
            account: account.to_string(),
            resource: resource.to_string(),
        }
    }

    pub fn backup_vault(region: &Region, account: &AccountId, name: &str) -> Self {
        Self::new(
            "backup",
            region.as_str(),
            account.as_str(),
            &format!("backup-vault:{name}"),
        )
    }

    pub fn backup_plan(region: &Region, account: &AccountId, plan_id: &str) -> Self {
        Self::new(
            "backup",
            region.as_str(),
            account.as_str(),
            &format!("backup-plan:{plan_id}"),
        )
    }

    pub fn framework(region: &Region, account: &AccountId, name: &str) -> Self {
        Self::new(
            "backup",
            region.as_str(),
            account.as_str(),
            &format!("framework:{name}"),
        )
    }

    pub fn report_plan(region: &Region, account: &AccountId, name: &str) -> Self {
        Self::new(
            "backup",
            region.as_str(),
            account.as_str(),
            &format!("report-plan:{name}"),
        )
    }

    pub fn recovery_point(region: &Region, account: &AccountId, id: &str) -> Self {
        Self::new(
            "backup",
            region.as_str(),
            account.as_str(),
            &format!("recovery-point:{id}"),
        )
    }

    pub fn legal_hold(region: &Region, account: &AccountId, id: &str) -> Self {
        Self::new(
            "backup",
            region.as_str(),
            account.as_str(),
            &format!("legal-hold:{id}"),
        )
    }

    pub fn partition(&self) -> &str {
        &self.partition
    }
    pub fn service(&self) -> &str {
        &self.service
    }
    pub fn region(&self) -> &str {
        &self.region
    }
    pub fn account(&self) -> &str {
        &self.account
    }
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The backup vault name, if this is a backup-vault ARN.
    pub fn backup_vault_name(&self) -> Option<&str> {
        (self.service == "backup")
            .then(|| self.resource.strip_prefix("backup-vault:"))
            .flatten()
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

impl FromStr for Arn {
    type Err = ArnError;
    fn from_str(s: &str) -> Result<Self, ArnError> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Arn {
    type Error = ArnError;
    fn try_from(value: String) -> Result<Self, ArnError> {
        Self::parse(&value)
    }
}

impl From<Arn> for String {
    fn from(value: Arn) -> String {
        value.to_string()
    }
}

/// An ARN pattern as backup selections write them: `*` matches zero or more
/// non-whitespace characters anywhere, and `"*"` alone matches every ARN.
/// Matching is case-sensitive.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ArnPattern(String);

impl ArnPattern {
    /// # Errors
    /// When the pattern is neither `*` nor shaped like an ARN (wildcards
    /// allowed in any part).
    pub fn parse(value: &str) -> Result<Self, ArnError> {
        if value == "*" {
            return Ok(Self(value.to_string()));
        }
        if value.chars().any(char::is_whitespace) {
            return Err(ArnError {
                value: value.to_string(),
                reason: "it contains whitespace",
            });
        }
        if !value.starts_with("arn:") {
            return Err(ArnError {
                value: value.to_string(),
                reason: "it does not start with \"arn:\" (use \"*\" to match every resource)",
            });
        }
        // A service-only pattern such as `arn:coffer:fs:*` has fewer than six
        // parts; the trailing `*` covers the rest, so accept it.
        if value.split(':').count() < 6 && !value.ends_with('*') {
            return Err(ArnError {
                value: value.to_string(),
                reason: "it has fewer than six ':'-separated parts and does not end with '*'",
            });
        }
        Ok(Self(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn has_wildcard(&self) -> bool {
        self.0.contains('*')
    }

    pub fn matches(&self, arn: &Arn) -> bool {
        glob_match(&self.0, &arn.to_string())
    }

    pub fn matches_str(&self, value: &str) -> bool {
        glob_match(&self.0, value)
    }
}

impl fmt::Display for ArnPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ArnPattern {
    type Error = ArnError;
    fn try_from(value: String) -> Result<Self, ArnError> {
        Self::parse(&value)
    }
}

impl From<ArnPattern> for String {
    fn from(value: ArnPattern) -> String {
        value.0
    }
}

/// Matches `text` against `pattern` where `*` matches any run of characters
/// (AWS `StringLike` semantics without `?`, which selections do not use).
///
/// Runs in O(len(pattern) * len(text)) at worst, with the usual greedy
/// backtracking to the last `*`.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p_idx, mut t_idx) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t_idx < text.len() {
        if p_idx < pattern.len() && pattern[p_idx] == '*' {
            star = Some((p_idx, t_idx));
            p_idx += 1;
        } else if p_idx < pattern.len() && pattern[p_idx] == text[t_idx] {
            p_idx += 1;
            t_idx += 1;
        } else if let Some((star_p, star_t)) = star {
            p_idx = star_p + 1;
            t_idx = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p_idx..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[rstest]
    #[case(
        "arn:coffer:fs:*:210987654321:filesystem/*",
        "arn:coffer:fs:eu-west-1:210987654321:filesystem/home",
        true
    )]
    #[case(
        "arn:coffer:fs:*:210987654321:filesystem/scratch-*",
        "arn:coffer:fs:eu-west-1:210987654321:filesystem/home",
        false
    )]
    #[case(
        "arn:coffer:fs:*:210987654321:filesystem/scratch-*",
        "arn:coffer:fs:eu-west-1:210987654321:filesystem/scratch-1",
        true
    )]
    #[case(
        "arn:coffer:postgres:*",
        "arn:coffer:postgres:eu-west-1:1:database/main/orders",
        true
    )]
    #[case("*", "arn:coffer:s3:r:1:bucket/x", true)]
    #[case(
        "arn:coffer:*:*:*:database/*/orders",
        "arn:coffer:mysql:r:1:database/maria/orders",
        true
    )]
    #[case(
        "arn:coffer:*:*:*:database/*/orders",
        "arn:coffer:mysql:r:1:database/maria/orders2",
        false
    )]
    #[case(
        "arn:coffer:fs:*:*:filesystem/Home",
        "arn:coffer:fs:r:1:filesystem/home",
        false
    )]
    fn patterns_match_like_backup_selections(
        #[case] pattern: &str,
        #[case] arn: &str,
        #[case] expected: bool,
    ) {
        let pattern = ArnPattern::parse(pattern).unwrap();
        assert_eq!(pattern.matches(&Arn::parse(arn).unwrap()), expected);
    }

    #[test]
    fn malformed_arns_say_what_is_expected() {
        let err = Arn::parse("arn:coffer:backup").unwrap_err();
        assert!(err.to_string().contains("fewer than six"), "{err}");
        assert!(err.to_string().contains("e.g. arn:coffer:backup:"), "{err}");
        assert!(Arn::parse("coffer:backup:r:1:x").is_err());
        assert!(ArnPattern::parse("filesystem/*").is_err());
    }

    #[test]
    fn vault_arn_round_trips_and_exposes_name() {
        let arn = Arn::backup_vault(
            &Region::new("eu-west-1").unwrap(),
            &AccountId::new("111122223333").unwrap(),
            "primary",
        );
        assert_eq!(
            arn.to_string(),
            "arn:coffer:backup:eu-west-1:111122223333:backup-vault:primary"
        );
        assert_eq!(Arn::parse(&arn.to_string()).unwrap(), arn);
        assert_eq!(arn.backup_vault_name(), Some("primary"));
    }

    fn naive_glob(pattern: &[char], text: &[char]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some(('*', rest)) => (0..=text.len()).any(|i| naive_glob(rest, &text[i..])),
            Some((c, rest)) => text.first() == Some(c) && naive_glob(rest, &text[1..]),
        }
    }

    proptest! {
        #[test]
        fn arn_round_trips(service in "[a-z]{1,8}", region in "[a-z0-9-]{0,12}",
                           account in "[0-9]{0,12}", resource in "[a-zA-Z0-9:/_.-]{1,30}") {
            let arn = Arn::new(&service, &region, &account, &resource);
            prop_assert_eq!(Arn::parse(&arn.to_string()).unwrap(), arn);
        }

        #[test]
        fn glob_agrees_with_naive_recursion(pattern in "[ab*]{0,8}", text in "[ab]{0,10}") {
            let p: Vec<char> = pattern.chars().collect();
            let t: Vec<char> = text.chars().collect();
            prop_assert_eq!(glob_match(&pattern, &text), naive_glob(&p, &t));
        }
    }
}
