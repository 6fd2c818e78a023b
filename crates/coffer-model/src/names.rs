//! Identifiers and names with the patterns AWS Backup enforces: account IDs,
//! regions, and the names of vaults, plans, rules, selections, frameworks and
//! report plans.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A 12-digit account ID, as in AWS.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    /// # Errors
    /// When `value` is not exactly 12 ASCII digits.
    pub fn new(value: &str) -> Result<Self, AccountIdError> {
        if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(value.to_string()))
        } else {
            Err(AccountIdError {
                value: value.to_string(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccountId {
    type Error = AccountIdError;
    fn try_from(value: String) -> Result<Self, AccountIdError> {
        Self::new(&value)
    }
}

impl From<AccountId> for String {
    fn from(value: AccountId) -> String {
        value.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A region: a site or storage location name such as `eu-west-1` or
/// `dc-paris` (lowercase letters, digits and `-`, 1–64 characters, starting
/// with a letter).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(String);

impl Region {
    /// # Errors
    /// When `value` is not a valid region name.
    pub fn new(value: &str) -> Result<Self, RegionError> {
        let ok = !value.is_empty()
            && value.len() <= 64
            && value.starts_with(|c: char| c.is_ascii_lowercase())
            && value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(Self(value.to_string()))
        } else {
            Err(RegionError {
                value: value.to_string(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Region {
    type Error = RegionError;
    fn try_from(value: String) -> Result<Self, RegionError> {
        Self::new(&value)
    }
}

impl From<Region> for String {
    fn from(value: Region) -> String {
        value.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A text that is not an account ID.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("account ID {value:?} must be exactly 12 digits (e.g. \"111122223333\")")]
pub struct AccountIdError {
    /// The text given.
    pub value: String,
}

/// A text that is not a region name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("region {value:?} must be lowercase letters, digits and '-', starting with a letter (e.g. \"eu-west-1\", \"dc-paris\")")]
pub struct RegionError {
    /// The text given.
    pub value: String,
}

/// The name rules of AWS Backup objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    /// `^[a-zA-Z0-9\-\_]{2,50}$`
    BackupVault,
    /// Alphanumerics and `-_.`, 1–200 characters (the API's bound; the
    /// console stops at 50).
    BackupPlan,
    /// `^[a-zA-Z0-9\-\_\.]{1,50}$`
    BackupRule,
    /// As rule names.
    BackupSelection,
    /// `[a-zA-Z][_a-zA-Z0-9]*`, 1–256 characters.
    Framework,
    /// `[a-zA-Z][_a-zA-Z0-9]*`, 1–256 characters.
    ReportPlan,
}

impl NameKind {
    fn label(self) -> &'static str {
        match self {
            NameKind::BackupVault => "BackupVaultName",
            NameKind::BackupPlan => "BackupPlanName",
            NameKind::BackupRule => "RuleName",
            NameKind::BackupSelection => "SelectionName",
            NameKind::Framework => "FrameworkName",
            NameKind::ReportPlan => "ReportPlanName",
        }
    }

    fn allowed(self) -> &'static str {
        match self {
            NameKind::BackupVault => "2-50 letters, digits, '-' or '_'",
            NameKind::BackupPlan => "1-200 letters, digits, '-', '_' or '.'",
            NameKind::BackupRule | NameKind::BackupSelection => {
                "1-50 letters, digits, '-', '_' or '.'"
            }
            NameKind::Framework | NameKind::ReportPlan => {
                "1-256 letters, digits or '_', starting with a letter"
            }
        }
    }

    fn bounds(self) -> (usize, usize) {
        match self {
            NameKind::BackupVault => (2, 50),
            NameKind::BackupPlan => (1, 200),
            NameKind::BackupRule | NameKind::BackupSelection => (1, 50),
            NameKind::Framework | NameKind::ReportPlan => (1, 256),
        }
    }

    fn char_ok(self, c: char) -> bool {
        match self {
            NameKind::BackupVault => c.is_ascii_alphanumeric() || c == '-' || c == '_',
            NameKind::BackupPlan | NameKind::BackupRule | NameKind::BackupSelection => {
                c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
            }
            NameKind::Framework | NameKind::ReportPlan => c.is_ascii_alphanumeric() || c == '_',
        }
    }

    /// Checks `name` against this kind's pattern.
    ///
    /// # Errors
    /// A message naming the value, what is allowed and, where one exists, a
    /// corrected name to use instead.
    pub fn check(self, name: &str) -> Result<(), NameError> {
        let (min, max) = self.bounds();
        let n_chars = name.chars().count();
        let chars_ok = name.chars().all(|c| self.char_ok(c));
        let start_ok = match self {
            NameKind::Framework | NameKind::ReportPlan => {
                name.starts_with(|c: char| c.is_ascii_alphabetic())
            }
            _ => true,
        };
        if (min..=max).contains(&n_chars) && chars_ok && start_ok {
            return Ok(());
        }
        Err(NameError {
            label: self.label(),
            value: name.to_string(),
            allowed: self.allowed(),
            suggestion: self.suggest(name),
        })
    }

    /// A corrected name: invalid characters become `_` (or `-` where `_` is
    /// not allowed), a leading non-letter gets a prefix, and length is cut.
    fn suggest(self, name: &str) -> Option<String> {
        let (min, max) = self.bounds();
        let mut fixed: String = name
            .chars()
            .map(|c| if self.char_ok(c) { c } else { '_' })
            .collect();
        if matches!(self, NameKind::Framework | NameKind::ReportPlan)
            && !fixed.starts_with(|c: char| c.is_ascii_alphabetic())
        {
            fixed.insert_str(0, "n_");
        }
        let fixed: String = fixed.chars().take(max).collect();
        (fixed.chars().count() >= min && fixed != name).then_some(fixed)
    }
}

/// A name that does not match its kind's pattern.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{label} {value:?} is not allowed: use {allowed}{}", suggestion.as_ref().map(|s| format!(" (e.g. {s:?})")).unwrap_or_default())]
pub struct NameError {
    pub label: &'static str,
    pub value: String,
    pub allowed: &'static str,
    pub suggestion: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framework_name_with_hyphen_suggests_underscores() {
        let err = NameKind::Framework.check("acme-core-backup").unwrap_err();
        assert_eq!(err.suggestion.as_deref(), Some("acme_core_backup"));
        assert!(err.to_string().contains("\"acme_core_backup\""), "{err}");
    }

    #[test]
    fn vault_names_follow_aws_pattern() {
        assert!(NameKind::BackupVault.check("payments-primary").is_ok());
        assert!(NameKind::BackupVault.check("a").is_err());
        assert!(NameKind::BackupVault.check("has.dot").is_err());
        assert!(NameKind::BackupPlan.check("critical-daily-35d.v2").is_ok());
        assert!(NameKind::ReportPlan.check("1report").is_err());
    }

    #[test]
    fn accounts_and_regions_are_checked() {
        assert!(AccountId::new("111122223333").is_ok());
        assert!(AccountId::new("1111").is_err());
        assert!(Region::new("eu-west-1").is_ok());
        assert!(Region::new("dc-paris").is_ok());
        assert!(Region::new("EU_WEST").is_err());
    }

    #[test]
    fn account_and_region_errors_name_the_value_and_the_rule() {
        let account = AccountId::new("1111").unwrap_err();
        assert_eq!(account.value, "1111");
        assert_eq!(
            account.to_string(),
            "account ID \"1111\" must be exactly 12 digits (e.g. \"111122223333\")"
        );
        let region = Region::new("EU_WEST").unwrap_err();
        assert_eq!(region.value, "EU_WEST");
        assert_eq!(
            region.to_string(),
            "region \"EU_WEST\" must be lowercase letters, digits and '-', starting with a letter (e.g. \"eu-west-1\", \"dc-paris\")"
        );
    }
}
