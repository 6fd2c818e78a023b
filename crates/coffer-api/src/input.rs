//! A request's input, as the operation's input shape names its members:
//! URI labels, query-string members (typed as the model types them) and
//! the JSON body's members, checked for type and presence before any
//! operation sees them.

use coffer_model::Tags;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::table::{Kind, Matched};

/// An operation's input members by name.
#[derive(Debug, Default)]
pub(crate) struct Input {
    members: Map<String, Value>,
}

impl Input {
    /// Reads the labels, the query string and the body of a request for
    /// the operation it matched.
    ///
    /// # Errors
    /// `InvalidParameterValueException` for a value of the wrong type, a
    /// body that is not a JSON object, or a member the shape does not
    /// have; `MissingParameterValueException` for a required member absent.
    pub(crate) fn read(
        matched: &Matched<'_>,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Input, ApiError> {
        let operation = matched.operation;
        let mut members = Map::new();
        for (member, value) in &matched.labels {
            members.insert(member.clone(), Value::String(value.clone()));
        }
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
            let Some(bound) = operation.query.iter().find(|b| b.0 == name) else {
                // A literal of the template (`?delete`) or a member of no
                // shape: AWS ignores what it does not bind.
                continue;
            };
            let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
            members.insert(bound.1.clone(), typed(&bound.1, bound.2, &value)?);
        }
        if !body.iter().all(u8::is_ascii_whitespace) {
            let parsed: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::invalid(format!("the request body is not JSON: {e}")))?;
            let Value::Object(object) = parsed else {
                return Err(ApiError::invalid("the request body is not a JSON object"));
            };
            for (member, value) in object {
                if !operation.body.contains(&member) {
                    return Err(ApiError::invalid(format!(
                        "{} has no member {member:?} in its body; its members are: {}",
                        operation.name,
                        operation.body.join(", ")
                    )));
                }
                members.insert(member, value);
            }
        }
        for required in &operation.required {
            if !members.contains_key(required) {
                return Err(ApiError::missing(format!(
                    "{} requires {required}",
                    operation.name
                )));
            }
        }
        Ok(Input { members })
    }

    /// Every member but `member`, as one JSON object (a request's
    /// parameters besides its token).
    pub(crate) fn members_except(&self, member: &str) -> Value {
        let mut members = self.members.clone();
        members.remove(member);
        Value::Object(members)
    }

    /// A member as its JSON value, for structures read member by member.
    pub(crate) fn value(&self, member: &str) -> Option<&Value> {
        self.get(member)
    }

    fn get(&self, member: &str) -> Option<&Value> {
        self.members.get(member).filter(|v| !v.is_null())
    }

    /// A structure or list member decoded as the model type `T` reads
    /// it (the model's types carry AWS's member names).
    pub(crate) fn decoded<T: serde::de::DeserializeOwned>(
        &self,
        member: &str,
    ) -> Result<Option<T>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(value) => serde_json::from_value(value.clone())
                .map(Some)
                .map_err(|e| ApiError::invalid(format!("{member}: {e}"))),
        }
    }

    /// A string member.
    pub(crate) fn str(&self, member: &str) -> Result<Option<&str>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid(format!("{member} must be a string"))),
        }
    }

    /// A string member the shape requires (checked when read).
    pub(crate) fn required(&self, member: &str) -> Result<&str, ApiError> {
        self.str(member)?
            .ok_or_else(|| ApiError::missing(format!("{member} is required")))
    }

    /// A whole-number member.
    pub(crate) fn int(&self, member: &str) -> Result<Option<i64>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(value) => value
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::invalid(format!("{member} must be a whole number"))),
        }
    }

    /// A whole-number member in `range`.
    pub(crate) fn int_in(
        &self,
        member: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<Option<i64>, ApiError> {
        match self.int(member)? {
            Some(n) if !range.contains(&n) => Err(ApiError::invalid(format!(
                "{member} {n} is out of range; use {} to {}",
                range.start(),
                range.end()
            ))),
            n => Ok(n),
        }
    }

    /// A boolean member.
    pub(crate) fn bool(&self, member: &str) -> Result<Option<bool>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::invalid(format!("{member} must be true or false"))),
        }
    }

    /// A timestamp member: epoch seconds in a body, ISO 8601 in a query.
    pub(crate) fn time(&self, member: &str) -> Result<Option<jiff::Timestamp>, ApiError> {
        let bad = || {
            ApiError::invalid(format!(
                "{member} must be a time (epoch seconds or ISO 8601)"
            ))
        };
        match self.get(member) {
            None => Ok(None),
            Some(Value::String(text)) => parse_time(text).map(Some).ok_or_else(bad),
            Some(Value::Number(n)) => n
                .as_f64()
                .and_then(|seconds| {
                    // Milliseconds are all the model keeps.
                    #[allow(clippy::cast_possible_truncation)]
                    let millis = (seconds * 1000.0).round() as i64;
                    jiff::Timestamp::from_millisecond(millis).ok()
                })
                .map(Some)
                .ok_or_else(bad),
            Some(_) => Err(bad()),
        }
    }

    /// A map of strings (tags).
    pub(crate) fn tags(&self, member: &str) -> Result<Tags, ApiError> {
        match self.get(member) {
            None => Ok(Tags::new()),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(ApiError::invalid(format!("{member}.{k} must be a string"))),
                })
                .collect(),
            Some(_) => Err(ApiError::invalid(format!(
                "{member} must be a map of strings"
            ))),
        }
    }

    /// A list of strings.
    pub(crate) fn strings(&self, member: &str) -> Result<Vec<String>, ApiError> {
        match self.get(member) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(ApiError::invalid(format!("{member} must hold strings"))),
                })
                .collect(),
            Some(_) => Err(ApiError::invalid(format!(
                "{member} must be a list of strings"
            ))),
        }
    }

    /// A structure member, as its JSON object.
    pub(crate) fn object(&self, member: &str) -> Result<Option<Input>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Input {
                members: map.clone(),
            })),
            Some(_) => Err(ApiError::invalid(format!("{member} must be a structure"))),
        }
    }
}

