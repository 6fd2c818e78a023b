//! Command-line arguments and dispatch.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::Outcome;

/// Coffer: a self-hosted backup plane with the audit built in.
///
/// Policy lives in files (CloudFormation templates written for AWS Backup
/// work as they are); resources are declared in inventory files and enrol
/// by tag.
#[derive(Debug, Parser)]
#[command(
    name = "coffer",
    version,
    propagate_version = true,
    arg_required_else_help = true,
    after_help = "Example:\n  coffer validate stack.yaml inventory.yaml\n  coffer plan --stack payments stack.yaml inventory.yaml\n  coffer apply --stack payments stack.yaml inventory.yaml\n  coffer get plans -o json\n\nExit codes: 0 success, 1 error, 2 changes pending (plan)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Coffer's home: config.toml, catalog, keyring, local vaults.
    #[arg(long, global = true, env = "COFFER_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Account ID for this command (default: config.toml [defaults] account).
    #[arg(long, global = true, value_name = "ID")]
    pub account: Option<String>,
    /// Region for this command (default: config.toml [defaults] region).
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// More logging (-v info, -vv debug); COFFER_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Policy and inventory files, or directories of them.
    #[arg(required = true, value_name = "FILES|DIRS")]
    pub paths: Vec<PathBuf>,
    /// Template parameter value, NAME=VALUE (repeatable).
    #[arg(long = "parameter", short = 'p', value_name = "NAME=VALUE")]
    pub parameters: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StackArgs {
    /// Stack that owns the objects (default: the first file's name without extension).
    #[arg(long, value_name = "NAME")]
    pub stack: Option<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Yaml,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GetKind {
    Plans,
    Vaults,
    Selections,
    Frameworks,
    ReportPlans,
    Resources,
    Servers,
    Stacks,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check policy and inventory files; print every error and warning.
    #[command(
        after_help = "Example:\n  coffer validate stack.yaml inventory.yaml\n  coffer validate policies/ -p OperatorRoleArn=arn:coffer:iam::111122223333:role/ops\n\nExit code 0 when valid (warnings allowed), 1 when any error is found."
    )]
    Validate(PolicyArgs),
    /// Show what `apply` would create, change or delete in the catalog.
    #[command(
        after_help = "Example:\n  coffer plan --stack payments stack.yaml inventory.yaml\n\nExit code 0 when nothing would change, 2 when changes are pending, 1 on errors."
    )]
    Plan(StackArgs),
    /// Make the catalog match the files for one stack (idempotent).
    #[command(
        after_help = "Example:\n  coffer apply --stack payments stack.yaml inventory.yaml\n\nObjects that left the stack's files are deleted; objects of other stacks\nare never touched; a vault that holds recovery points is never deleted."
    )]
    Apply(StackArgs),
    /// List the databases each declared server holds now, with their tags.
    #[command(
        after_help = "Example:\n  coffer discover\n  coffer discover -o json\n\nA database's tags: the inventory's, then database_tags, then a line\n`coffer: key=value, key=value` in its comment (COMMENT ON DATABASE)."
    )]
    Discover {
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// Back up a resource now (an on-demand backup job).
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Copy a recovery point to another vault (as a copy action does).
    #[command(subcommand)]
    Copy(CopyCommand),
    /// Restore a recovery point, or validate that it restores.
    #[command(subcommand)]
    Restore(RestoreCommand),
    /// List, inspect, delete recovery points and change their lifecycle.
    #[command(subcommand, name = "recovery-points")]
    RecoveryPoints(PointsCommand),
    /// Backup, restore and validation jobs, with their states and reasons.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Everything in one go on the embedded default: resources, policy, backups, a copy, a restore drill, compliance, signed reports.
    #[command(
        after_help = "Example:\n  coffer --home ./coffer-demo quickstart\n\nRun it again on the same home for another round of backups."
    )]
    Quickstart,
    /// Run the scheduler: backups on schedule, copies, lifecycle, vault checks, /metrics.
    #[command(
        after_help = "Example:\n  coffer serve\n  coffer serve --listen 0.0.0.0:9797\n\nSettings are in config.toml's [serve] section; SIGTERM or Ctrl-C stops it gracefully."
    )]
    Serve {
        /// Address of /metrics and /healthz (default: [serve] listen, 127.0.0.1:9797).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Seconds running jobs get to finish at shutdown before they are stopped.
        #[arg(long, value_name = "SECONDS", default_value_t = 30)]
        grace_seconds: u64,
    },
    /// Report plans: run one now.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Verify a delivered report offline: signature, every file's digest, the ledger checkpoint.
    #[command(
        after_help = "Example:\n  coffer verify ~/.coffer/buckets/audit/BACKUP_JOB_REPORT/year=2026/month=11/JOB --public-key 3b6a...\n  coffer verify DIR --fingerprint SHA256:9f2c...\n  coffer verify s3://audit/jobs/BACKUP_JOB_REPORT/year=2026/month=11/JOB/ --fingerprint SHA256:9f2c...\n\nAn s3:// delivery is read through config.toml's [s3_endpoints] (--endpoint NAME when several could serve the bucket). Without --public-key or --fingerprint only the key inside the bundle is used, which shows the files are intact but not who signed them. Exits 1 and names the file on any mismatch."
    )]
    Verify {
        /// The delivery folder (or a file in it), or s3://BUCKET/PREFIX/ of a delivery in a bucket.
        path: std::path::PathBuf,
        /// The signing key's public key you were given (64 hex digits).
        #[arg(long, value_name = "HEX", conflicts_with = "fingerprint")]
        public_key: Option<String>,
        /// The signing key's fingerprint you were given (SHA256:...).
        #[arg(long, value_name = "FP")]
        fingerprint: Option<String>,
        /// For s3:// deliveries: the [s3_endpoints] entry serving the bucket (default: the [report_buckets] entry's, else the only one).
        #[arg(long, value_name = "NAME")]
        endpoint: Option<String>,
    },
    /// Audit frameworks: evaluate their controls.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The evidence ledger: verify it, sign a checkpoint, prove an entry.
    #[command(subcommand)]
    Evidence(EvidenceCommand),
    /// Print the Prometheus metrics (`coffer_*`) the daemon serves on /metrics.
    #[command(after_help = "Example:\n  coffer metrics")]
    Metrics,
    /// What the scheduler will run: the next hours' backup jobs.
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// The lifecycle: move due recovery points to cold storage, expire them.
    #[command(subcommand)]
    Lifecycle(LifecycleCommand),
    /// Legal holds: pin recovery points against deletion and expiry.
    #[command(subcommand, name = "legal-holds")]
    LegalHolds(HoldsCommand),
    /// Vaults: disaster-recovery access.
    #[command(subcommand)]
    Vault(VaultCommand),
    /// Manage the keyring: the keys that wrap every vault's secret.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// List objects in the catalog.
    #[command(
        after_help = "Example:\n  coffer get vaults\n  coffer get plans -o json\n  coffer get resources -o yaml"
    )]
    Get {
        /// What to list.
        kind: GetKind,
        /// Output format; json and yaml use the AWS field names.
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Start a backup job of one resource into a vault and wait for it.
    #[command(
        after_help = "Example:\n  coffer backup start --resource arn:coffer:fs:eu-west-1:210987654321:filesystem/shared-home --vault payments-primary\n  coffer backup start --resource arn:coffer:postgres:eu-west-1:210987654321:database/pg-main/orders --vault payments-primary --delete-after-days 35\n\nThe job and its recovery point are recorded in the catalog (`coffer recovery-points list`)."
    )]
    Start(BackupStart),
}

