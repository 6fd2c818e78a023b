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
use genpdf::{render, Alignment, Context, Element, Margins, Mm, RenderResult};

use crate::expected::Verdict;
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
        crate::expected::TEMPLATE => "Expected backup report",
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

/// A section heading, with a little space before what follows.
fn heading(text: &str) -> impl Element {
    Paragraph::new(text)
        .styled(Style::new().bold().with_font_size(13))
        .padded(Margins::trbl(0, 0, 1.5, 0))
}

/// An element that starts on a new page unless `room` is left on this one:
/// a heading is not left alone at the foot of a page, nor a block split.
struct KeepTogether<E> {
    room: Mm,
    inner: E,
    moved: bool,
}

impl<E: Element> KeepTogether<E> {
    fn new(room: impl Into<Mm>, inner: E) -> Self {
        Self {
            room: room.into(),
            inner,
            moved: false,
        }
    }
}

impl<E: Element> Element for KeepTogether<E> {
    fn render(
        &mut self,
        context: &Context,
        area: render::Area<'_>,
        style: Style,
    ) -> std::result::Result<RenderResult, genpdf::error::Error> {
        if !self.moved && area.size().height < self.room {
            // Nothing drawn here; the layout goes on on the next page.
            self.moved = true;
            return Ok(RenderResult {
                has_more: true,
                ..RenderResult::default()
            });
        }
        self.moved = true;
        self.inner.render(context, area, style)
    }
}