/// An ISO 8601 time (`2026-12-07T10:00:00Z`, with or without fractions or
/// an offset) or epoch seconds as text.
fn parse_time(text: &str) -> Option<jiff::Timestamp> {
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Some(at);
    }
    text.parse::<f64>().ok().and_then(|seconds| {
        #[allow(clippy::cast_possible_truncation)]
        let millis = (seconds * 1000.0).round() as i64;
        jiff::Timestamp::from_millisecond(millis).ok()
    })
}

/// A query-string value as its member's type.
fn typed(member: &str, kind: Kind, value: &str) -> Result<Value, ApiError> {
    match kind {
        Kind::String => Ok(Value::String(value.to_string())),
        Kind::Integer | Kind::Long => value
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| ApiError::invalid(format!("{member} {value:?} is not a whole number"))),
        Kind::Boolean => match value {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(ApiError::invalid(format!(
                "{member} {value:?} is not true or false"
            ))),
        },
        Kind::Timestamp => parse_time(value)
            .map(|at| Value::String(at.to_string()))
            .ok_or_else(|| {
                ApiError::invalid(format!("{member} {value:?} is not an ISO 8601 time"))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Table;

    #[test]
    fn query_members_are_typed_and_required_members_checked() {
        let table = Table::get();
        let matched = table.find("GET", "/backup-jobs/").unwrap();
        let input = Input::read(
            &matched,
            Some("maxResults=5&createdAfter=2026-12-07T10%3A00%3A00Z&state=COMPLETED"),
            b"",
        )
        .unwrap();
        assert_eq!(input.int("MaxResults").unwrap(), Some(5));
        assert_eq!(input.str("ByState").unwrap(), Some("COMPLETED"));
        assert_eq!(
            input.time("ByCreatedAfter").unwrap().unwrap().to_string(),
            "2026-12-07T10:00:00Z"
        );
        let bad = Input::read(&matched, Some("maxResults=many"), b"").unwrap_err();
        assert_eq!(bad.code, "InvalidParameterValueException");
        let start = table.find("PUT", "/backup-jobs").unwrap();
        let missing = Input::read(&start, None, br#"{"BackupVaultName":"v"}"#).unwrap_err();
        assert_eq!(missing.code, "MissingParameterValueException");
        let unknown = Input::read(&start, None, br#"{"Nope":1}"#).unwrap_err();
        assert_eq!(unknown.code, "InvalidParameterValueException");
    }
}
