//! Validation findings: what is wrong (or merely suspicious) in a model value,
//! located by a field path relative to that value.
//!
//! Loaders (coffer-policy) turn a relative path into a file, line and column;
//! the model itself knows nothing about files.

use std::fmt;

/// How serious a finding is.
///
/// An `Error` is what AWS Backup would reject; a `Warning` is what AWS would
/// accept but cannot work (or means nothing) in Coffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One validation finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// Path of the field inside the validated value, AWS field names joined by
    /// `.`, list items as `[i]` (e.g. `BackupPlanRule[1].Lifecycle`). Empty
    /// for the value as a whole.
    pub field: String,
    /// What is wrong, naming the value found and what is allowed.
    pub message: String,
    /// How to fix it, when there is an obvious fix.
    pub hint: Option<String>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

/// Findings collected while validating one value; validation never stops at
/// the first problem.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Findings {
    items: Vec<Finding>,
}

impl Findings {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn error(&mut self, field: impl Into<String>, message: impl Into<String>) -> &mut Finding {
        self.push(Severity::Error, field.into(), message.into())
    }

    pub fn warning(
        &mut self,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> &mut Finding {
        self.push(Severity::Warning, field.into(), message.into())
    }

    fn push(&mut self, severity: Severity, field: String, message: String) -> &mut Finding {
        let idx = self.items.len();
        self.items.push(Finding {
            severity,
            field,
            message,
            hint: None,
        });
        &mut self.items[idx]
    }

    /// Adds `other`'s findings with their fields placed under `prefix`.
    pub fn extend_under(&mut self, prefix: &str, other: Findings) {
        for mut finding in other.items {
            finding.field = join_field(prefix, &finding.field);
            self.items.push(finding);
        }
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|f| f.severity == Severity::Error)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Finding> {
        self.items.iter()
    }

    pub fn into_vec(self) -> Vec<Finding> {
        self.items
    }
}

impl Finding {
    pub fn hint(&mut self, hint: impl Into<String>) -> &mut Self {
        self.hint = Some(hint.into());
        self
    }
}

impl IntoIterator for Findings {
    type Item = Finding;
    type IntoIter = std::vec::IntoIter<Finding>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// Joins two field paths: `a` + `b` → `a.b`, `a` + `[1].c` → `a[1].c`.
pub fn join_field(prefix: &str, field: &str) -> String {
    match (prefix.is_empty(), field.is_empty()) {
        (true, _) => field.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) if field.starts_with('[') => format!("{prefix}{field}"),
        (false, false) => format!("{prefix}.{field}"),
    }
}

/// The closest candidate to `input` by edit distance, if it is close enough to
/// be a plausible typo (used for "did you mean" hints).
pub fn did_you_mean<'a, I>(input: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let lowered = input.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&lowered, &c.to_ascii_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_field_handles_indexes_and_empty_parts() {
        assert_eq!(
            join_field("Plan", "BackupPlanRule[1]"),
            "Plan.BackupPlanRule[1]"
        );
        assert_eq!(join_field("Rules", "[0].Lifecycle"), "Rules[0].Lifecycle");
        assert_eq!(join_field("", "X"), "X");
        assert_eq!(join_field("X", ""), "X");
    }

    #[test]
    fn did_you_mean_finds_close_names_only() {
        let names = ["BackupVaultName", "EncryptionKeyArn", "LockConfiguration"];
        assert_eq!(
            did_you_mean("BackupVaultNme", names),
            Some("BackupVaultName")
        );
        assert_eq!(
            did_you_mean("lockconfiguration", names),
            Some("LockConfiguration")
        );
        assert_eq!(did_you_mean("Zebra", names), None);
    }
}
