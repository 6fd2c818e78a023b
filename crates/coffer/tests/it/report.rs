//! Reports end to end: a report plan delivers CSV and JSON with a signed
//! manifest into the bucket's folder; `coffer verify` checks it offline,
//! names a changed file, and catches a ledger cut back below the
//! delivered checkpoint. On S3 (a real moto server), every delivered
//! object is under Object Lock, configured or the bucket's default, and
//! `coffer verify s3://...` reads the delivery from the bucket.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::Run;

pub(crate) const STACK: &str = r#"
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

pub(crate) fn delivered(run: &Run) -> PathBuf {
    PathBuf::from(
        run.stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("delivered to"))
            .unwrap_or_else(|| panic!("no delivery in {}", run.stdout))
            .trim(),
    )
}

pub(crate) fn file_with(dir: &Path, ext: &str) -> PathBuf {
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

/// Lists a delivery's objects in a bucket through boto3 (a client
/// independent of Coffer's) and, for each, what HeadObject says of its
/// Object Lock and what a DeleteObject of its version answers.
const INSPECT: &str = r#"
bucket, prefix = sys.argv[1], sys.argv[2]
out = {}
for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get('Contents', []):
    h = s3.head_object(Bucket=bucket, Key=o['Key'])['ResponseMetadata']['HTTPHeaders']
    try:
        s3.delete_object(Bucket=bucket, Key=o['Key'], VersionId=h['x-amz-version-id'])
        deleted = 'DELETED'
    except ClientError as e:
        deleted = e.response['Error']['Code']
    out[o['Key'][len(prefix):]] = {
        'mode': h.get('x-amz-object-lock-mode'),
        'until': h.get('x-amz-object-lock-retain-until-date'),
        'delete': deleted,
    }
print(json.dumps(out))
"#;

/// The `s3://bucket/key/` a report run delivered to, split.
fn delivered_s3(run: &Run) -> (String, String, String) {
    let url = run
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("delivered to"))
        .unwrap_or_else(|| panic!("no delivery in {}", run.stdout))
        .trim()
        .to_string();
    let rest = url
        .strip_prefix("s3://")
        .unwrap_or_else(|| panic!("not delivered to S3: {url}"));
    let (bucket, key) = rest.split_once('/').unwrap();
    (url.clone(), bucket.to_string(), key.to_string())
}

