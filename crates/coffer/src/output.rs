//! Output formats for listings: a table for people, JSON and YAML (with the
//! AWS field names) for programs.

use clap::ValueEnum;
use comfy_table::{presets::NOTHING, Table};
use saphyr::{Mapping, Scalar, Yaml, YamlEmitter};
use serde_json::Value as Json;

/// How a listing is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Yaml,
}

/// A plain table with a header row and no borders.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut table = Table::new();
    table.load_preset(NOTHING);
    table.set_header(header.iter().copied());
    for row in rows {
        table.add_row(row);
    }
    table.to_string()
}

fn to_yaml(value: &Json) -> Yaml<'static> {
    match value {
        Json::Null => Yaml::Value(Scalar::Null),
        Json::Bool(b) => Yaml::Value(Scalar::Boolean(*b)),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Value(Scalar::Integer(i)),
            None => Yaml::Value(Scalar::FloatingPoint(n.as_f64().unwrap_or_default().into())),
        },
        Json::String(s) => Yaml::Value(Scalar::String(s.clone().into())),
        Json::Array(items) => Yaml::Sequence(items.iter().map(to_yaml).collect()),
        Json::Object(map) => {
            let mut out = Mapping::new();
            for (k, v) in map {
                out.insert(Yaml::Value(Scalar::String(k.clone().into())), to_yaml(v));
            }
            Yaml::Mapping(out)
        }
    }
}

/// Prints `value` as JSON or YAML, or `table()` for people.
pub fn print(
    format: OutputFormat,
    value: &impl serde::Serialize,
    table: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Table => println!("{}", table()),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(value)?),
        OutputFormat::Yaml => print!("{}", yaml(&serde_json::to_value(value)?)?),
    }
    Ok(())
}

/// YAML text of a JSON value.
pub fn yaml(value: &Json) -> anyhow::Result<String> {
    let mut out = String::new();
    let doc = to_yaml(value);
    let mut emitter = YamlEmitter::new(&mut out);
    emitter.multiline(true);
    emitter
        .dump(&doc)
        .map_err(|e| anyhow::anyhow!("cannot write YAML: {e:?}"))?;
    out.push('\n');
    Ok(out)
}

/// Prints one document as JSON, or else as YAML.
pub fn document(format: OutputFormat, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let doc = serde_json::to_value(value)?;
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&doc)?),
        _ => print!("{}", yaml(&doc)?),
    }
    Ok(())
}

/// An enum's name as serde writes it (`COMPLETED`).
pub fn upper(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_keeps_order_and_types() {
        let text = yaml(&json!([{"BackupVaultName": "v", "MinRetentionDays": 14, "Locked": true}]))
            .unwrap();
        assert_eq!(
            text,
            "---\n- BackupVaultName: v\n  MinRetentionDays: 14\n  Locked: true\n"
        );
    }

    #[test]
    fn table_has_header_and_rows() {
        let text = table(
            &["NAME", "STACK"],
            vec![vec!["primary".into(), "payments".into()]],
        );
        assert!(
            text.contains("NAME") && text.contains("primary") && text.contains("payments"),
            "{text}"
        );
    }
}
