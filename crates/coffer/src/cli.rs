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
pub enum VaultCommand {
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
pub enum KeysCommand {
    /// List the keys (names and versions, never key material).
    #[command(after_help = "Example:\n  coffer keys list")]
    List,
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
        Command::Vault(VaultCommand::ExportKey { name, yes, output }) => {
            crate::vaults::export_key(&global, &name, yes, output).await
        }
    }
}