/// Checks every object of the delivery at `bucket`/`key`: six of them
/// (CSV, JSON, PDF, key, signature, manifest), each retained in `mode`
/// until the manifest's generation time plus `days` (rounded up to the
/// second), as the signed manifest records, and none deletable.
fn assert_retained(moto: &coffer_testkit::Moto, bucket: &str, key: &str, mode: &str, days: i64) {
    let found: Value = serde_json::from_str(&moto.boto3(INSPECT, &[bucket, key])).unwrap();
    let objects = found.as_object().unwrap();
    let names: Vec<&String> = objects.keys().collect();
    assert_eq!(objects.len(), 6, "{names:?}");
    for name in ["manifest.json", "manifest.json.sig", "signing-key.pem"] {
        assert!(
            objects.contains_key(name),
            "{name} not delivered: {names:?}"
        );
    }
    let manifest = moto.boto3(
        "sys.stdout.write(s3.get_object(Bucket=sys.argv[1], Key=sys.argv[2])['Body'].read().decode())",
        &[bucket, &format!("{key}manifest.json")],
    );
    let manifest: Value = serde_json::from_str(&manifest).unwrap();
    let generated: jiff::Timestamp = manifest["generatedAt"].as_str().unwrap().parse().unwrap();
    let until = generated
        .checked_add(jiff::SignedDuration::from_hours(24 * days))
        .unwrap();
    let whole = until.as_second() + i64::from(until.subsec_nanosecond() > 0);
    let expected = jiff::Timestamp::from_second(whole)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    assert_eq!(manifest["objectLock"]["mode"], mode, "{manifest:#}");
    let recorded: jiff::Timestamp = manifest["objectLock"]["retainUntilDate"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(recorded.as_second(), whole, "{manifest:#}");
    for (name, object) in objects {
        assert_eq!(object["mode"], mode, "{name}: {object}");
        assert_eq!(object["until"], expected.as_str(), "{name}: {object}");
        assert_eq!(
            object["delete"], "AccessDenied",
            "{name}: a retained version was deleted: {object}"
        );
    }
}

#[test]
fn reports_go_to_s3_under_object_lock_and_verify_from_the_bucket() {
    let moto = coffer_testkit::Moto::start();
    moto.create_bucket("coffer-locked");
    moto.boto3(
        "s3.create_bucket(Bucket='coffer-default', ObjectLockEnabledForBucket=True)\n\
         s3.put_object_lock_configuration(Bucket='coffer-default', ObjectLockConfiguration={'ObjectLockEnabled': 'Enabled', 'Rule': {'DefaultRetention': {'Mode': 'GOVERNANCE', 'Days': 2}}})\n\
         s3.create_bucket(Bucket='coffer-plain')",
        &[],
    );
    let home = crate::home_with_docs_backed_up(STACK, "35");
    let key_file = home.write("s3.key", coffer_testkit::KEY);
    let config = home.path().join("config.toml");
    let original = std::fs::read_to_string(&config).unwrap();
    let endpoint = |name: &str| {
        format!(
            "[s3_endpoints.{name}]\nurl = \"{}\"\naccess_key_id = {{ file = \"{key_file}\" }}\nsecret_access_key = {{ file = \"{key_file}\" }}\npath_style = true\n",
            moto.url
        )
    };
    let configure = |bucket_entry: &str, endpoints: &[&str]| {
        let endpoints: Vec<String> = endpoints.iter().map(|n| endpoint(n)).collect();
        std::fs::write(
            &config,
            format!("{}\n{bucket_entry}\n{original}", endpoints.join("\n")),
        )
        .unwrap();
    };
    let public = home.run(&["keys", "public"]);
    ok(&public);
    let fingerprint = public
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("fingerprint"))
        .unwrap()
        .trim()
        .to_string();

    // Object Lock asked in config.toml: COMPLIANCE for a day on every object.
    configure(
        "[report_buckets.audit]\nendpoint = \"moto\"\nbucket = \"coffer-locked\"\nobject_lock = { mode = \"COMPLIANCE\", days = 1 }\n",
        &["moto"],
    );
    let run = home.run(&["report", "run", "jobs_daily"]);
    ok(&run);
    assert!(
        run.stdout.contains("(Object Lock, COMPLIANCE mode)"),
        "{}",
        run.stdout
    );
    let (url, bucket, key) = delivered_s3(&run);
    assert_eq!(bucket, "coffer-locked");
    let parts: Vec<&str> = key.trim_end_matches('/').split('/').collect();
    assert_eq!(parts[..2], ["jobs", "BACKUP_JOB_REPORT"], "{key}");
    assert!(
        parts[2].starts_with("year=") && parts[3].starts_with("month=") && parts.len() == 5,
        "{key}"
    );
    let jobs = home.run(&["report", "jobs", "--plan", "jobs_daily", "-o", "json"]);
    ok(&jobs);
    let jobs: Value = serde_json::from_str(&jobs.stdout).unwrap();
    assert_eq!(jobs[0]["Status"], "COMPLETED");
    assert_eq!(jobs[0]["ReportDestination"], url.as_str());
    assert_eq!(jobs[0]["ReportJobId"], parts[4]);
    assert_retained(&moto, &bucket, &key, "COMPLIANCE", 1);

    // Verified from the bucket, with the fingerprint the auditor was given,
    // and from the address of a file in the delivery.
    let verified = home.run(&["verify", &url, "--fingerprint", &fingerprint]);
    ok(&verified);
    assert!(
        verified.stdout.contains("3 file(s) match"),
        "{}",
        verified.stdout
    );
    assert!(
        verified.stdout.contains("agrees with this home's ledger"),
        "{}",
        verified.stdout
    );
    ok(&home.run(&[
        "verify",
        &format!("{url}manifest.json"),
        "--fingerprint",
        &fingerprint,
    ]));

    // One byte of the CSV changed in a new version (S3 allows a new
    // version; the retained one stays): named.
    let csv = moto.boto3(
        "keys = [o['Key'] for o in s3.list_objects_v2(Bucket=sys.argv[1], Prefix=sys.argv[2])['Contents'] if o['Key'].endswith('.csv')]\n\
         body = bytearray(s3.get_object(Bucket=sys.argv[1], Key=keys[0])['Body'].read())\n\
         body[-2] ^= 1\n\
         s3.put_object(Bucket=sys.argv[1], Key=keys[0], Body=bytes(body))\n\
         print(keys[0][len(sys.argv[2]):])",
        &[&bucket, &key],
    );
    let csv = csv.trim();
    assert!(csv.ends_with(".csv"), "{csv}");
    let tampered = home.run(&["verify", &url, "--fingerprint", &fingerprint]);
    assert_eq!(tampered.code, 1, "{tampered:?}");
    assert!(
        tampered.stderr.contains(&format!("error: {csv}: SHA-256")),
        "{}",
        tampered.stderr
    );

    // Several endpoints could serve a bucket no [report_buckets] entry
    // names: --endpoint says which. "moto" answers nowhere here, so only
    // the endpoint asked for can reach the delivery.
    configure(
        "[report_buckets.audit]\nendpoint = \"moto\"\nbucket = \"coffer-default\"\n",
        &["moto", "other"],
    );
    let dead =
        std::fs::read_to_string(&config)
            .unwrap()
            .replacen(&moto.url, "http://127.0.0.1:9", 1);
    std::fs::write(&config, dead).unwrap();
    let ambiguous = home.run(&["verify", &url, "--fingerprint", &fingerprint]);
    assert_eq!(ambiguous.code, 1, "{ambiguous:?}");
    assert!(
        ambiguous.stderr.contains("--endpoint NAME"),
        "{}",
        ambiguous.stderr
    );
    let chosen = home.run(&[
        "verify",
        &url,
        "--endpoint",
        "other",
        "--fingerprint",
        &fingerprint,
    ]);
    assert_eq!(chosen.code, 1, "{chosen:?}");
    assert!(
        chosen.stderr.contains(&format!("error: {csv}: SHA-256")),
        "{}",
        chosen.stderr
    );

    configure(
        "[report_buckets.audit]\nendpoint = \"moto\"\nbucket = \"coffer-default\"\n",
        &["moto", "other"],
    );

    // No object_lock in config.toml, but the bucket retains by default:
    // the default is set explicitly on every object and recorded.
    let run = home.run(&["report", "run", "jobs_daily"]);
    ok(&run);
    let (url, bucket, key) = delivered_s3(&run);
    assert_eq!(bucket, "coffer-default");
    assert_retained(&moto, &bucket, &key, "GOVERNANCE", 2);
    ok(&home.run(&["verify", &url, "--fingerprint", &fingerprint]));

    // object_lock on a bucket without Object Lock: the report job fails
    // before anything is written, saying how to fix it.
    configure(
        "[report_buckets.audit]\nendpoint = \"moto\"\nbucket = \"coffer-plain\"\nobject_lock = { mode = \"COMPLIANCE\", days = 1 }\n",
        &["moto"],
    );
    let refused = home.run(&["report", "run", "jobs_daily"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    for words in [
        "bucket \"coffer-plain\"",
        "does not have Object Lock enabled",
        "--object-lock-enabled-for-bucket",
        "remove object_lock from [report_buckets.audit]",
    ] {
        assert!(
            refused.stderr.contains(words),
            "{words}: {}",
            refused.stderr
        );
    }
    let jobs = home.run(&["report", "jobs", "--plan", "jobs_daily", "-o", "json"]);
    let jobs: Value = serde_json::from_str(&jobs.stdout).unwrap();
    let failed: Vec<&Value> = jobs
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["Status"] == "FAILED")
        .collect();
    assert_eq!(failed.len(), 1, "{jobs:#}");
    assert!(
        failed[0]["StatusMessage"]
            .as_str()
            .unwrap()
            .contains("coffer-plain"),
        "{jobs:#}"
    );
    let left = moto.boto3(
        "print(len(s3.list_objects_v2(Bucket='coffer-plain').get('Contents', [])))",
        &[],
    );
    assert_eq!(left.trim(), "0");
}

/// A synthetic estate (bench/gen_catalog.py) on the shared AWS Backup
/// template: 100 resources of four types, 4,000 jobs over 40 hours, 4,000
/// points. The jobs report holds exactly the catalog's jobs that ended in
/// its window, row by row; the resource compliance report holds exactly
/// the framework's current results.
#[test]
fn reports_of_thousands_of_rows_match_the_catalog_row_by_row() {
    let home = crate::Home::new();
    let shared = std::fs::read_to_string(crate::repo(
        "../shared/examples/cloudformation/backup-stack.yaml",
    ))
    .unwrap()
    .replace(
        "FrameworkName: payments-core",
        "FrameworkName: payments_core",
    );
    let stack = home.write("stack.yaml", &shared);
    ok(&home.run(&["apply", "--stack", "payments", &stack]));
    let db = home.path().join("catalog.db");
    let generated = std::process::Command::new("python3")
        .arg(crate::repo("bench/gen_catalog.py"))
        .arg(&db)
        .args(["100", "4000", "4000", "100"])
        // Its entries carry this deployment's MAC, as Coffer's own do.
        .env("COFFER_LEDGER_KEY", home.path().join("ledger.key"))
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed to generate the estate: {e}"));
    assert!(generated.status.success(), "{generated:?}");

    let run = home.run(&[
        "report",
        "run",
        "payments_jobs_monthly",
        "--window-hours",
        "24",
    ]);
    ok(&run);
    let dir = delivered(&run);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let start: jiff::Timestamp = manifest["windowStart"].as_str().unwrap().parse().unwrap();
    let end: jiff::Timestamp = manifest["windowEnd"].as_str().unwrap().parse().unwrap();
    let json: Value =
        serde_json::from_slice(&std::fs::read(file_with(&dir, "json")).unwrap()).unwrap();
    let rows: std::collections::BTreeMap<String, &Value> = json["reportItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["backupJobId"].as_str().unwrap().to_string(), r))
        .collect();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut expected = std::collections::BTreeMap::new();
    let mut all = 0;
    let mut stmt = conn
        .prepare("SELECT id, state, resource_arn, completion_date FROM backup_jobs")
        .unwrap();
    let jobs = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })
        .unwrap();
    for job in jobs {
        let (id, state, resource, completed) = job.unwrap();
        all += 1;
        let done: Option<jiff::Timestamp> = completed.as_deref().map(|t| t.parse().unwrap());
        let active =
            !["COMPLETED", "FAILED", "ABORTED", "EXPIRED", "PARTIAL"].contains(&state.as_str());
        if active || done.is_some_and(|t| t >= start && t < end) {
            expected.insert(id, (state, resource, completed.unwrap_or_default()));
        }
    }
    assert_eq!(all, 4000);
    assert!(
        expected.len() > 2000 && expected.len() < 4000,
        "the window holds some of the jobs: {}",
        expected.len()
    );
    assert_eq!(
        rows.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the report's jobs are the catalog's jobs of the window"
    );
    for (id, (state, resource, completed)) in &expected {
        let row = rows[id];
        assert_eq!(row["jobStatus"], state.as_str(), "{id}");
        assert_eq!(row["resourceArn"], resource.as_str(), "{id}");
        assert_eq!(row["completionDate"], completed.as_str(), "{id}");
        assert!(
            row["ledgerEntryIndex"].as_str().unwrap().is_empty()
                || row["ledgerEntryIndex"]
                    .as_str()
                    .unwrap()
                    .parse::<u64>()
                    .is_ok()
        );
    }

    // The compliance report: one row per current result of the framework.
    let run = home.run(&["report", "run", "payments_resource_compliance"]);
    ok(&run);
    let dir = delivered(&run);
    let json: Value =
        serde_json::from_slice(&std::fs::read(file_with(&dir, "json")).unwrap()).unwrap();
    let items = json["reportItems"].as_array().unwrap();
    let current: i64 = conn
        .query_row(
            "SELECT count(*) FROM control_current WHERE framework_name = 'payments_core'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        current > 8000,
        "{current} results (two point controls over 4,000 points and more)"
    );
    assert_eq!(i64::try_from(items.len()).unwrap(), current);
    let non_compliant: i64 = conn
        .query_row(
            "SELECT count(*) FROM control_current WHERE framework_name = 'payments_core' AND status = 'NON_COMPLIANT'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        i64::try_from(
            items
                .iter()
                .filter(|r| r["resourceComplianceStatus"] == "NON_COMPLIANT")
                .count()
        )
        .unwrap(),
        non_compliant
    );
    assert!(non_compliant > 0);
    ok(&home.run(&["verify", &dir.display().to_string()]));
}
