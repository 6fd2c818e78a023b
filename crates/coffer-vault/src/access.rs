//! Evaluation of the IAM policy language, for vault access policies and
//! identity policies alike (one parser, one matcher).
//!
//! A vault access policy restricts ([`AccessPolicy::evaluate`]): a matching
//! `Deny` statement refuses the request, and explicit Deny always wins;
//! its `Allow` statements grant nothing beyond what the caller's identity
//! grants. An identity policy (an IAM user's inline or managed policy, with
//! no Principal) grants ([`AccessPolicy::grant`]): an `Allow` statement
//! matching the request allows it, unless a `Deny` statement matches;
//! without either the request is not granted (implicit deny).
//!
//! A condition Coffer cannot evaluate (an operator or key it does not know)
//! makes a Deny statement apply and an Allow statement not apply: unknown
//! conditions fail closed.

use serde_json::Value;

/// What is being asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The caller's principal ARN (any opaque ARN, `arn:aws:iam::…` works too).
    pub principal_arn: &'a str,
    /// `backup:DeleteRecoveryPoint`, `backup:UpdateRecoveryPointLifecycle`, ...
    pub action: &'a str,
    /// The recovery point or vault ARN acted on.
    pub resource_arn: &'a str,
}

/// The outcome of evaluating a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// A Deny statement matched; `sid` names it when it has one.
    Denied {
        sid: Option<String>,
    },
}

/// What an identity policy (or several, [`grant_of`]) says of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grant {
    /// An Allow statement matched and no Deny did; `sid` names the Allow.
    Allowed { sid: Option<String> },
    /// A Deny statement matched (it wins over any Allow).
    Denied { sid: Option<String> },
    /// No statement matched: implicitly denied.
    NotGranted,
}

/// What several identity policies together say of a request: a Deny in
/// any wins, else an Allow in any, else not granted. Each decision names
/// the policy (by the index in `policies`) that made it.
pub fn grant_of<'p>(
    policies: impl IntoIterator<Item = &'p AccessPolicy>,
    request: &Request<'_>,
) -> (Grant, Option<usize>) {
    let mut allowed = None;
    for (idx, policy) in policies.into_iter().enumerate() {
        match policy.grant(request) {
            denied @ Grant::Denied { .. } => return (denied, Some(idx)),
            allow @ Grant::Allowed { .. } => {
                if allowed.is_none() {
                    allowed = Some((allow, idx));
                }
            }
            Grant::NotGranted => {}
        }
    }
    match allowed {
        Some((grant, idx)) => (grant, Some(idx)),
        None => (Grant::NotGranted, None),
    }
}

/// A policy document that cannot be evaluated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("access policy {field}: {message}")]
pub struct PolicyError {
    pub field: String,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Principals {
    Any,
    /// ARNs, account IDs or `*`.
    Listed(Vec<String>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Applies<T> {
    Is(T),
    IsNot(T),
    Absent,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Condition {
    operator: String,
    key: String,
    values: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Statement {
    sid: Option<String>,
    effect: Effect,
    principal: Applies<Principals>,
    action: Applies<Vec<String>>,
    resource: Applies<Vec<String>>,
    conditions: Vec<Condition>,
}

/// A parsed vault access policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessPolicy {
    statements: Vec<Statement>,
}

fn err(field: &str, message: impl Into<String>) -> PolicyError {
    PolicyError {
        field: field.to_string(),
        message: message.into(),
    }
}

fn strings(value: &Value, field: &str) -> Result<Vec<String>, PolicyError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| err(field, "must be a string or a list of strings"))
            })
            .collect(),
        Value::Bool(b) => Ok(vec![b.to_string()]),
        Value::Number(n) => Ok(vec![n.to_string()]),
        _ => Err(err(field, "must be a string or a list of strings")),
    }
}

