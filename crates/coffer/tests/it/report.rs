//! Reports end to end: a report plan delivers CSV and JSON with a signed
//! manifest into the bucket's folder; `coffer verify` checks it offline,
//! names a changed file, and catches a ledger cut back below the
//! delivered checkpoint.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::Run;

const STACK: &str = r#"
Resources:
  Primary:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: primary
  Plan:
    Type: AWS::Backup::BackupPlan
    Properties:
      BackupPlan:
        BackupPlanName: nightly
        BackupPlanRule:
          - RuleName: nightly
            TargetBackupVault: primary
            ScheduleExpression: cron(0 3 * * ? *)
            Lifecycle:
              DeleteAfterDays: 35
  All:
    Type: AWS::Backup::BackupSelection
    Properties:
      BackupPlanId: !Ref Plan
      BackupSelection:
        SelectionName: all
        IamRoleArn: arn:coffer:iam::210987654321:role/backup
        Resources: ['arn:coffer:fs:*:210987654321:filesystem/*']
  Core:
    Type: AWS::Backup::Framework
    Properties:
      FrameworkName: core
      FrameworkControls:
        - ControlName: BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN
        - ControlName: BACKUP_LAST_RECOVERY_POINT_CREATED
  Jobs:
    Type: AWS::Backup::ReportPlan
    Properties:
      ReportPlanName: jobs_daily
      ReportDeliveryChannel:
        S3BucketName: audit
        S3KeyPrefix: jobs
        Formats: [CSV, JSON, PDF]
      ReportSetting:
        ReportTemplate: BACKUP_JOB_REPORT
  Resources:
    Type: AWS::Backup::ReportPlan
    Properties:
      ReportPlanName: resource_compliance
      ReportDeliveryChannel:
        S3BucketName: audit
        Formats: [JSON]
      ReportSetting:
        ReportTemplate: RESOURCE_COMPLIANCE_REPORT
        FrameworkArns:
          - !GetAtt Core.FrameworkArn
  Controls:
    Type: AWS::Backup::ReportPlan
    Properties:
      ReportPlanName: control_compliance
      ReportDeliveryChannel:
        S3BucketName: audit
        Formats: [JSON]
      ReportSetting:
        ReportTemplate: CONTROL_COMPLIANCE_REPORT
        FrameworkArns:
          - !GetAtt Core.FrameworkArn
"#;

const DOCS: &str = "arn:coffer:fs:eu-west-1:210987654321:filesystem/docs";

fn ok(run: &Run) {
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

fn delivered(run: &Run) -> PathBuf {
    PathBuf::from(
        run.stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("delivered to"))
            .unwrap_or_else(|| panic!("no delivery in {}", run.stdout))
            .trim(),
    )
}

fn file_with(dir: &Path, ext: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.extension().is_some_and(|e| e == ext)
                && !p
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("manifest")
        })
        .unwrap_or_else(|| panic!("no .{ext} in {}", dir.display()))
}

