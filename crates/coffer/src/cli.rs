//! Command-line arguments and dispatch.

use clap::{Parser, Subcommand};

use crate::access_keys::AccessKeysCommand;
use crate::audit::AuditCommand;
use crate::backup::BackupCommand;
use crate::catalog::CatalogCommand;
use crate::context::{Context, Global};
use crate::copy::CopyCommand;
use crate::evidence::EvidenceCommand;
use crate::get::GetKind;
use crate::holds::HoldsCommand;
use crate::jobs::JobsCommand;
use crate::keys::KeysCommand;
use crate::org::OrgCommand;
use crate::output::OutputFormat;
use crate::points::PointsCommand;
use crate::policy::{PolicyArgs, StackArgs};
use crate::report::{ReportCommand, VerifyArgs};
use crate::restore::RestoreCommand;
use crate::schedule::ScheduleCommand;
use crate::sweep::LifecycleCommand;
use crate::vaults::VaultCommand;
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

#[derive(Debug, Subcommand)]
pub enum RestoreTestingCommand {
    /// Run the plan's tests now, as if it fired: each selected resource's
    /// point restored into a scratch target, validated, the target removed.
    #[command(after_help = "Example:\n  coffer restore-testing start --plan weekly_drills")]
    Start {
        /// The restore testing plan's name.
        #[arg(long)]
        plan: String,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// List the restore tests that ran or wait, oldest first, with their
    /// results: validation, restore duration, scratch target deletion.
    #[command(
        after_help = "Example:\n  coffer restore-testing list\n  coffer restore-testing list --plan weekly_drills -o json"
    )]
    List {
        /// Only this restore testing plan's tests.
        #[arg(long)]
        plan: Option<String>,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
}

#[derive(Subcommand, Debug)]
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
    /// Everything in one go on the embedded default: resources, policy, backups, a copy, a restore drill (its restore testing plan run once), compliance, signed reports.
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
    Verify(VerifyArgs),
    /// Audit frameworks: evaluate their controls.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The evidence ledger: verify it, sign a checkpoint, prove an entry.
    #[command(subcommand)]
    Evidence(EvidenceCommand),
    /// The organization: check it, show an account's effective backup policy.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Restore testing: run a restore testing plan's drills now, list the tests with their results.
    #[command(subcommand)]
    RestoreTesting(RestoreTestingCommand),
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
    /// The catalog: rebuild what it lost from the vaults.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Manage the keyring: the keys that wrap every vault's secret.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Access keys that sign AWS Backup API requests, and refused requests.
    #[command(subcommand, name = "access-keys")]
    AccessKeys(AccessKeysCommand),
    /// List objects in the catalog, or show one as it was at a time and its history.
    #[command(
        after_help = "Example:\n  coffer get vaults\n  coffer get plans -o json\n  coffer get resources -o yaml\n  coffer get plans daily --at 2026-11-24T10:00:00Z\n  coffer get plans daily --at 2026-11-24\n  coffer get selections daily/databases --history -o json\n\nA date alone means the end of that day in UTC. The history is kept for vaults, plans,\nselections (named PLAN/SELECTION), frameworks and report plans, in the account and\nregion in force; each version names who wrote it and the ledger entry that commits to it\n(`coffer evidence prove SEQ` proves that entry in a signed checkpoint)."
    )]
    Get {
        /// What to list.
        kind: GetKind,
        /// One object's name (in the account and region in force).
        name: Option<String>,
        /// Show the object as it was at this time (RFC 3339, or a date for the end of that day in UTC).
        #[arg(long, value_name = "TIME", requires = "name")]
        at: Option<String>,
        /// Show every version of the object: time, change, actor, stack, ledger entry.
        #[arg(long, requires = "name", conflicts_with = "at")]
        history: bool,
        /// Output format; json and yaml use the AWS field names.
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
}

/// The one place a command line becomes an operation: every command
/// module is reached from here, and none reaches another.
pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let global = cli.global;
    // `verify` runs where no Coffer home exists too: it never creates one.
    if let Command::Verify(args) = &cli.command {
        return crate::report::verify(&global, args).await;
    }
    let ctx = Context::load(&global)?;
    let ctx = &ctx;
    match cli.command {
        Command::Validate(args) => crate::policy::validate(ctx, &args).await,
        Command::Plan(args) => crate::policy::plan(ctx, &args, false).await,
        Command::Apply(args) => crate::policy::plan(ctx, &args, true).await,
        Command::Keys(command) => crate::keys::run(ctx, command).await,
        Command::AccessKeys(command) => crate::access_keys::run(ctx, command).await,
        Command::Discover { output } => crate::discover::run(ctx, output).await,
        Command::Backup(BackupCommand::Start(args)) => crate::backup::start(ctx, &args).await,
        Command::Copy(CopyCommand::Start(args)) => crate::copy::start(ctx, &args).await,
        Command::Restore(RestoreCommand::Start(args)) => crate::restore::start(ctx, &args).await,
        Command::Restore(RestoreCommand::Validate(args)) => {
            crate::restore::validate(ctx, &args).await
        }
        Command::RecoveryPoints(command) => crate::points::run(ctx, &command).await,
        Command::Jobs(command) => crate::jobs::run(ctx, &command).await,
        Command::Metrics => crate::metrics::run(ctx).await,
        Command::RestoreTesting(RestoreTestingCommand::Start { plan, output }) => {
            crate::restore_testing::start(ctx, &plan, output).await
        }
        Command::RestoreTesting(RestoreTestingCommand::List { plan, output }) => {
            crate::restore_testing::list(ctx, plan.as_deref(), output).await
        }
        Command::Quickstart => crate::quickstart::run(ctx).await,
        Command::Evidence(command) => crate::evidence::run(ctx, &command).await,
        Command::Org(command) => crate::org::run(ctx, &command).await,
        Command::Report(command) => crate::report::run(ctx, &command).await,
        Command::Audit(command) => crate::audit::run(ctx, &command).await,
        Command::Serve {
            listen,
            grace_seconds,
        } => crate::serve::run(ctx, listen, grace_seconds).await,
        Command::Schedule(ScheduleCommand::Preview { hours, output }) => {
            crate::schedule::preview(ctx, hours, output).await
        }
        Command::Lifecycle(LifecycleCommand::Sweep { dry_run }) => {
            crate::sweep::run(ctx, dry_run).await
        }
        Command::LegalHolds(command) => crate::holds::run(ctx, &command).await,
        Command::Vault(command) => crate::vaults::run(ctx, &command).await,
        Command::Catalog(command) => crate::catalog::run(ctx, &command).await,
        Command::Verify(args) => crate::report::verify(&global, &args).await,
        Command::Get {
            kind,
            name: None,
            output,
            ..
        } => crate::get::get(&global, ctx, kind, output).await,
        Command::Get {
            kind,
            name: Some(name),
            at,
            history,
            output,
        } => crate::get::one(ctx, kind, &name, at.as_deref(), history, output).await,
    }
}