fn principals(value: &Value, field: &str) -> Result<Principals, PolicyError> {
    match value {
        Value::String(s) if s == "*" => Ok(Principals::Any),
        Value::Object(map) => {
            let mut listed = Vec::new();
            for (kind, v) in map {
                // Only "AWS" principals can be callers here; "Service" and
                // "Federated" principals never match a Coffer caller.
                if kind == "AWS" {
                    listed.extend(strings(v, &format!("{field}.AWS"))?);
                }
            }
            if let Some(pattern) = listed.iter().find(|p| p.as_str() != "*" && p.contains('*')) {
                // IAM rejects wildcards inside principal ARNs; a Deny that
                // silently matched nobody would weaken the policy.
                return Err(err(
                    field,
                    format!("principal {pattern:?} has a wildcard; use \"*\" or exact ARNs, and ArnLike on aws:PrincipalArn for patterns"),
                ));
            }
            if listed.iter().any(|p| p == "*") {
                Ok(Principals::Any)
            } else {
                Ok(Principals::Listed(listed))
            }
        }
        _ => Err(err(field, "must be \"*\" or {\"AWS\": [ARNs]}")),
    }
}

impl AccessPolicy {
    /// Parses a policy document.
    ///
    /// # Errors
    /// When the document is not shaped like an IAM policy.
    pub fn from_json(doc: &Value) -> Result<AccessPolicy, PolicyError> {
        let statements: Vec<&Value> = match doc.get("Statement") {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(item @ Value::Object(_)) => vec![item],
            _ => return Err(err("Statement", "must be an object or a list of objects")),
        };
        let mut parsed = Vec::new();
        for (idx, st) in statements.into_iter().enumerate() {
            let field = format!("Statement[{idx}]");
            let effect = match st.get("Effect").and_then(Value::as_str) {
                Some("Allow") => Effect::Allow,
                Some("Deny") => Effect::Deny,
                _ => {
                    return Err(err(
                        &format!("{field}.Effect"),
                        "must be \"Allow\" or \"Deny\"",
                    ))
                }
            };
            let principal = match (st.get("Principal"), st.get("NotPrincipal")) {
                (Some(p), _) => Applies::Is(principals(p, &format!("{field}.Principal"))?),
                (None, Some(p)) => Applies::IsNot(principals(p, &format!("{field}.NotPrincipal"))?),
                (None, None) => Applies::Absent,
            };
            let action = match (st.get("Action"), st.get("NotAction")) {
                (Some(a), _) => Applies::Is(strings(a, &format!("{field}.Action"))?),
                (None, Some(a)) => Applies::IsNot(strings(a, &format!("{field}.NotAction"))?),
                (None, None) => return Err(err(&field, "needs Action or NotAction")),
            };
            let resource = match (st.get("Resource"), st.get("NotResource")) {
                (Some(r), _) => Applies::Is(strings(r, &format!("{field}.Resource"))?),
                (None, Some(r)) => Applies::IsNot(strings(r, &format!("{field}.NotResource"))?),
                (None, None) => Applies::Absent,
            };
            let mut conditions = Vec::new();
            if let Some(block) = st.get("Condition") {
                let ops = block
                    .as_object()
                    .ok_or_else(|| err(&format!("{field}.Condition"), "must be an object"))?;
                for (operator, keys) in ops {
                    let keys = keys.as_object().ok_or_else(|| {
                        err(
                            &format!("{field}.Condition.{operator}"),
                            "must map condition keys to values",
                        )
                    })?;
                    for (key, values) in keys {
                        conditions.push(Condition {
                            operator: operator.clone(),
                            key: key.clone(),
                            values: strings(
                                values,
                                &format!("{field}.Condition.{operator}.{key}"),
                            )?,
                        });
                    }
                }
            }
            parsed.push(Statement {
                sid: st.get("Sid").and_then(Value::as_str).map(str::to_string),
                effect,
                principal,
                action,
                resource,
                conditions,
            });
        }
        Ok(AccessPolicy { statements: parsed })
    }

    /// Evaluates a request: denied when any Deny statement applies.
    pub fn evaluate(&self, request: &Request<'_>) -> Decision {
        for statement in &self.statements {
            if statement.effect == Effect::Deny && statement.applies(request) {
                return Decision::Denied {
                    sid: statement.sid.clone(),
                };
            }
        }
        Decision::Allowed
    }

    /// Evaluates a request as an identity policy: Denied when a Deny
    /// statement applies, else Allowed when an Allow statement applies,
    /// else NotGranted. A statement's Principal, if any, must match too (an
    /// identity policy has none: it applies to whom it is attached to).
    pub fn grant(&self, request: &Request<'_>) -> Grant {
        let mut allowed = None;
        for statement in &self.statements {
            if !statement.applies(request) {
                continue;
            }
            match statement.effect {
                Effect::Deny => {
                    return Grant::Denied {
                        sid: statement.sid.clone(),
                    }
                }
                Effect::Allow => {
                    if allowed.is_none() {
                        allowed = Some(statement.sid.clone());
                    }
                }
            }
        }
        match allowed {
            Some(sid) => Grant::Allowed { sid },
            None => Grant::NotGranted,
        }
    }
}