#[test]
fn a_report_is_delivered_signed_and_verified_and_tampering_is_named() {
    let home = crate::home_with_docs_backed_up(STACK, "35");

    let run = home.run(&["report", "run", "jobs_daily"]);
    ok(&run);
    let dir = delivered(&run);
    let relative = dir.strip_prefix(home.path().join("buckets/audit")).unwrap();
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect();
    assert_eq!(parts[0], "jobs");
    assert_eq!(parts[1], "BACKUP_JOB_REPORT");
    assert!(
        parts[2].starts_with("year=") && parts[3].starts_with("month="),
        "{parts:?}"
    );

    // The report job is recorded with its destination and manifest digest.
    let jobs = home.run(&["report", "jobs", "--plan", "jobs_daily", "-o", "json"]);
    ok(&jobs);
    let jobs: Value = serde_json::from_str(&jobs.stdout).unwrap();
    assert_eq!(jobs[0]["Status"], "COMPLETED");
    assert_eq!(jobs[0]["ReportTemplate"], "BACKUP_JOB_REPORT");
    assert_eq!(jobs[0]["ReportDestination"], dir.display().to_string());
    let manifest = std::fs::read(dir.join("manifest.json")).unwrap();
    assert_eq!(
        jobs[0]["ManifestSha256"],
        coffer_catalog::ledger::sha256_hex(&manifest)
    );

    // The rows are the catalog's, with the evidence columns.
    let json: Value =
        serde_json::from_slice(&std::fs::read(file_with(&dir, "json")).unwrap()).unwrap();
    let items = json["reportItems"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let row = &items[0];
    assert_eq!(row["jobStatus"], "COMPLETED");
    assert_eq!(row["resourceArn"], DOCS);
    let points = home.run(&["recovery-points", "list", "-o", "json"]);
    let points: Value = serde_json::from_str(&points.stdout).unwrap();
    assert_eq!(row["recoveryPointArn"], points[0]["RecoveryPointArn"]);
    assert_eq!(row["recoveryPointSha256"], points[0]["ContentSha256"]);
    assert!(row["ledgerEntryIndex"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .is_ok());
    // The PDF is a PDF, and the manifest lists it with the data files.
    let pdf = std::fs::read(file_with(&dir, "pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF-1.") && pdf.trim_ascii_end().ends_with(b"%%EOF"));
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let listed: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(listed.iter().any(|p| p.ends_with(".pdf")));
    let csv = std::fs::read_to_string(file_with(&dir, "csv")).unwrap();
    assert!(csv.starts_with(
        "reportTimePeriodStart,reportTimePeriodEnd,accountId,region,backupJobId,jobStatus,"
    ));
    assert_eq!(csv.lines().count(), 2);

    // Verified with the key and with the fingerprint the auditor was given.
    let public = home.run(&["keys", "public"]);
    let field = |name: &str| {
        public
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .trim()
            .to_string()
    };
    let (hex, fingerprint) = (field("public key"), field("fingerprint"));
    let dir_text = dir.display().to_string();
    let verified = home.run(&["verify", &dir_text, "--public-key", &hex]);
    ok(&verified);
    assert!(
        verified.stdout.contains("agrees with this home's ledger"),
        "{}",
        verified.stdout
    );
    ok(&home.run(&["verify", &dir_text, "--fingerprint", &fingerprint]));
    // On an auditor's machine with a Coffer home of its own, that home's
    // ledger is not taken for the signer's.
    let auditor = crate::Home::new();
    ok(&auditor.run(&["keys", "public"]));
    let elsewhere = auditor.run(&["verify", &dir_text, "--public-key", &hex]);
    ok(&elsewhere);
    assert!(
        elsewhere.stdout.contains("another deployment's"),
        "{}",
        elsewhere.stdout
    );
    let bundled = home.run(&["verify", &dir_text]);
    ok(&bundled);
    assert!(bundled
        .stdout
        .contains("ONLY the key shipped inside the bundle"));

    // A compliance report from a fresh evaluation.
    let run = home.run(&["report", "run", "resource_compliance"]);
    ok(&run);
    let compliance: Value =
        serde_json::from_slice(&std::fs::read(file_with(&delivered(&run), "json")).unwrap())
            .unwrap();
    let rows = compliance["reportItems"].as_array().unwrap();
    assert_eq!(
        rows.len(),
        2,
        "two controls over one resource: {compliance:#}"
    );
    assert!(rows
        .iter()
        .all(|r| r["resourceComplianceStatus"] == "COMPLIANT"));

    // Each control's row points at the ledger entry of its newest result.
    let run = home.run(&["report", "run", "control_compliance"]);
    ok(&run);
    let controls: Value =
        serde_json::from_slice(&std::fs::read(file_with(&delivered(&run), "json")).unwrap())
            .unwrap();
    let rows = controls["reportItems"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{controls:#}");
    for row in rows {
        assert_eq!(row["controlComplianceStatus"], "COMPLIANT");
        assert!(
            row["ledgerEntryIndex"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .is_ok(),
            "{row:#}"
        );
    }

    // One byte of the CSV changed: named.
    let csv_path = file_with(&dir, "csv");
    let mut bytes = std::fs::read(&csv_path).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 1;
    std::fs::write(&csv_path, &bytes).unwrap();
    let tampered = home.run(&["verify", &dir_text, "--public-key", &hex]);
    assert_eq!(tampered.code, 1);
    let name = csv_path.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        tampered.stderr.contains(&format!("error: {name}: SHA-256")),
        "{}",
        tampered.stderr
    );
    bytes[last] ^= 1;
    std::fs::write(&csv_path, &bytes).unwrap();

    // The ledger cut back below the delivered checkpoint: caught.
    let conn = rusqlite::Connection::open(home.path().join("catalog.db")).unwrap();
    conn.execute("DELETE FROM ledger WHERE seq >= 3", [])
        .unwrap();
    let cut = home.run(&["verify", &dir_text, "--public-key", &hex]);
    assert_eq!(cut.code, 1);
    assert!(cut.stderr.contains("cut back"), "{}", cut.stderr);
}