/// A section heading that keeps `room` millimetres of what follows with it.
fn section(text: &str, room: f32) -> impl Element {
    KeepTogether::new(room, heading(text))
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
                "COMPLIANT" | "COMPLETED" | "ON_TIME" => {
                    Style::new().with_color(Color::Rgb(20, 110, 40))
                }
                "MISSED" | "RETENTION_SHORT" | "LATE" => {
                    Style::new().bold().with_color(Color::Rgb(170, 20, 20))
                }
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

/// The colour of each verdict's bars.
fn verdict_color(verdict: Verdict) -> Color {
    match verdict {
        Verdict::OnTime => Color::Rgb(40, 140, 60),
        Verdict::Late => Color::Rgb(230, 160, 20),
        Verdict::Failed => Color::Rgb(190, 30, 30),
        Verdict::Missed => Color::Rgb(110, 20, 110),
        Verdict::RetentionShort => Color::Rgb(30, 90, 180),
        Verdict::InProgress => Color::Rgb(140, 140, 140),
    }
}

/// Expected backups per account and verdict.
type Counts<'t> = BTreeMap<&'t str, BTreeMap<Verdict, usize>>;

/// A bar chart: one horizontal bar per account, its length the account's
/// expected backups, in segments coloured by verdict.
struct VerdictBars {
    counts: Vec<(String, BTreeMap<Verdict, usize>)>,
}

/// The height of one account's bar and the gap below it.
const BAR: f64 = 5.0;
const BAR_GAP: f64 = 2.5;
/// The width given to the account's ID left of its bar.
const LABEL: f64 = 32.0;

impl Element for VerdictBars {
    fn render(
        &mut self,
        context: &Context,
        area: render::Area<'_>,
        style: Style,
    ) -> std::result::Result<RenderResult, genpdf::error::Error> {
        let height = Mm::from((BAR + BAR_GAP) * self.counts.len() as f64);
        if area.size().height < height {
            return Ok(RenderResult {
                has_more: true,
                ..RenderResult::default()
            });
        }
        let most = self
            .counts
            .iter()
            .map(|(_, c)| c.values().sum::<usize>())
            .max()
            .unwrap_or(0)
            .max(1);
        let width = f64::from(area.size().width) - LABEL - 2.0;
        let text = style.with_font_size(8);
        for (i, (account, counts)) in self.counts.iter().enumerate() {
            let top = (BAR + BAR_GAP) * i as f64;
            area.print_str(
                &context.font_cache,
                genpdf::Position::new(0, top + 0.5),
                text,
                account,
            )?;
            let mut x = LABEL;
            for (verdict, n) in counts {
                let length = width * *n as f64 / most as f64;
                // A filled rectangle: lines a quarter millimetre apart.
                let mut y = top;
                while y <= top + BAR {
                    area.draw_line(
                        vec![
                            genpdf::Position::new(x, y),
                            genpdf::Position::new(x + length, y),
                        ],
                        Style::new().with_color(verdict_color(*verdict)),
                    );
                    y += 0.25;
                }
                x += length;
            }
        }
        Ok(RenderResult {
            size: genpdf::Size::new(area.size().width, height),
            has_more: false,
        })
    }
}

/// The expected-backup report: a one-page summary (per account: on time,
/// late, failed, missed, retention short, with the chart), then the rows
/// that are not ON_TIME, with the reasons.
fn expectation(doc: &mut genpdf::Document, table: &Table) -> Result<()> {
    let mut counts: Counts<'_> = BTreeMap::new();
    for row in &table.rows {
        let verdict = Verdict::ALL
            .into_iter()
            .find(|v| v.as_str() == cell(table, row, "verdict"))
            .unwrap_or(Verdict::Missed);
        *counts
            .entry(cell(table, row, "accountId"))
            .or_default()
            .entry(verdict)
            .or_default() += 1;
    }
    let total = |v: Verdict| {
        counts
            .values()
            .map(|c| c.get(&v).copied().unwrap_or(0))
            .sum::<usize>()
    };
    doc.push(section("Summary", 40.0));
    let not_ok = table.rows.len() - total(Verdict::OnTime) - total(Verdict::InProgress);
    doc.push(Paragraph::new(format!(
        "{} backup(s) expected in the period across {} account(s): {} on time, {} not as declared (late {}, failed {}, missed {}, retention short {}), {} still running.",
        table.rows.len(),
        counts.len(),
        total(Verdict::OnTime),
        not_ok,
        total(Verdict::Late),
        total(Verdict::Failed),
        total(Verdict::Missed),
        total(Verdict::RetentionShort),
        total(Verdict::InProgress),
    )));
    doc.push(Break::new(0.5));
    let shown = [
        Verdict::OnTime,
        Verdict::Late,
        Verdict::Failed,
        Verdict::Missed,
        Verdict::RetentionShort,
    ];
    doc.push(grid(
        vec![5, 3, 2, 2, 2, 3],
        &[
            "Account",
            "On time",
            "Late",
            "Failed",
            "Missed",
            "Retention short",
        ],
        counts
            .iter()
            .map(|(account, c)| {
                std::iter::once((*account).to_string())
                    .chain(
                        shown
                            .iter()
                            .map(|v| c.get(v).copied().unwrap_or(0).to_string()),
                    )
                    .collect()
            })
            .collect(),
    )?);
    doc.push(Break::new(1.0));
    doc.push(VerdictBars {
        counts: counts
            .iter()
            .map(|(a, c)| ((*a).to_string(), c.clone()))
            .collect(),
    });
    doc.push(Break::new(0.5));
    let mut legend = LinearLayout::vertical();
    for verdict in Verdict::ALL {
        legend.push(
            Paragraph::new(format!("■ {}", verdict.as_str())).styled(
                Style::new()
                    .with_font_size(8)
                    .with_color(verdict_color(verdict)),
            ),
        );
    }
    doc.push(legend);
    doc.push(genpdf::elements::PageBreak::new());
    doc.push(section(
        "Expected backups not taken as declared, with the reasons",
        25.0,
    ));
    let mut any = false;
    for row in table
        .rows
        .iter()
        .filter(|r| !matches!(cell(table, r, "verdict"), "ON_TIME" | "IN_PROGRESS"))
    {
        any = true;
        doc.push(small(format!(
            "{} {} {} rule {}: {} (job {}): {}. {}",
            cell(table, row, "expectedTime")
                .chars()
                .take(16)
                .collect::<String>()
                .replace('T', " "),
            cell(table, row, "accountId"),
            crate::templates::resource_name(cell(table, row, "resourceArn")),
            cell(table, row, "backupRuleName"),
            cell(table, row, "verdict"),
            match cell(table, row, "backupJobId") {
                "" => "none",
                id => id,
            },
            cell(table, row, "reason"),
            cell(table, row, "statusMessage"),
        )));
    }
    if !any {
        doc.push(Paragraph::new(
            "None: every expected backup was taken on time with the declared retention.",
        ));
    }
    Ok(())
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
    if input.template == crate::expected::TEMPLATE {
        expectation(&mut doc, table)?;
    } else if input.template == "RESOURCE_COMPLIANCE_REPORT" {
        doc.push(section("Summary", 40.0));
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
        doc.push(section("Non-compliant resources, with the reasons", 25.0));
        // One block a resource: its ARN, then each control it fails and why.
        let mut failing: BTreeMap<&str, Vec<&[String]>> = BTreeMap::new();
        for row in table
            .rows
            .iter()
            .filter(|r| cell(table, r, "resourceComplianceStatus") == "NON_COMPLIANT")
        {
            failing
                .entry(cell(table, row, "resourceId"))
                .or_default()
                .push(row);
        }
        let any = !failing.is_empty();
        for (resource, rows) in failing {
            let mut item = LinearLayout::vertical();
            item.push(Paragraph::new(resource).styled(Style::new().bold().with_font_size(9)));
            for row in rows {
                item.push(
                    small(format!(
                        "{}: {}",
                        cell(table, row, "controlName"),
                        cell(table, row, "reason")
                    ))
                    .padded(Margins::trbl(0, 0, 0, 3)),
                );
            }
            doc.push(item.padded(1));
        }
        if !any {
            doc.push(Paragraph::new(
                "None: every resource evaluated is compliant.",
            ));
        }
    } else if compliance {
        doc.push(section("Summary", 40.0));
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
            doc.push(KeepTogether::new(
                30,
                Paragraph::new(format!("Framework {framework}"))
                    .styled(Style::new().bold().with_font_size(10))
                    .padded(Margins::trbl(0, 0, 1, 0)),
            ));
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
        doc.push(section("Summary", 40.0));
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
        doc.push(section("Jobs", 30.0));
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
            doc.push(section(
                "Jobs that did not complete, with the reasons",
                25.0,
            ));
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
    // The integrity section is kept on one page: an auditor reads it whole.
    let mut integrity = LinearLayout::vertical();
    integrity.push(heading("Integrity"));
    integrity.push(small(
        "This document summarises the files below. Their SHA-256 digests, and this PDF's, are listed in manifest.json, whose Ed25519 signature is manifest.json.sig; check them with `coffer verify` or with sha256sum and an Ed25519 verifier.",
    ));
    integrity.push(Break::new(0.5));
    // Long digests and names stand on their own lines, full width.
    let item = |label: &str, value: String| {
        let mut block = LinearLayout::vertical();
        block.push(Paragraph::new(label).styled(Style::new().bold().with_font_size(8)));
        block.push(small(value));
        block.padded(1)
    };
    let mut items: u16 = 1;
    for (file, sha) in input.digests {
        integrity.push(item(file, format!("SHA-256 {sha}")));
        items += 1;
    }
    if let Some(c) = input.checkpoint {
        integrity.push(item(
            "Evidence ledger checkpoint",
            format!(
                "{} entries, signed {}; Merkle root {}",
                c.tree_size,
                at(c.time),
                c.root_hash
            ),
        ));
        items += 1;
    }
    integrity.push(item(
        "Signing key fingerprint",
        input.key_fingerprint.to_string(),
    ));
    // Heading and text about 20 mm, each item about 10 mm.
    let room = 20.0 + 10.0 * f32::from(items);
    doc.push(KeepTogether::new(room, integrity));

    let mut out = Vec::new();
    doc.render(&mut out).map_err(pdf_error)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text of each page, by Debian's `pdftotext` (poppler-utils).
    fn pages(pdf: &[u8]) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.pdf");
        std::fs::write(&path, pdf).unwrap();
        let out = std::process::Command::new("pdftotext")
            .arg("-layout")
            .arg(&path)
            .arg("-")
            .output()
            .expect("pdftotext (Debian's poppler-utils) reads the PDF in this test; .ci/run installs it");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .split('\u{c}')
            .filter(|p| !p.trim().is_empty())
            .map(str::to_string)
            .collect()
    }

    fn resource_report(failing: usize) -> Table {
        let mut rows = Vec::new();
        for i in 0..failing + 5 {
            let arn = format!("arn:coffer:fs:eu-west-1:210987654321:filesystem/share-{i:03}");
            for (control, status, reason) in [
                (
                    "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN",
                    "NON_COMPLIANT",
                    "no plan",
                ),
                (
                    "BACKUP_LAST_RECOVERY_POINT_CREATED",
                    "NON_COMPLIANT",
                    "no point",
                ),
                ("BACKUP_RECOVERY_POINT_ENCRYPTED", "COMPLIANT", ""),
            ] {
                let status = if i < failing { status } else { "COMPLIANT" };
                rows.push(vec![
                    arn.clone(),
                    control.to_string(),
                    status.to_string(),
                    if status == "COMPLIANT" {
                        String::new()
                    } else {
                        format!("{reason} for share-{i:03}")
                    },
                ]);
            }
        }
        Table {
            columns: vec![
                "resourceId",
                "controlName",
                "resourceComplianceStatus",
                "reason",
            ],
            rows,
        }
    }

    fn render_resources(table: &Table) -> Vec<u8> {
        let at = jiff::Timestamp::from_second(1_795_000_000).unwrap();
        let checkpoint = StoredCheckpoint {
            tree_size: 1234,
            root_hash: "ab".repeat(32),
            time: at,
            key_fingerprint: "SHA256:fp".into(),
            signature: String::new(),
        };
        render(&Input {
            report_plan: "nightly",
            template: "RESOURCE_COMPLIANCE_REPORT",
            table,
            window_start: at,
            window_end: at,
            generated_at: at,
            digests: &[("nightly.csv".into(), "cd".repeat(32))],
            checkpoint: Some(&checkpoint),
            key_fingerprint: "SHA256:fingerprint-of-the-key",
        })
        .unwrap()
    }

    #[test]
    fn a_heading_moves_to_the_next_page_rather_than_end_one_alone() {
        // Fillers of every height around a page's: somewhere the heading
        // would land at the foot of the page with its text on the next.
        for filler in 40..=70 {
            let family = genpdf::fonts::FontFamily {
                regular: font(REGULAR).unwrap(),
                bold: font(BOLD).unwrap(),
                italic: font(REGULAR).unwrap(),
                bold_italic: font(BOLD).unwrap(),
            };
            let mut doc = genpdf::Document::new(family);
            let mut decorator = genpdf::SimplePageDecorator::new();
            decorator.set_margins(18);
            doc.set_page_decorator(decorator);
            doc.push(Paragraph::new("start"));
            doc.push(Break::new(filler));
            doc.push(section("Heading", 25.0));
            doc.push(Paragraph::new("what it introduces"));
            let mut out = Vec::new();
            doc.render(&mut out).unwrap();
            let pages = pages(&out);
            let page = pages.iter().find(|p| p.contains("Heading")).unwrap();
            assert!(
                page.contains("what it introduces"),
                "filler {filler}: heading alone: {pages:?}"
            );
        }
    }

    #[test]
    fn the_drill_down_names_each_resource_once_with_every_reason() {
        let text = pages(&render_resources(&resource_report(3))).concat();
        assert!(
            text.contains(
                "8 resource(s) evaluated: 5 compliant with every control, 3 non-compliant"
            ),
            "{text}"
        );
        for i in 0..3 {
            let arn = format!("filesystem/share-{i:03}");
            assert_eq!(text.matches(&arn).count(), 1, "{arn} in {text}");
            assert!(
                text.contains(&format!("no plan for share-{i:03}")),
                "{text}"
            );
            assert!(
                text.contains(&format!("no point for share-{i:03}")),
                "{text}"
            );
        }
        assert!(
            !text.contains("share-003"),
            "compliant resources are not drilled into"
        );
    }

    #[test]
    fn headings_and_the_integrity_section_are_never_split_from_what_they_introduce() {
        // From one page to three: some counts end the drill-down near a
        // page's foot, where the integrity section or a heading would split.
        for failing in 8..=40 {
            let pages = pages(&render_resources(&resource_report(failing)));
            if failing == 40 {
                assert!(pages.len() > 2, "{failing}: {} page(s)", pages.len());
            }
            let integrity = pages
                .iter()
                .find(|p| p.contains("Integrity"))
                .expect("an integrity section");
            for part in [
                "SHA-256 cdcdcd",
                "Evidence ledger checkpoint",
                "1234 entries",
                "Signing key fingerprint",
                "SHA256:fingerprint-of-the-key",
            ] {
                assert!(
                    integrity.contains(part),
                    "{failing}: {part} split off: {pages:?}"
                );
            }
            let drill = pages
                .iter()
                .find(|p| p.contains("Non-compliant resources, with the reasons"))
                .expect("a drill-down");
            assert!(
                drill.contains("share-000"),
                "{failing}: heading alone: {pages:?}"
            );
        }
    }
}
