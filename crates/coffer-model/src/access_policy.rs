//! Structural validation of policy documents (IAM JSON): vault access
//! policies (resource policies, which name a Principal) and identity
//! policies (attached to IAM users, roles and managed policies, which name
//! none).
//!
//! Evaluation (who may delete what) belongs to the vault engine; here we only
//! make sure a document is well formed and say which parts Coffer will not
//! evaluate, so nobody relies on a condition that is silently ignored.

use serde_json::Value;

use crate::finding::{did_you_mean, Findings};

/// Condition operators Coffer evaluates.
pub const CONDITION_OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "ArnEquals",
    "ArnNotEquals",
    "ArnLike",
    "ArnNotLike",
];

/// Condition keys Coffer evaluates.
pub const CONDITION_KEYS: &[&str] = &["aws:PrincipalArn", "aws:PrincipalAccount"];

const STATEMENT_FIELDS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// The action prefixes Coffer's operations are authorized as
/// (`backup:StartBackupJob`, `coffer:ExportVaultKey`, `iam:CreateAccessKey`,
/// `cloudformation:CreateStack`).
pub const ACTION_PREFIXES: &[&str] = &["backup", "coffer", "iam", "cloudformation"];

/// Which kind of policy a document is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A vault access policy: names a Principal.
    Vault,
    /// An identity policy: attached to a principal, names none.
    Identity,
}

/// Validates a vault access-policy document.
pub fn validate_document(doc: &Value) -> Findings {
    validate(doc, Kind::Vault)
}

/// Validates an identity policy (an IAM user's, role's or managed
/// policy's `PolicyDocument`): no Principal, and every action of a service
/// Coffer authorizes (`backup:`, `coffer:`, `iam:`, `cloudformation:`).
pub fn validate_identity_document(doc: &Value) -> Findings {
    validate(doc, Kind::Identity)
}

fn validate(doc: &Value, kind: Kind) -> Findings {
    let mut findings = Findings::new();
    let Some(obj) = doc.as_object() else {
        findings.error(
            "",
            "an access policy must be a JSON object with Version and Statement",
        );
        return findings;
    };
    for key in obj.keys() {
        if !["Version", "Id", "Statement"].contains(&key.as_str()) {
            unknown_field(&mut findings, "", key, &["Version", "Id", "Statement"]);
        }
    }
    match obj.get("Version").and_then(Value::as_str) {
        Some("2012-10-17" | "2008-10-17") | None => {}
        Some(other) => {
            findings
                .error(
                    "Version",
                    format!("Version {other:?} is not an IAM policy language version"),
                )
                .hint("use \"2012-10-17\"");
        }
    }
    let statements: Vec<&Value> = match obj.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(item @ Value::Object(_)) => vec![item],
        Some(_) => {
            findings.error(
                "Statement",
                "Statement must be an object or a list of objects",
            );
            return findings;
        }
        None => {
            findings.error("Statement", "an access policy needs at least one Statement");
            return findings;
        }
    };
    for (idx, statement) in statements.into_iter().enumerate() {
        let field = format!("Statement[{idx}]");
        let Some(st) = statement.as_object() else {
            findings.error(field, "each statement must be an object");
            continue;
        };
        for key in st.keys() {
            if !STATEMENT_FIELDS.contains(&key.as_str()) {
                unknown_field(&mut findings, &field, key, STATEMENT_FIELDS);
            }
        }
        match st.get("Effect").and_then(Value::as_str) {
            Some("Allow" | "Deny") => {}
            Some(other) => {
                findings.error(
                    format!("{field}.Effect"),
                    format!("Effect {other:?} must be \"Allow\" or \"Deny\""),
                );
            }
            None => {
                findings.error(
                    format!("{field}.Effect"),
                    "Effect is required (\"Allow\" or \"Deny\")",
                );
            }
        }
        if !st.contains_key("Action") && !st.contains_key("NotAction") {
            findings
                .error(field.clone(), "a statement needs Action or NotAction")
                .hint("e.g. \"Action\": [\"backup:DeleteRecoveryPoint\"]");
        }
        for key in ["Action", "NotAction"] {
            if let Some(value) = st.get(key) {
                for (a_idx, action) in string_or_list(value).into_iter().enumerate() {
                    match action {
                        Some(a) if kind == Kind::Identity => {
                            check_identity_action(
                                &mut findings,
                                &format!("{field}.{key}[{a_idx}]"),
                                a,
                            );
                        }
                        Some(a) if a == "*" || a.starts_with("backup:") => {}
                        Some(a) => {
                            findings.warning(
                                format!("{field}.{key}[{a_idx}]"),
                                format!("action {a:?} is not a backup: action; the vault policy governs only backup:* actions, so it has no effect"),
                            );
                        }
                        None => {
                            findings.error(
                                format!("{field}.{key}"),
                                format!("{key} must be a string or a list of strings"),
                            );
                        }
                    }
                }
            }
        }
        if kind == Kind::Identity {
            for key in ["Principal", "NotPrincipal"] {
                if st.contains_key(key) {
                    findings
                        .error(
                            format!("{field}.{key}"),
                            format!("an identity policy names no {key}: it applies to the users it is attached to"),
                        )
                        .hint("remove it; to restrict who may act on a vault, write the vault's AccessPolicy");
                }
            }
        } else if !st.contains_key("Principal") && !st.contains_key("NotPrincipal") {
            findings
                .error(field.clone(), "a vault policy statement needs Principal")
                .hint("use \"Principal\": \"*\" or {\"AWS\": [\"<role ARN>\"]}");
        }
        if let Some(condition) = st.get("Condition") {
            let Some(ops) = condition.as_object() else {
                findings.error(
                    format!("{field}.Condition"),
                    "Condition must be an object of operators",
                );
                continue;
            };
            for (op, keys) in ops {
                let op_field = format!("{field}.Condition.{op}");
                let base_op = op.strip_suffix("IfExists").unwrap_or(op);
                let base_op = base_op
                    .strip_prefix("ForAnyValue:")
                    .or_else(|| base_op.strip_prefix("ForAllValues:"))
                    .unwrap_or(base_op);
                if !CONDITION_OPERATORS.contains(&base_op) {
                    findings
                        .warning(
                            op_field.clone(),
                            format!("condition operator {op:?} is not evaluated by Coffer: a Deny statement with it always applies, an Allow statement never does"),
                        )
                        .hint(format!("use one of {}", CONDITION_OPERATORS.join(", ")));
                }
                let Some(keys) = keys.as_object() else {
                    findings.error(
                        op_field,
                        "a condition operator maps condition keys to values",
                    );
                    continue;
                };
                for key in keys.keys() {
                    if !CONDITION_KEYS.contains(&key.as_str()) {
                        findings.warning(
                            format!("{op_field}.{key}"),
                            format!("condition key {key:?} is not evaluated by Coffer (only aws:PrincipalArn and aws:PrincipalAccount are): a Deny statement with it always applies, an Allow statement never does"),
                        );
                    }
                }
            }
        }
    }
    findings
}

