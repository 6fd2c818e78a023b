//! Accounts are scopes. Every operation runs for its caller's account;
//! only the organization's management account and its backup delegated
//! administrator (from the organization as last applied) may act on member
//! accounts: list and describe their jobs, recovery points and protected
//! resources (AWS's `ByAccountId`, `*` for every account of the
//! organization), and evaluate frameworks across them.
//!
//! The caller's own account is the account its principal belongs to (the
//! account in its ARN: an API key's user, the CLI's configured principal);
//! the account it acts on is [`Caller::account`]. A principal of no
//! account of the organization (the machine's administrator, whose
//! configured principal names another account) acts as the account it acts
//! on. Without an applied organization every account stands alone, and
//! the machine's administrator acts on any account as before.

use coffer_model::Arn;

use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::Service;

/// The accounts an operation covers, as the caller may see them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountScope {
    /// Account IDs, in order; empty when what was asked for is not the
    /// caller's to see (AWS filters it out rather than refusing).
    pub accounts: Vec<String>,
}

impl AccountScope {
    /// Whether `account` is in scope.
    pub fn covers(&self, account: &str) -> bool {
        self.accounts.iter().any(|a| a == account)
    }
}

/// The account the caller's principal belongs to.
pub fn home_account(caller: &Caller) -> String {
    Arn::parse(&caller.principal)
        .ok()
        .map(|arn| arn.account().to_string())
        .filter(|account| account.len() == 12)
        .unwrap_or_else(|| caller.account.to_string())
}

impl Service {
    /// The accounts `caller` covers when it asks for `requested` (`None`:
    /// the account it acts on; `*`: every account of the organization; an
    /// account ID). The management account and the backup delegated
    /// administrator get what they ask for; any other caller sees only its
    /// own account: `*` is its own account, another account is filtered
    /// out (an empty scope).
    ///
    /// # Errors
    /// `AccessDenied` when the caller acts on an account of the
    /// organization other than its principal's, and that account is
    /// neither the management account nor the delegated administrator;
    /// `InvalidParameterValue` for an account ID that is neither 12 digits
    /// nor `*`; catalog errors.
    pub async fn account_scope(
        &self,
        caller: &Caller,
        requested: Option<&str>,
    ) -> Result<AccountScope> {
        if let Some(asked) = requested.filter(|a| *a != "*") {
            coffer_model::AccountId::new(asked).map_err(|err| {
                Error::invalid_parameter(format!("{err}; or give * for every account"))
            })?;
        }
        let acting = caller.account.to_string();
        let home = home_account(caller);
        let org = self
            .applied_organization(caller)
            .await?
            .map(|applied| applied.organization);
        // Without an organization every account stands alone.
        if let Some(org) = &org {
            let in_org = |account: &str| org.accounts.iter().any(|a| a.id.as_str() == account);
            // A principal of no account of the organization (the machine's
            // administrator) acts as the account it acts on.
            let home = if in_org(&home) { home } else { acting.clone() };
            if org.administers(&home) {
                let accounts = match requested {
                    None => vec![acting],
                    Some("*") => org.accounts.iter().map(|a| a.id.to_string()).collect(),
                    Some(asked) if in_org(asked) || asked == acting => vec![asked.to_string()],
                    Some(_) => Vec::new(),
                };
                return Ok(AccountScope { accounts });
            }
            if acting != home {
                return Err(Error::access_denied(format!(
                    "{} belongs to account {home}, which acts only on its own account, not on account {acting} of the organization; only the management account or the backup delegated administrator acts on member accounts",
                    caller.principal
                )));
            }
        }
        let accounts = match requested {
            None | Some("*") => vec![acting],
            Some(asked) if asked == acting => vec![acting],
            Some(_) => Vec::new(),
        };
        Ok(AccountScope { accounts })
    }
}
