//! What a staff action (CLI or mail command) returns: done, refused with a
//! reason staff can read, or a storage error that is worth retrying.

/// The error of a staff action. Callers branch: a refusal is answered, a
/// storage error is retried (or reported as a failure).
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The action is not possible; the German text says why.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Storage(#[from] anyhow::Error),
}

pub type ActionResult<T> = Result<T, ActionError>;

/// The application named by staff (reference or id), or a refusal.
pub async fn application(
    tx: &mut crate::store::Tx<'_>,
    reference: &str,
) -> ActionResult<crate::store::applications::Application> {
    match crate::store::applications::find(tx, reference).await? {
        Some(a) => Ok(a),
        None => refuse(format!("{reference}: keine solche Bewerbung")),
    }
}

/// Refuses to act on an application of another programme than `desk`'s.
pub fn same_programme(
    desk: &super::desk::Desk<'_>,
    application: &crate::store::applications::Application,
) -> ActionResult<()> {
    if application.programme == desk.programme.code {
        Ok(())
    } else {
        refuse(format!(
            "{} gehört zum Programm {}, nicht zu {}",
            application.reference, application.programme, desk.programme.code
        ))
    }
}

/// Refuses with a reason.
pub fn refuse<T>(reason: impl Into<String>) -> ActionResult<T> {
    Err(ActionError::Refused(reason.into()))
}