impl Statement {
    fn applies(&self, request: &Request<'_>) -> bool {
        let principal = match &self.principal {
            Applies::Is(p) => principal_matches(p, request.principal_arn),
            Applies::IsNot(p) => !principal_matches(p, request.principal_arn),
            Applies::Absent => true,
        };
        let action = match &self.action {
            Applies::Is(list) => list.iter().any(|a| action_matches(a, request.action)),
            Applies::IsNot(list) => !list.iter().any(|a| action_matches(a, request.action)),
            Applies::Absent => false,
        };
        let resource = match &self.resource {
            Applies::Is(list) => list
                .iter()
                .any(|r| wildcard(r, request.resource_arn, false)),
            Applies::IsNot(list) => !list
                .iter()
                .any(|r| wildcard(r, request.resource_arn, false)),
            Applies::Absent => true,
        };
        principal
            && action
            && resource
            && self.conditions.iter().all(|c| match c.evaluate(request) {
                Some(result) => result,
                // Unknown operator or key: a Deny applies, an Allow does not.
                None => self.effect == Effect::Deny,
            })
    }
}

fn account_of(arn: &str) -> Option<&str> {
    let account = arn.split(':').nth(4)?;
    (!account.is_empty()).then_some(account)
}

fn principal_matches(principals: &Principals, caller: &str) -> bool {
    match principals {
        Principals::Any => true,
        Principals::Listed(list) => list.iter().any(|p| {
            if p == caller {
                return true;
            }
            // An account ID, or the account's root ARN, stands for every
            // principal of that account.
            let account = if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
                Some(p.as_str())
            } else if p.ends_with(":root") {
                account_of(p)
            } else {
                None
            };
            account.is_some() && account == account_of(caller)
        }),
    }
}

/// IAM action matching: `service:Action`, case-insensitive, `*` and `?`.
fn action_matches(pattern: &str, action: &str) -> bool {
    wildcard(pattern, action, true)
}

