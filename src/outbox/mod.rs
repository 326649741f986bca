//! Outgoing mail: render (Handlebars), compose (MIME), queue (transactional
//! outbox rows) and send (SMTP or files). [`Mailer`] is the one way to write
//! a mail.

pub mod compose;
pub mod health;
pub mod mailer;
pub mod render;
pub mod sender;
pub mod transport;

pub use compose::Composer;
pub use mailer::{Answering, Cap, Letter, Mailer};
pub use render::Templates;
pub use sender::Sender;
pub use transport::{DeliveryError, Transport};

/// Gives the mail queued before the keyed loop token (its stored raw says
/// `X-Postbote-Loop: <instance>` alone) the token for its stored Message-ID,
/// so that its copy is known as postbote's own like any later mail. Run at
/// the daemon's start; returns how many rows were rewritten. A row already
/// sent keeps the bytes that went out.
pub async fn upgrade_loop_headers(
    store: &crate::store::Store,
    key: &compose::LoopKey,
) -> anyhow::Result<usize> {
    let mut done = 0;
    for (id, message_id, raw) in crate::store::outbox::unsent_raws(store).await? {
        if let Some(new) = key.upgrade_raw(&raw, &message_id)
            && crate::store::outbox::replace_unsent_raw(store, id, &new).await?
        {
            done += 1;
        }
    }
    if done > 0 {
        tracing::info!(rows = done, "queued mail given the keyed loop token");
    }
    Ok(done)
}
