//! The PDF format, Coffer's extension of AWS's CSV and JSON: an auditor's
//! document laid out by `genpdf`. A summary page (what was evaluated or
//! run, compliant and not, per control or per state), the tables, the
//! non-compliant drill-down with reasons, the reporting window and
//! generation time, and an integrity section: the SHA-256 of the CSV and
//! JSON files it summarises, the ledger checkpoint and the signing key's
//! fingerprint (the manifest, which lists the PDF too, is signed
//! separately). Fonts: DejaVu Sans, embedded (`fonts/LICENSE-DejaVu`).

use std::collections::BTreeMap;

use coffer_catalog::StoredCheckpoint;
use genpdf::elements::{Break, FrameCellDecorator, LinearLayout, Paragraph, TableLayout};
use genpdf::style::{Color, Style};
use genpdf::{Alignment, Element};

use crate::templates::Table;
use crate::{Error, Result};

const REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

/// What the document shows.
#[derive(Debug)]
pub struct Input<'a> {
    pub report_plan: &'a str,
    pub template: &'a str,
    pub table: &'a Table,
    pub window_start: jiff::Timestamp,
    pub window_end: jiff::Timestamp,
    pub generated_at: jiff::Timestamp,
    /// (file name, SHA-256) of the files the PDF summarises.
    pub digests: &'a [(String, String)],
    pub checkpoint: Option<&'a StoredCheckpoint>,
    pub key_fingerprint: &'a str,
}

fn title(template: &str) -> &'static str {
    match template {
        "BACKUP_JOB_REPORT" => "Backup job report",
        "COPY_JOB_REPORT" => "Copy job report",
        "RESTORE_JOB_REPORT" => "Restore job report",
        "CONTROL_COMPLIANCE_REPORT" => "Control compliance report",
        "RESOURCE_COMPLIANCE_REPORT" => "Resource compliance report",
        _ => "Report",
    }
}

fn pdf_error(e: genpdf::error::Error) -> Error {
    Error::Unreadable {
        path: "report.pdf".into(),
        message: e.to_string(),
    }
}

fn font(data: &[u8]) -> Result<genpdf::fonts::FontData> {
    genpdf::fonts::FontData::new(data.to_vec(), None).map_err(pdf_error)
}

/// The value of `column` in `row`.
fn cell<'t>(table: &'t Table, row: &'t [String], column: &str) -> &'t str {
    table
        .columns
        .iter()
        .position(|c| *c == column)
        .and_then(|i| row.get(i))
        .map_or("", String::as_str)
}

fn heading(text: &str) -> impl Element {
    Paragraph::new(text).styled(Style::new().bold().with_font_size(13))
}

fn small(text: impl Into<String>) -> impl Element {
    Paragraph::new(text.into()).styled(Style::new().with_font_size(8))
}

/// A bordered table with a bold header row; cells are padded and wrap.
fn grid(widths: Vec<usize>, header: &[&str], rows: Vec<Vec<String>>) -> Result<TableLayout> {
    let mut table = TableLayout::new(widths);
    table.set_cell_decorator(FrameCellDecorator::new(true, true, false));
    if !header.is_empty() {
        let mut head = table.row();
        for h in header {
            head.push_element(
                Paragraph::new(*h)
                    .styled(Style::new().bold().with_font_size(9))
                    .padded(1),
            );
        }
        head.push().map_err(pdf_error)?;
    }
    for row in rows {
        let mut line = table.row();
        for value in row {
            let style = match value.as_str() {
                "NON_COMPLIANT" | "FAILED" | "EXPIRED" | "ABORTED" => {
                    Style::new().bold().with_color(Color::Rgb(170, 20, 20))
                }
                "COMPLIANT" | "COMPLETED" => Style::new().with_color(Color::Rgb(20, 110, 40)),
                _ => Style::new(),
            };
            line.push_element(
                Paragraph::new(value)
                    .styled(style.with_font_size(8))
                    .padded(1),
            );
        }
        line.push().map_err(pdf_error)?;
    }
    Ok(table)
}