/// IAM wildcard matching: `*` any run, `?` any one character.
fn wildcard(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if ignore_case {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let (pattern, text) = (fold(pattern), fold(text));
    let (mut p_idx, mut t_idx) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t_idx < text.len() {
        match pattern.get(p_idx) {
            Some('*') => {
                star = Some((p_idx, t_idx));
                p_idx += 1;
            }
            Some(c) if *c == '?' || *c == text[t_idx] => {
                p_idx += 1;
                t_idx += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p_idx = star_p + 1;
                    t_idx = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p_idx..].iter().all(|c| *c == '*')
}

/// ArnLike / ArnEquals: each of the six `:`-separated parts matched on its
/// own, so a wildcard never crosses a part boundary (except in the resource).
fn arn_like(pattern: &str, arn: &str) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    p.len() == 6 && a.len() == 6 && p.iter().zip(&a).all(|(p, a)| wildcard(p, a, false))
}

impl Condition {
    /// `None` when Coffer cannot evaluate this condition.
    fn evaluate(&self, request: &Request<'_>) -> Option<bool> {
        let operator = self
            .operator
            .strip_prefix("ForAnyValue:")
            .or_else(|| self.operator.strip_prefix("ForAllValues:"))
            .unwrap_or(&self.operator);
        let (operator, if_exists) = match operator.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (operator, false),
        };
        let value = match self.key.to_ascii_lowercase().as_str() {
            "aws:principalarn" => Some(request.principal_arn),
            "aws:principalaccount" => account_of(request.principal_arn),
            _ => return None,
        };
        let negated = matches!(
            operator,
            "StringNotEquals" | "StringNotLike" | "ArnNotEquals" | "ArnNotLike"
        );
        let Some(value) = value else {
            return Some(if_exists || negated);
        };
        let matches = |candidate: &String| match operator {
            "StringEquals" | "StringNotEquals" => Some(candidate == value),
            "StringEqualsIgnoreCase" | "StringNotEqualsIgnoreCase" => {
                Some(candidate.eq_ignore_ascii_case(value))
            }
            "StringLike" | "StringNotLike" => Some(wildcard(candidate, value, false)),
            "ArnEquals" | "ArnNotEquals" | "ArnLike" | "ArnNotLike" => {
                Some(arn_like(candidate, value))
            }
            _ => None,
        };
        let mut any = false;
        for candidate in &self.values {
            any |= matches(candidate)?;
        }
        let negated = negated || operator == "StringNotEqualsIgnoreCase";
        Some(if negated { !any } else { any })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    const OPERATOR: &str = "arn:coffer:iam::210987654321:role/backup-operator";
    const ALICE: &str = "arn:coffer:iam::210987654321:user/alice";
    const RP: &str = "arn:coffer:backup:eu-west-1:210987654321:recovery-point:rp-1";

    fn example_policy() -> AccessPolicy {
        AccessPolicy::from_json(&json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "only-operators-delete",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle"],
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:PrincipalArn": OPERATOR}}
            }]
        }))
        .unwrap()
    }

    fn request<'a>(principal: &'a str, action: &'a str) -> Request<'a> {
        Request {
            principal_arn: principal,
            action,
            resource_arn: RP,
        }
    }

    #[test]
    fn identity_policies_grant_by_allow_and_an_explicit_deny_wins() {
        let operator = AccessPolicy::from_json(&json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "run", "Effect": "Allow", "Action": ["backup:Start*", "backup:List*", "backup:Describe*"], "Resource": "*"},
                {"Sid": "keep", "Effect": "Deny", "Action": "backup:Delete*", "Resource": "*"}
            ]
        }))
        .unwrap();
        let one_vault = AccessPolicy::from_json(&json!({
            "Statement": {"Effect": "Allow", "Action": "backup:*",
                "Resource": "arn:coffer:backup:eu-west-1:210987654321:recovery-point:*"}
        }))
        .unwrap();
        let ask = |action| request(ALICE, action);
        assert_eq!(
            operator.grant(&ask("backup:StartBackupJob")),
            Grant::Allowed {
                sid: Some("run".into())
            }
        );
        // Action names match case-insensitively, as IAM matches them.
        assert_eq!(
            operator.grant(&ask("backup:describebackupvault")),
            Grant::Allowed {
                sid: Some("run".into())
            }
        );
        assert_eq!(
            operator.grant(&ask("backup:PutBackupVaultAccessPolicy")),
            Grant::NotGranted
        );
        assert_eq!(
            operator.grant(&ask("backup:DeleteRecoveryPoint")),
            Grant::Denied {
                sid: Some("keep".into())
            }
        );
        // Another policy's Allow does not undo a Deny; the deciding policy is named.
        assert_eq!(
            grant_of([&one_vault, &operator], &ask("backup:DeleteRecoveryPoint")),
            (
                Grant::Denied {
                    sid: Some("keep".into())
                },
                Some(1)
            )
        );
        assert_eq!(
            grant_of(
                [&operator, &one_vault],
                &ask("backup:UpdateRecoveryPointLifecycle")
            ),
            (Grant::Allowed { sid: None }, Some(1))
        );
        // Resource patterns are matched: a vault's ARN is outside.
        let on_vault = Request {
            resource_arn: "arn:coffer:backup:eu-west-1:210987654321:backup-vault:primary",
            ..ask("backup:UpdateRecoveryPointLifecycle")
        };
        assert_eq!(grant_of([&one_vault], &on_vault), (Grant::NotGranted, None));
        // An Allow whose condition Coffer cannot evaluate grants nothing.
        let unknown = AccessPolicy::from_json(&json!({
            "Statement": {"Effect": "Allow", "Action": "backup:*", "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
        }))
        .unwrap();
        assert_eq!(
            unknown.grant(&ask("backup:ListBackupVaults")),
            Grant::NotGranted
        );
    }

    #[test]
    fn example_policy_lets_only_the_operator_delete() {
        let policy = example_policy();
        assert_eq!(
            policy.evaluate(&request(ALICE, "backup:DeleteRecoveryPoint")),
            Decision::Denied {
                sid: Some("only-operators-delete".into())
            }
        );
        assert_eq!(
            policy.evaluate(&request(OPERATOR, "backup:DeleteRecoveryPoint")),
            Decision::Allowed
        );
        assert_eq!(
            policy.evaluate(&request(ALICE, "backup:StartRestoreJob")),
            Decision::Allowed
        );
    }

    #[rstest]
    #[case("backup:Delete*", "backup:DeleteRecoveryPoint", true)]
    #[case("BACKUP:deleterecoverypoint", "backup:DeleteRecoveryPoint", true)]
    #[case("backup:*", "backup:UpdateRecoveryPointLifecycle", true)]
    #[case("*", "backup:DeleteRecoveryPoint", true)]
    #[case("backup:Delete?ecoveryPoint", "backup:DeleteRecoveryPoint", true)]
    #[case("backup:DeleteBackupVault", "backup:DeleteRecoveryPoint", false)]
    #[case("s3:*", "backup:DeleteRecoveryPoint", false)]
    fn actions_match_as_iam_matches_them(
        #[case] pattern: &str,
        #[case] action: &str,
        #[case] expected: bool,
    ) {
        assert_eq!(action_matches(pattern, action), expected);
    }

    #[test]
    fn explicit_deny_wins_over_allow() {
        let policy = AccessPolicy::from_json(&json!({"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": "backup:*", "Resource": "*"},
            {"Sid": "no", "Effect": "Deny", "Principal": {"AWS": [ALICE]}, "Action": "backup:DeleteRecoveryPoint", "Resource": RP}
        ]}))
        .unwrap();
        assert!(matches!(
            policy.evaluate(&request(ALICE, "backup:DeleteRecoveryPoint")),
            Decision::Denied { .. }
        ));
    }

    #[test]
    fn account_principals_and_not_principal() {
        let policy = AccessPolicy::from_json(&json!({"Statement": {
            "Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::210987654321:root"},
            "Action": "backup:DeleteRecoveryPoint", "Resource": "*"
        }}))
        .unwrap();
        assert_eq!(
            policy.evaluate(&request(ALICE, "backup:DeleteRecoveryPoint")),
            Decision::Allowed
        );
        assert!(matches!(
            policy.evaluate(&request(
                "arn:coffer:iam::999999999999:user/mallory",
                "backup:DeleteRecoveryPoint"
            )),
            Decision::Denied { .. }
        ));
    }

    #[test]
    fn conditions_arn_like_if_exists_and_unknown_keys() {
        let arn_like = AccessPolicy::from_json(&json!({"Statement": {
            "Effect": "Deny", "Principal": "*", "Action": "backup:*", "Resource": "*",
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": "arn:coffer:iam::*:role/backup-*"}}
        }}))
        .unwrap();
        assert_eq!(
            arn_like.evaluate(&request(OPERATOR, "backup:DeleteRecoveryPoint")),
            Decision::Allowed
        );
        assert!(matches!(
            arn_like.evaluate(&request(ALICE, "backup:DeleteRecoveryPoint")),
            Decision::Denied { .. }
        ));

        // A key Coffer does not know: the Deny applies (fails closed).
        let unknown = AccessPolicy::from_json(&json!({"Statement": {
            "Effect": "Deny", "Principal": "*", "Action": "backup:*", "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
        }}))
        .unwrap();
        assert!(matches!(
            unknown.evaluate(&request(OPERATOR, "backup:DeleteRecoveryPoint")),
            Decision::Denied { .. }
        ));
    }

    #[test]
    fn resources_are_matched_case_sensitively() {
        let policy = AccessPolicy::from_json(&json!({"Statement": {
            "Effect": "Deny", "Principal": "*", "Action": "backup:*",
            "Resource": "arn:coffer:backup:*:*:recovery-point:RP-*"
        }}))
        .unwrap();
        assert_eq!(
            policy.evaluate(&request(ALICE, "backup:DeleteRecoveryPoint")),
            Decision::Allowed
        );
    }

    #[test]
    fn wildcards_inside_principal_arns_are_refused() {
        let error = AccessPolicy::from_json(&json!({"Statement": {
            "Effect": "Deny", "Principal": {"AWS": "arn:coffer:iam::*:user/*"}, "Action": "backup:*", "Resource": "*"
        }}))
        .unwrap_err();
        assert!(error.message.contains("ArnLike"), "{error}");
    }

    #[test]
    fn malformed_documents_are_refused_with_the_field() {
        let error =
            AccessPolicy::from_json(&json!({"Statement": [{"Effect": "Maybe", "Action": "x"}]}))
                .unwrap_err();
        assert_eq!(error.field, "Statement[0].Effect");
        assert!(AccessPolicy::from_json(&json!({"Statement": [{"Effect": "Deny"}]})).is_err());
    }
}