/// An identity policy's action: `*`, or `service:Action` of a service
/// Coffer authorizes (wildcards allowed in the action part).
fn check_identity_action(findings: &mut Findings, field: &str, action: &str) {
    if action == "*" {
        return;
    }
    let Some((prefix, name)) = action.split_once(':') else {
        findings
            .error(field, format!("action {action:?} has no service prefix"))
            .hint(
                "write it as backup:ActionName, e.g. \"backup:ListBackupVaults\", or \"backup:*\"",
            );
        return;
    };
    if !ACTION_PREFIXES.contains(&prefix.to_ascii_lowercase().as_str()) {
        let finding = findings.error(
            field,
            format!(
                "action {action:?} has the prefix {prefix:?}, which names no service Coffer authorizes ({})",
                ACTION_PREFIXES.join(", ")
            ),
        );
        if let Some(s) = did_you_mean(prefix, ACTION_PREFIXES.iter().copied()) {
            finding.hint(format!("did you mean \"{s}:{name}\"?"));
        }
        return;
    }
    if name.is_empty() {
        findings
            .error(
                field,
                format!("action {action:?} names no action after its prefix"),
            )
            .hint(format!(
                "use \"{prefix}:*\" for every action of the service"
            ));
    }
}

fn unknown_field(findings: &mut Findings, base: &str, key: &str, known: &[&str]) {
    let field = crate::finding::join_field(base, key);
    let finding = findings.error(field, format!("unknown field {key:?}"));
    if let Some(s) = did_you_mean(key, known.iter().copied()) {
        finding.hint(format!("did you mean {s:?}?"));
    }
}

fn string_or_list(value: &Value) -> Vec<Option<&str>> {
    match value {
        Value::String(s) => vec![Some(s.as_str())],
        Value::Array(items) => items.iter().map(Value::as_str).collect(),
        _ => vec![None],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn example_policy_is_valid() {
        let doc = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "only-operators-delete",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle"],
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:PrincipalArn": "arn:coffer:iam::1:role/x"}}
            }]
        });
        assert!(
            validate_document(&doc).is_empty(),
            "{:?}",
            validate_document(&doc)
        );
    }

    #[test]
    fn bad_effect_missing_action_and_typo_are_reported_together() {
        let doc = json!({"Statement": [{"Efect": "Deny", "Principal": "*"}]});
        let findings = validate_document(&doc);
        let text: Vec<String> = findings.iter().map(ToString::to_string).collect();
        assert!(
            text.iter().any(|t| t.contains("did you mean \"Effect\"")),
            "{text:?}"
        );
        assert!(text.iter().any(|t| t.contains("needs Action")), "{text:?}");
        assert!(
            text.iter().any(|t| t.contains("Effect is required")),
            "{text:?}"
        );
    }

    #[test]
    fn identity_policies_name_no_principal_and_only_known_services() {
        let doc = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["backup:List*", "backup:Describe*", "coffer:VerifyLedger"], "Resource": "*"},
            {"Effect": "Deny", "Action": "backup:DeleteRecoveryPoint", "Resource": "*"}
        ]});
        let findings = validate_identity_document(&doc);
        assert!(findings.is_empty(), "{findings:?}");
        let doc = json!({"Statement": [
            {"Effect": "Permit", "Principal": "*", "Action": ["bakup:ListBackupVaults", "ListBackupVaults", "backup:"]}
        ]});
        let text: Vec<String> = validate_identity_document(&doc)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(
            text.iter()
                .any(|t| t.contains("Statement[0].Effect") && t.contains("\"Permit\"")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("Statement[0].Principal") && t.contains("names no Principal")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.contains("Action[0]")
                && t.contains("\"bakup\"")
                && t.contains("did you mean \"backup:ListBackupVaults\"")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("Action[1]") && t.contains("no service prefix")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("Action[2]") && t.contains("names no action")),
            "{text:?}"
        );
        assert_eq!(text.len(), 5, "{text:?}");
    }

    #[test]
    fn unevaluated_condition_is_a_warning() {
        let doc = json!({"Statement": {"Effect": "Deny", "Principal": "*", "Action": "backup:DeleteRecoveryPoint",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}});
        let findings = validate_document(&doc);
        assert!(!findings.has_errors());
        assert_eq!(findings.len(), 2);
    }
}