#[derive(Debug, Args)]
pub struct BackupStart {
    /// ARN of the resource (`coffer get resources` lists them).
    #[arg(long, value_name = "ARN")]
    pub resource: String,
    /// Vault to store the recovery point in.
    #[arg(long, value_name = "NAME")]
    pub vault: String,
    /// Lifecycle: delete the recovery point after this many days.
    #[arg(long, value_name = "DAYS")]
    pub delete_after_days: Option<u32>,
    /// Lifecycle: move it to cold storage after this many days.
    #[arg(long, value_name = "DAYS")]
    pub cold_after_days: Option<u32>,
    /// Queue the job for `coffer serve` (start window 8 hours) and return.
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Subcommand)]
pub enum CopyCommand {
    /// Start a copy job of one recovery point and wait for it.
    #[command(
        after_help = "Example:\n  coffer copy start --recovery-point RP --destination-vault payments-second-site --delete-after-days 90\n  coffer copy start --recovery-point RP --destination-vault arn:coffer:backup:eu-central-1:210987654321:backup-vault:dr\n\nThe copy is a recovery point of the destination vault, restorable without the source."
    )]
    Start(CopyStart),
}

#[derive(Debug, Args)]
pub struct CopyStart {
    /// Recovery point ARN or ID.
    #[arg(long, value_name = "ARN|ID")]
    pub recovery_point: String,
    /// Destination vault: a name (account and region in force) or an ARN.
    #[arg(long, value_name = "NAME|ARN")]
    pub destination_vault: String,
    /// Lifecycle of the copy: delete it after this many days.
    #[arg(long, value_name = "DAYS")]
    pub delete_after_days: Option<u32>,
    /// Lifecycle of the copy: move it to cold storage after this many days.
    #[arg(long, value_name = "DAYS")]
    pub cold_after_days: Option<u32>,
    /// Queue the job for `coffer serve` and return.
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Subcommand)]
pub enum RestoreCommand {
    /// Restore a recovery point to a new place (an existing one only with --force).
    #[command(
        after_help = "Example:\n  coffer restore start --recovery-point RP --target-dir /srv/restore/home\n  coffer restore start --recovery-point RP --target-dir /tmp/r --path docs/report.pdf\n  coffer restore start --recovery-point RP --target-file /var/lib/app/queue.restored.db\n  coffer restore start --recovery-point RP --target-database orders_restored\n  coffer restore start --recovery-point RP --target-database orders --table public.invoices\n\nRP is a recovery point ARN or ID. Databases are restored on the resource's own server."
    )]
    Start(RestoreStart),
    /// Check a recovery point: read its data back and compare it with what was recorded.
    #[command(
        after_help = "Example:\n  coffer restore validate --recovery-point RP\n\nDatabases are restored into a scratch database (dropped afterwards) and\ntheir tables' row counts and checksums compared. Exit 1 when a problem is found."
    )]
    Validate(RestoreValidate),
}

