//! The routing table: every operation of the AWS Backup service model
//! (`operations.json`, derived from `aws-backup-service-2.json` and
//! committed, since the model is not on a user's machine) with its method,
//! URI template, success status, and where each input member travels
//! (URI label, query string or JSON body).
//!
//! `the_table_is_the_one_the_service_model_gives` derives it again from
//! the model beside the workspace (`../shared/reference/`) and fails when
//! they differ or the model is missing; `COFFER_WRITE_TABLE=1` writes the
//! derived table instead.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The table as committed.
const TABLE: &str = include_str!("operations.json");

/// The type of a member bound to the URI or the query string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    String,
    Integer,
    Long,
    Boolean,
    Timestamp,
}

/// A member bound to the URI or the query string: its name on the wire,
/// its name in the input shape, its type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Bound(pub String, pub String, pub Kind);

/// One operation of the model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Operation {
    pub name: String,
    pub method: String,
    /// The URI template (`/backup-vaults/{backupVaultName}`), maybe with a
    /// literal query (`?delete`).
    pub uri: String,
    /// The status of a success.
    pub status: u16,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<Bound>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<Bound>,
    /// Members of the JSON body.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub body: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<String>,
}

/// A segment of a URI template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// A label, by its name in the template.
    Label(String),
}

/// An operation with its template split into segments.
#[derive(Debug)]
struct Route {
    operation: Operation,
    segments: Vec<Segment>,
}

/// The operation a request names, with its labels' values (decoded), by
/// member name.
#[derive(Debug)]
pub(crate) struct Matched<'a> {
    pub operation: &'a Operation,
    pub labels: Vec<(String, String)>,
}

/// Every operation, routes built once.
#[derive(Debug)]
pub(crate) struct Table {
    routes: Vec<Route>,
}

fn segments_of(path: &str) -> Vec<&str> {
    path.trim_matches('/')
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect()
}

