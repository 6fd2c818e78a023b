//! Audit frameworks one at a time (CreateFramework, DescribeFramework,
//! ListFrameworks, UpdateFramework, DeleteFramework). A framework created
//! here belongs to no stack and is evaluated like a stack's (the
//! evaluation reads every framework of its account and region); a
//! stack's framework is changed by its template only.

use coffer_catalog::ObjectKind;
use coffer_model::{Arn, Framework, FrameworkControl, Tags};

use crate::caller::{Action, Caller, Target};
use crate::declared::{refuse_errors, Declared};
use crate::error::Result;
use crate::paging::{PageRequest, Paged};
use crate::Service;

/// What UpdateFramework changes; an absent member stays as it is.
#[derive(Clone, Debug, Default)]
pub struct FrameworkChange {
    pub description: Option<String>,
    pub controls: Option<Vec<FrameworkControl>>,
}

impl Service {
    /// Creates a framework of no stack in the caller's account and region.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a framework AWS would refuse (unknown
    /// control, bad parameter or scope, bad name); `AlreadyExists`.
    pub async fn create_framework(
        &self,
        caller: &Caller,
        name: &str,
        description: Option<String>,
        controls: Vec<FrameworkControl>,
        tags: Tags,
    ) -> Result<Declared<Framework>> {
        self.authorize(caller, Action::CreateFramework, Target::Account)?;
        let framework = Framework {
            framework_name: name.to_string(),
            framework_description: description.unwrap_or_default(),
            framework_controls: controls,
            framework_tags: tags,
        };
        refuse_errors(framework.validate(), &format!("framework {name:?}"))?;
        let arn = Arn::framework(&caller.region, &caller.account, name).to_string();
        self.create_declared(
            caller,
            ObjectKind::Framework,
            name,
            arn,
            serde_json::to_value(&framework)?,
        )
        .await?;
        tracing::info!(framework = %name, principal = %caller.principal, "framework created");
        self.declared(caller, ObjectKind::Framework, name).await
    }

    /// One framework of the caller's account and region, a stack's or not.
    ///
    /// # Errors
    /// `ResourceNotFound`.
    pub async fn describe_framework(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<Declared<Framework>> {
        self.authorize(caller, Action::DescribeFramework, Target::Account)?;
        self.declared(caller, ObjectKind::Framework, name).await
    }

    /// The frameworks of the caller's account and region in name order, a
    /// page at a time.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a bad page request.
    pub async fn list_frameworks(
        &self,
        caller: &Caller,
        page: &PageRequest,
    ) -> Result<Paged<Declared<Framework>>> {
        self.authorize(caller, Action::ListFrameworks, Target::Account)?;
        self.declared_page(caller, ObjectKind::Framework, "ListFrameworks", page)
            .await
    }

    /// Changes a framework of no stack: its description, its controls.
    ///
    /// # Errors
    /// `ResourceNotFound`; `Conflict` for a stack's framework (naming the
    /// stack) or one changed meanwhile; `InvalidParameterValue`.
    pub async fn update_framework(
        &self,
        caller: &Caller,
        name: &str,
        change: FrameworkChange,
    ) -> Result<Declared<Framework>> {
        self.authorize(caller, Action::UpdateFramework, Target::Account)?;
        let stored = self
            .declared_row(caller, ObjectKind::Framework, name)
            .await?;
        Self::unowned(&stored, "change")?;
        let mut framework: Framework = serde_json::from_value(stored.doc.clone())?;
        if let Some(description) = change.description {
            framework.framework_description = description;
        }
        if let Some(controls) = change.controls {
            framework.framework_controls = controls;
        }
        refuse_errors(framework.validate(), &format!("framework {name:?}"))?;
        self.update_declared(caller, &stored, &serde_json::to_value(&framework)?)
            .await?;
        self.declared(caller, ObjectKind::Framework, name).await
    }

    /// Deletes a framework of no stack. Its recorded results stay in the
    /// catalog and the ledger; it is evaluated no more.
    ///
    /// # Errors
    /// `ResourceNotFound`; `Conflict` for a stack's framework.
    pub async fn delete_framework(&self, caller: &Caller, name: &str) -> Result<()> {
        self.authorize(caller, Action::DeleteFramework, Target::Account)?;
        let stored = self
            .declared_row(caller, ObjectKind::Framework, name)
            .await?;
        self.delete_declared(caller, &stored).await
    }
}