#[derive(Debug, Args)]
pub struct RestoreStart {
    /// Recovery point ARN or ID.
    #[arg(long, value_name = "ARN|ID")]
    pub recovery_point: String,
    /// Directory to restore a file system into.
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
    /// With --target-dir: restore only this path (relative to the backed-up directory).
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// File to restore a SQLite database to.
    #[arg(long, value_name = "FILE")]
    pub target_file: Option<PathBuf>,
    /// Database to restore a PostgreSQL database into (created).
    #[arg(long, value_name = "NAME")]
    pub target_database: Option<String>,
    /// With --target-database: restore only this table (`schema.table` or `table`).
    #[arg(long, value_name = "TABLE")]
    pub table: Option<String>,
    /// Replace an existing target (files, database, or table).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RestoreValidate {
    /// Recovery point ARN or ID.
    #[arg(long, value_name = "ARN|ID")]
    pub recovery_point: String,
}

#[derive(Debug, Subcommand)]
pub enum PointsCommand {
    /// List recovery points (of the account and region in force).
    #[command(
        after_help = "Example:\n  coffer recovery-points list\n  coffer recovery-points list --vault payments-primary -o json"
    )]
    List {
        /// Only this vault.
        #[arg(long, value_name = "NAME")]
        vault: Option<String>,
        /// Only this resource.
        #[arg(long, value_name = "ARN")]
        resource: Option<String>,
        /// Include deleted recovery points.
        #[arg(long)]
        all: bool,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// Show one recovery point in full.
    #[command(after_help = "Example:\n  coffer recovery-points describe RP -o json")]
    Describe {
        /// Recovery point ARN or ID.
        recovery_point: String,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Yaml)]
        output: OutputFormat,
    },
    /// Delete a recovery point (legal holds, vault lock and access policy permitting).
    #[command(
        after_help = "Example:\n  coffer recovery-points delete RP\n\nCoffer acts as config.toml's [defaults] principal; the vault's access policy is evaluated for it."
    )]
    Delete {
        /// Recovery point ARN or ID.
        recovery_point: String,
    },
    /// Change a recovery point's lifecycle (a locked vault allows only lengthening within its bounds).
    #[command(
        name = "update-lifecycle",
        after_help = "Example:\n  coffer recovery-points update-lifecycle RP --delete-after-days 90"
    )]
    UpdateLifecycle {
        /// Recovery point ARN or ID.
        recovery_point: String,
        /// Delete after this many days from creation (omit: keep forever).
        #[arg(long, value_name = "DAYS")]
        delete_after_days: Option<u32>,
        /// Move to cold storage after this many days.
        #[arg(long, value_name = "DAYS")]
        cold_after_days: Option<u32>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum JobKind {
    All,
    Backup,
    Copy,
    Restore,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs, oldest first.
    #[command(
        after_help = "Example:\n  coffer jobs list\n  coffer jobs list --kind backup --state failed -o json"
    )]
    List {
        #[arg(long, value_enum, default_value_t = JobKind::All)]
        kind: JobKind,
        /// Only jobs in this state (COMPLETED, FAILED, RUNNING, ...).
        #[arg(long)]
        state: Option<String>,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// Show one job in full.
    #[command(
        after_help = "Example:\n  coffer jobs describe 7F73B548-5548-4B6E-A349-5445B907CD0E"
    )]
    Describe {
        /// Job ID.
        id: String,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Yaml)]
        output: OutputFormat,
    },
    /// Stop a backup job: a waiting one ends ABORTED at once, a running one
    /// goes ABORTING and the scheduler running it stops it.
    #[command(after_help = "Example:\n  coffer jobs abort 3F2A...")]
    Abort {
        /// Backup job ID.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// The backup jobs the applied plans create in the next hours.
    #[command(
        after_help = "Example:\n  coffer schedule preview\n  coffer schedule preview --hours 168 -o json\n\nEach rule fires in its own time zone; where rules of one plan overlap on a\nresource, one job runs, for the longest retention (MERGED counts the others)."
    )]
    Preview {
        /// How far ahead.
        #[arg(long, default_value_t = 24)]
        hours: u32,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum LifecycleCommand {
    /// One pass of the lifecycle sweeper, now (`coffer serve` runs it on a schedule).
    #[command(
        after_help = "Example:\n  coffer lifecycle sweep --dry-run\n  coffer lifecycle sweep\n\nExpiry is decided by the vault guard: a point under a legal hold is kept.\nSpace is reclaimed in two phases (marked now, removed by a later sweep)."
    )]
    Sweep {
        /// Say what is due without changing anything.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum HoldsCommand {
    /// Create an active legal hold over the recovery points it selects.
    #[command(
        after_help = "Example:\n  coffer legal-holds create --title \"case 2026-17\" --description \"litigation hold\" --vault payments-primary\n  coffer legal-holds create --title t --description d --resource ARN --from 2026-01-01 --to 2026-06-30"
    )]
    Create {
        #[arg(long)]
        title: String,
        #[arg(long)]
        description: String,
        /// Only points in this vault (repeatable; none = every vault).
        #[arg(long = "vault", value_name = "NAME")]
        vaults: Vec<String>,
        /// Only points of this resource (repeatable; none = every resource).
        #[arg(long = "resource", value_name = "ARN")]
        resources: Vec<String>,
        /// Only points created from this date or time.
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Only points created up to this date or time.
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
    },
    /// List legal holds.
    #[command(after_help = "Example:\n  coffer legal-holds list -o json")]
    List {
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// Cancel a legal hold (the record is kept).
    #[command(
        after_help = "Example:\n  coffer legal-holds cancel HOLD-ID --reason \"case closed\""
    )]
    Cancel {
        /// Legal hold ID.
        id: String,
        /// Why the hold ends.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Reclaim the space of deleted recovery points (two-phase).
    #[command(
        after_help = "Example:\n  coffer vault prune payments-primary\n\nData no recovery point needs is marked now and removed by a prune at least\n23 hours later, so a backup running meanwhile is never harmed. Never run\n`restic prune` on a vault."
    )]
    Prune {
        /// Vault name.
        name: String,
    },
    /// Remove snapshots an interrupted job left in a vault (no recovery point records them).
    #[command(
        after_help = "Example:\n  coffer vault reconcile payments-primary --dry-run\n  coffer vault reconcile payments-primary\n\nOnly snapshots Coffer made (tagged coffer-recovery-point:) whose job is not running are removed;\nsnapshots made by hand are never touched."
    )]
    Reconcile {
        /// Vault name.
        name: String,
        /// Say what would be removed without removing it.
        #[arg(long)]
        dry_run: bool,
    },
    /// Check a vault: its structure, and optionally its data read back.
    #[command(
        after_help = "Example:\n  coffer vault check payments-primary\n  coffer vault check payments-primary --read-data 10%\n  coffer vault check payments-primary --read-data 1/7   # with 2/7 .. 7/7 on other days, covers all\n\nExit 1 when a problem is found."
    )]
    Check {
        /// Vault name.
        name: String,
        /// Also read back data: all, a percentage (10%), or n/m.
        #[arg(long, value_name = "SUBSET")]
        read_data: Option<String>,
    },
    /// Print what restic needs to open a vault by hand (after a confirmation).
    #[command(
        after_help = "Example:\n  coffer vault export-key payments-primary\n  coffer vault export-key payments-primary --yes -o json\n\nWith the output, Debian's restic lists, checks and restores the vault with nothing of Coffer installed."
    )]
    ExportKey {
        /// Vault name.
        name: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// Output format (json: {"repository": ..., "password": ...}).
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Run a report plan now and deliver its files with a signed manifest.
    #[command(
        after_help = "Example:\n  coffer report run daily_backups\n  coffer report run compliance --window-hours 168\n\nFiles go to <prefix>/<template>/year=YYYY/month=MM/<report-job-id>/ in the plan's bucket ({home}/buckets/<name> unless config.toml's [report_buckets] says otherwise)."
    )]
    Run {
        /// Report plan name.
        plan: String,
        /// The reporting window: the last this many hours (jobs reports; active jobs always show).
        #[arg(long, value_name = "HOURS", default_value_t = 24)]
        window_hours: u32,
    },
    /// Report jobs, oldest first, with their states and destinations.
    #[command(
        after_help = "Example:\n  coffer report jobs\n  coffer report jobs --plan quickstart_jobs -o json"
    )]
    Jobs {
        /// Only this report plan's jobs.
        #[arg(long, value_name = "NAME")]
        plan: Option<String>,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Evaluate the frameworks' controls now and record what changed.
    #[command(
        after_help = "Example:\n  coffer audit evaluate\n  coffer audit evaluate --framework payments_core -o json\n  coffer audit evaluate --summary -o json\n\nEach result is COMPLIANT, NON_COMPLIANT (with the reason) or INSUFFICIENT_DATA. A result is recorded (with history, in the evidence ledger) when it differs from the current one; each evaluation is recorded with its per-control roll-up."
    )]
    Evaluate {
        /// Only this framework (default: every framework of the account and region).
        #[arg(long, value_name = "NAME")]
        framework: Option<String>,
        /// Only the roll-up per control and framework, not every result.
        #[arg(long)]
        summary: bool,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Check the whole ledger: the hash chain, every checkpoint's root and signature.
    #[command(
        after_help = "Example:\n  coffer evidence verify\n  coffer evidence verify --public-key 3b6a27bc...\n\nExits 1 and names the entry on any edited, removed, reordered or cut-back entry."
    )]
    Verify {
        /// The public key the signatures must verify with (default: this home's signing key).
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
    },
    /// Sign a checkpoint of the ledger now (`coffer serve` signs one every hour).
    #[command(after_help = "Example:\n  coffer evidence checkpoint")]
    Checkpoint,
    /// An inclusion proof of one entry in the newest checkpoint's tree.
    #[command(after_help = "Example:\n  coffer evidence prove 42 -o json")]
    Prove {
        /// The entry's sequence number.
        seq: usize,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Yaml)]
        output: OutputFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the keys (names and versions, never key material).
    #[command(after_help = "Example:\n  coffer keys list")]
    List,
    /// Print the signing key's public key and fingerprint, to hand to auditors.
    #[command(
        after_help = "Example:\n  coffer keys public\n\nAn auditor verifies checkpoints and report manifests with it; the private key never leaves the home."
    )]
    Public,
    /// Create a key; a vault's EncryptionKeyArn (…:key/NAME) names it.
    #[command(after_help = "Example:\n  coffer keys create VaultKey")]
    Create {
        /// Key name (letters, digits, '-', '_', '.').
        name: String,
    },
    /// Add a new version of a key; secrets are re-wrapped, backups are not rewritten.
    #[command(after_help = "Example:\n  coffer keys rotate VaultKey")]
    Rotate {
        /// Key name.
        name: String,
    },
    /// Write the whole keyring, encrypted under a passphrase, to a file.
    #[command(
        after_help = "Example:\n  coffer keys export --to /media/usb/coffer-keys.export\n\nThe passphrase is read from $COFFER_KEYS_PASSPHRASE, or asked twice on the terminal.\nLosing the keyring loses every vault: keep this file and its passphrase safe, apart."
    )]
    Export {
        /// File to write (created with mode 0600).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Restore keys from an export.
    #[command(after_help = "Example:\n  coffer keys import --from /media/usb/coffer-keys.export")]
    Import {
        /// Export file to read.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// Replace keys of the same name that hold different key material.
        #[arg(long)]
        force: bool,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let global = cli.global;
    match cli.command {
        Command::Validate(args) => crate::policy::validate(&global, &args),
        Command::Plan(args) => crate::policy::plan(&global, &args, false).await,
        Command::Apply(args) => crate::policy::plan(&global, &args, true).await,
        Command::Get { kind, output } => crate::get::get(&global, kind, output).await,
        Command::Keys(command) => crate::keys::run(&global, command).await,
        Command::Discover { output } => crate::discover::run(&global, output).await,
        Command::Backup(BackupCommand::Start(args)) => crate::backup::start(&global, &args).await,
        Command::Copy(CopyCommand::Start(args)) => crate::copy::start(&global, &args).await,
        Command::Restore(RestoreCommand::Start(args)) => {
            crate::restore::start(&global, &args).await
        }
        Command::Restore(RestoreCommand::Validate(args)) => {
            crate::restore::validate(&global, &args).await
        }
        Command::RecoveryPoints(command) => crate::points::run(&global, &command).await,
        Command::Jobs(command) => crate::jobs::run(&global, &command).await,
        Command::Metrics => crate::metrics::run(&global).await,
        Command::Quickstart => crate::quickstart::run(&global).await,
        Command::Evidence(command) => crate::evidence::run(&global, command).await,
        Command::Report(ReportCommand::Run { plan, window_hours }) => {
            crate::report::run(&global, &plan, window_hours).await
        }
        Command::Report(ReportCommand::Jobs { plan, output }) => {
            crate::report::jobs(&global, plan.as_deref(), output).await
        }
        Command::Verify {
            path,
            public_key,
            fingerprint,
            endpoint,
        } => crate::report::verify(&global, &path, public_key, fingerprint, endpoint).await,
        Command::Audit(AuditCommand::Evaluate {
            framework,
            summary,
            output,
        }) => crate::audit::evaluate(&global, framework.as_deref(), summary, output).await,
        Command::Serve {
            listen,
            grace_seconds,
        } => crate::serve::run(&global, listen, grace_seconds).await,
        Command::Schedule(ScheduleCommand::Preview { hours, output }) => {
            crate::schedule::preview(&global, hours, output).await
        }
        Command::Lifecycle(LifecycleCommand::Sweep { dry_run }) => {
            crate::sweep::run(&global, dry_run).await
        }
        Command::LegalHolds(command) => crate::holds::run(&global, &command).await,
        Command::Vault(VaultCommand::Prune { name }) => crate::vaults::prune(&global, &name).await,
        Command::Vault(VaultCommand::Reconcile { name, dry_run }) => {
            crate::vaults::reconcile(&global, &name, dry_run).await
        }
        Command::Vault(VaultCommand::Check { name, read_data }) => {
            crate::vaults::check(&global, &name, read_data.as_deref()).await
        }
        Command::Vault(VaultCommand::ExportKey { name, yes, output }) => {
            crate::vaults::export_key(&global, &name, yes, output).await
        }
    }
}
