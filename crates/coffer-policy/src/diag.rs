//! Diagnostics: findings located in files, printed as
//! `file:line:col Subject.Field: message; hint`.

use std::fmt;

use coffer_model::Severity;

use crate::node::Pos;

/// One error or warning about a policy, inventory or configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The file as the user named it.
    pub file: String,
    /// Where in the file, when known.
    pub pos: Option<Pos>,
    /// Logical ID and field path (`CriticalPlan.BackupPlanRule[1].Lifecycle`).
    pub subject: String,
    /// What is wrong, with the value found and what is allowed.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn hint(&mut self, hint: impl Into<String>) -> &mut Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(pos) = self.pos {
            write!(f, ":{pos}")?;
        }
        if !self.subject.is_empty() {
            write!(f, " {}:", self.subject)?;
        }
        write!(f, " {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

/// Diagnostics gathered over a whole file set: loading never stops at the
/// first problem.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(
        &mut self,
        severity: Severity,
        file: &str,
        pos: Option<Pos>,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        let idx = self.items.len();
        self.items.push(Diagnostic {
            severity,
            file: file.to_string(),
            pos,
            subject: subject.into(),
            message: message.into(),
            hint: None,
        });
        &mut self.items[idx]
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| !d.is_error())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    /// Sorts by file, then position, so output reads top to bottom.
    pub fn sort(&mut self) {
        self.items
            .sort_by(|a, b| (&a.file, a.pos, &a.subject).cmp(&(&b.file, b.pos, &b.subject)));
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// How many names "did you mean" may compare, in all, within one pass over
/// a file set. Each reference to an unknown name is compared with every
/// name of its kind, so a set of n names with n unknown references would
/// cost n² comparisons (hours at 100,000 objects); a million take about
/// half a second.
const SUGGESTION_COMPARISONS: usize = 1_000_000;

/// "Did you mean" over the names of a file set, within a budget of
/// comparisons: the first unknown names get a suggestion, and once the
/// budget is spent the others are reported without one.
#[derive(Debug)]
pub(crate) struct Suggestions {
    comparisons_left: usize,
}

impl Default for Suggestions {
    fn default() -> Self {
        Self {
            comparisons_left: SUGGESTION_COMPARISONS,
        }
    }
}

impl Suggestions {
    /// The candidate closest to `input`, when one is close and comparing
    /// with every candidate fits in what is left of the budget.
    pub fn did_you_mean<'a, I>(&mut self, input: &str, candidates: I) -> Option<&'a str>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let candidates = candidates.into_iter();
        let n_candidates = candidates.size_hint().1.unwrap_or(usize::MAX);
        self.comparisons_left = self.comparisons_left.checked_sub(n_candidates)?;
        coffer_model::did_you_mean(input, candidates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_stop_when_the_comparison_budget_is_spent() {
        let names = ["primary", "secondary", "archive"];
        let mut suggestions = Suggestions {
            comparisons_left: 7,
        };
        assert_eq!(suggestions.did_you_mean("primry", names), Some("primary"));
        assert_eq!(suggestions.did_you_mean("archve", names), Some("archive"));
        // One comparison is left: not enough for three names, enough for one.
        assert_eq!(suggestions.did_you_mean("secondry", names), None);
        assert_eq!(
            suggestions.did_you_mean("secondry", ["secondary"]),
            Some("secondary")
        );
        assert_eq!(suggestions.did_you_mean("archve", ["archive"]), None);
    }
}