impl Table {
    /// The committed table.
    pub(crate) fn get() -> &'static Table {
        static BUILT: OnceLock<Table> = OnceLock::new();
        BUILT.get_or_init(|| {
            // The table is part of the binary and checked by its test: a
            // table that does not read is a build defect, and an empty
            // table answers every request with "unknown operation".
            let operations: Vec<Operation> = serde_json::from_str(TABLE).unwrap_or_else(|error| {
                tracing::error!(%error, "the built-in operations table does not read");
                Vec::new()
            });
            Table::new(operations)
        })
    }

    fn new(operations: Vec<Operation>) -> Table {
        let routes = operations
            .into_iter()
            .map(|operation| {
                let path = operation.uri.split('?').next().unwrap_or_default();
                let segments = segments_of(path)
                    .into_iter()
                    .map(|segment| {
                        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                            Some(label) => Segment::Label(label.trim_end_matches('+').to_string()),
                            None => Segment::Literal(segment.to_string()),
                        }
                    })
                    .collect();
                Route {
                    operation,
                    segments,
                }
            })
            .collect();
        Table { routes }
    }

    /// Every operation.
    #[cfg(test)]
    pub(crate) fn operations(&self) -> impl Iterator<Item = &Operation> {
        self.routes.iter().map(|r| &r.operation)
    }

    /// The operation `method` on `path` (as sent, percent-encoded) names.
    /// The model's templates never overlap, so at most one matches.
    pub(crate) fn find(&self, method: &str, path: &str) -> Option<Matched<'_>> {
        let wanted = segments_of(path);
        'routes: for route in &self.routes {
            if route.operation.method != method || route.segments.len() != wanted.len() {
                continue;
            }
            let mut labels = Vec::new();
            for (segment, given) in route.segments.iter().zip(&wanted) {
                let decoded = percent_encoding::percent_decode_str(given).decode_utf8_lossy();
                match segment {
                    Segment::Literal(literal) if *literal == decoded => {}
                    Segment::Literal(_) => continue 'routes,
                    Segment::Label(label) => {
                        let member = route
                            .operation
                            .labels
                            .iter()
                            .find(|b| b.0 == *label)
                            .map_or_else(|| label.clone(), |b| b.1.clone());
                        labels.push((member, decoded.into_owned()));
                    }
                }
            }
            return Some(Matched {
                operation: &route.operation,
                labels,
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The table the service model gives.
    fn derive(model: &Value) -> Vec<Operation> {
        let shapes = &model["shapes"];
        let mut operations: Vec<Operation> = model["operations"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, op)| {
                let mut operation = Operation {
                    name: name.clone(),
                    method: op["http"]["method"].as_str().unwrap().to_string(),
                    uri: op["http"]["requestUri"].as_str().unwrap().to_string(),
                    status: op["http"]["responseCode"]
                        .as_u64()
                        .map_or(200, |c| u16::try_from(c).unwrap()),
                    labels: Vec::new(),
                    query: Vec::new(),
                    body: Vec::new(),
                    required: Vec::new(),
                };
                if let Some(input) = op["input"]["shape"].as_str() {
                    let shape = &shapes[input];
                    for (member, def) in shape["members"].as_object().unwrap() {
                        let kind = || {
                            let kind = shapes[def["shape"].as_str().unwrap()]["type"].clone();
                            serde_json::from_value::<Kind>(kind).unwrap()
                        };
                        let wire = def["locationName"].as_str().unwrap_or(member).to_string();
                        match def["location"].as_str() {
                            Some("uri") => {
                                operation.labels.push(Bound(wire, member.clone(), kind()))
                            }
                            Some("querystring") => {
                                operation.query.push(Bound(wire, member.clone(), kind()))
                            }
                            None => operation.body.push(member.clone()),
                            Some(other) => {
                                panic!("{name}.{member}: location {other} is new to Coffer")
                            }
                        }
                    }
                    if let Some(required) = shape["required"].as_array() {
                        operation.required = required
                            .iter()
                            .map(|r| r.as_str().unwrap().to_string())
                            .collect();
                    }
                }
                operation
            })
            .collect();
        operations.sort_by(|a, b| a.name.cmp(&b.name));
        operations
    }

    fn model_path() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/reference/aws-backup-service-2.json")
    }

    #[test]
    fn the_table_is_the_one_the_service_model_gives() {
        let path = model_path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "the AWS Backup service model is not at {} ({e}); CI has ../shared beside the clone",
                path.display()
            )
        });
        let derived = derive(&serde_json::from_str(&text).unwrap());
        if std::env::var_os("COFFER_WRITE_TABLE").is_some() {
            let lines: Vec<String> = derived
                .iter()
                .map(|o| serde_json::to_string(o).unwrap())
                .collect();
            let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/operations.json");
            std::fs::write(out, format!("[\n{}\n]\n", lines.join(",\n"))).unwrap();
            return;
        }
        let committed: Vec<Operation> = serde_json::from_str(TABLE).unwrap();
        assert_eq!(committed.len(), derived.len());
        for (c, d) in committed.iter().zip(&derived) {
            assert_eq!(
                c, d,
                "the committed table differs; run with COFFER_WRITE_TABLE=1"
            );
        }
    }

    #[track_caller]
    fn check(method: &str, path: &str, expect: Option<(&str, &[(&str, &str)])>) {
        let found = Table::get().find(method, path);
        let got = found.as_ref().map(|m| {
            (
                m.operation.name.as_str(),
                m.labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect::<Vec<_>>(),
            )
        });
        assert_eq!(got, expect.map(|(n, l)| (n, l.to_vec())));
    }

    #[test]
    fn requests_find_their_operation_and_labels() {
        check("GET", "/backup-vaults/", Some(("ListBackupVaults", &[])));
        check("GET", "/backup-vaults", Some(("ListBackupVaults", &[])));
        check(
            "GET",
            "/backup-vaults/primary",
            Some(("DescribeBackupVault", &[("BackupVaultName", "primary")])),
        );
        check(
            "GET",
            "/backup-vaults/primary/recovery-points/arn%3Acoffer%3Abackup%3Aeu-west-1%3A210987654321%3Arecovery-point%3AP1",
            Some((
                "DescribeRecoveryPoint",
                &[
                    ("BackupVaultName", "primary"),
                    ("RecoveryPointArn", "arn:coffer:backup:eu-west-1:210987654321:recovery-point:P1"),
                ],
            )),
        );
        check(
            "PUT",
            "/backup-vaults/primary",
            Some(("CreateBackupVault", &[("BackupVaultName", "primary")])),
        );
        check("GET", "/no-such-thing", None);
        check("PATCH", "/backup-vaults/", None);
        assert_eq!(Table::get().operations().count(), 115);
    }
}