/// Renders the document.
///
/// # Errors
/// When the layout cannot be rendered.
pub fn render(input: &Input<'_>) -> Result<Vec<u8>> {
    let family = genpdf::fonts::FontFamily {
        regular: font(REGULAR)?,
        bold: font(BOLD)?,
        italic: font(REGULAR)?,
        bold_italic: font(BOLD)?,
    };
    let mut doc = genpdf::Document::new(family);
    let name = title(input.template);
    doc.set_title(format!("{name}: {}", input.report_plan));
    doc.set_font_size(10);
    let mut decorator = genpdf::SimplePageDecorator::new();
    decorator.set_margins(18);
    let footer = format!("Coffer · {} · {name}", input.report_plan);
    decorator.set_header(move |page| {
        Paragraph::new(format!("{footer} · page {page}"))
            .aligned(Alignment::Right)
            .styled(
                Style::new()
                    .with_font_size(7)
                    .with_color(Color::Rgb(110, 110, 110)),
            )
    });
    doc.set_page_decorator(decorator);

    let table = input.table;
    let at = |t: jiff::Timestamp| t.strftime("%Y-%m-%d %H:%M UTC").to_string();
    doc.push(Paragraph::new(name).styled(Style::new().bold().with_font_size(20)));
    doc.push(
        Paragraph::new(format!("Report plan {}", input.report_plan))
            .styled(Style::new().with_font_size(12)),
    );
    doc.push(Break::new(0.5));
    doc.push(grid(
        vec![1, 2],
        &[],
        vec![
            vec![
                "Reporting window".into(),
                format!("{} to {}", at(input.window_start), at(input.window_end)),
            ],
            vec!["Generated".into(), at(input.generated_at)],
            vec!["Template".into(), input.template.to_string()],
            vec!["Rows".into(), table.rows.len().to_string()],
        ],
    )?);
    doc.push(Break::new(1.0));

    let compliance = input.template.ends_with("COMPLIANCE_REPORT");
    if input.template == "RESOURCE_COMPLIANCE_REPORT" {
        doc.push(heading("Summary"));
        let mut resources: BTreeMap<&str, bool> = BTreeMap::new();
        let mut per_control: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
        for row in &table.rows {
            let status = cell(table, row, "resourceComplianceStatus");
            let ok = resources
                .entry(cell(table, row, "resourceId"))
                .or_insert(true);
            *ok &= status != "NON_COMPLIANT";
            let entry = per_control
                .entry(cell(table, row, "controlName"))
                .or_default();
            match status {
                "COMPLIANT" => entry.0 += 1,
                "NON_COMPLIANT" => entry.1 += 1,
                _ => entry.2 += 1,
            }
        }
        let failing = resources.values().filter(|ok| !**ok).count();
        doc.push(Paragraph::new(format!(
            "{} resource(s) evaluated: {} compliant with every control, {} non-compliant with at least one.",
            resources.len(),
            resources.len() - failing,
            failing
        )));
        doc.push(Break::new(0.5));
        doc.push(grid(
            vec![10, 3, 3, 3],
            &["Control", "Compliant", "Not compliant", "No data"],
            per_control
                .iter()
                .map(|(c, (ok, bad, none))| {
                    vec![
                        (*c).to_string(),
                        ok.to_string(),
                        bad.to_string(),
                        none.to_string(),
                    ]
                })
                .collect(),
        )?);
        doc.push(Break::new(1.0));
        doc.push(heading("Non-compliant resources, with the reasons"));
        let mut any = false;
        for row in table
            .rows
            .iter()
            .filter(|r| cell(table, r, "resourceComplianceStatus") == "NON_COMPLIANT")
        {
            any = true;
            let mut item = LinearLayout::vertical();
            item.push(
                Paragraph::new(cell(table, row, "resourceId"))
                    .styled(Style::new().bold().with_font_size(9)),
            );
            item.push(small(format!(
                "{}: {}",
                cell(table, row, "controlName"),
                cell(table, row, "reason")
            )));
            doc.push(item.padded(1));
        }
        if !any {
            doc.push(Paragraph::new(
                "None: every resource evaluated is compliant.",
            ));
        }
    } else if compliance {
        doc.push(heading("Summary"));
        let failing = table
            .rows
            .iter()
            .filter(|r| cell(table, r, "controlComplianceStatus") == "NON_COMPLIANT")
            .count();
        doc.push(Paragraph::new(format!(
            "{} control(s) evaluated: {} compliant, {} non-compliant.",
            table.rows.len(),
            table.rows.len() - failing,
            failing
        )));
        // One table per framework: a control name needs the width.
        let mut frameworks: Vec<&str> = table
            .rows
            .iter()
            .map(|r| cell(table, r, "frameworkName"))
            .collect();
        frameworks.dedup();
        for framework in frameworks {
            doc.push(Break::new(0.5));
            doc.push(
                Paragraph::new(format!("Framework {framework}"))
                    .styled(Style::new().bold().with_font_size(10)),
            );
            doc.push(grid(
                vec![12, 4, 3, 3],
                &["Control", "Status", "Compliant", "Not compliant"],
                table
                    .rows
                    .iter()
                    .filter(|r| cell(table, r, "frameworkName") == framework)
                    .map(|r| {
                        vec![
                            cell(table, r, "controlName").to_string(),
                            cell(table, r, "controlComplianceStatus").to_string(),
                            cell(table, r, "numResourcesCompliant").to_string(),
                            cell(table, r, "numResourcesNonCompliant").to_string(),
                        ]
                    })
                    .collect(),
            )?);
        }
    } else {
        doc.push(heading("Summary"));
        let mut states: BTreeMap<&str, usize> = BTreeMap::new();
        for row in &table.rows {
            *states.entry(cell(table, row, "jobStatus")).or_default() += 1;
        }
        doc.push(grid(
            vec![2, 1],
            &["State", "Jobs"],
            states
                .iter()
                .map(|(s, n)| vec![(*s).to_string(), n.to_string()])
                .collect(),
        )?);
        doc.push(Break::new(1.0));
        doc.push(heading("Jobs"));
        let id_column = table
            .columns
            .iter()
            .find(|c| c.ends_with("JobId"))
            .copied()
            .unwrap_or("");
        let resource_column = if input.template == "RESTORE_JOB_REPORT" {
            "sourceResourceArn"
        } else {
            "resourceArn"
        };
        // Names, not ARNs: a table cell cannot break an ARN; the CSV and
        // JSON files carry every ARN.
        let short = crate::templates::resource_name;
        doc.push(grid(
            vec![3, 5, 3, 4],
            &["Job", "Resource", "State", "Ended"],
            table
                .rows
                .iter()
                .map(|r| {
                    vec![
                        cell(table, r, id_column).chars().take(8).collect(),
                        short(cell(table, r, resource_column)),
                        cell(table, r, "jobStatus").to_string(),
                        cell(table, r, "completionDate")
                            .chars()
                            .take(16)
                            .collect::<String>()
                            .replace('T', " "),
                    ]
                })
                .collect(),
        )?);
        let failed: Vec<&Vec<String>> = table
            .rows
            .iter()
            .filter(|r| {
                !matches!(
                    cell(table, r, "jobStatus"),
                    "COMPLETED" | "RUNNING" | "CREATED" | "PENDING"
                )
            })
            .collect();
        if !failed.is_empty() {
            doc.push(Break::new(1.0));
            doc.push(heading("Jobs that did not complete, with the reasons"));
            for row in failed {
                doc.push(small(format!(
                    "{} {}: {}",
                    cell(table, row, id_column),
                    cell(table, row, "jobStatus"),
                    cell(table, row, "statusMessage")
                )));
            }
        }
    }

    doc.push(Break::new(1.5));
    doc.push(heading("Integrity"));
    doc.push(small(
        "This document summarises the files below. Their SHA-256 digests, and this PDF's, are listed in manifest.json, whose Ed25519 signature is manifest.json.sig; check them with `coffer verify` or with sha256sum and an Ed25519 verifier.",
    ));
    // Long digests and names stand on their own lines, full width.
    let item = |label: &str, value: String| {
        let mut block = LinearLayout::vertical();
        block.push(Paragraph::new(label).styled(Style::new().bold().with_font_size(8)));
        block.push(small(value));
        block.padded(1)
    };
    doc.push(Break::new(0.5));
    for (file, sha) in input.digests {
        doc.push(item(file, format!("SHA-256 {sha}")));
    }
    if let Some(c) = input.checkpoint {
        doc.push(item(
            "Evidence ledger checkpoint",
            format!(
                "{} entries, signed {}; Merkle root {}",
                c.tree_size,
                at(c.time),
                c.root_hash
            ),
        ));
    }
    doc.push(item(
        "Signing key fingerprint",
        input.key_fingerprint.to_string(),
    ));

    let mut out = Vec::new();
    doc.render(&mut out).map_err(pdf_error)?;
    Ok(out)
}
