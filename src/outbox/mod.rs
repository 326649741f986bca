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
    for (id, message_id, raw) in
        crate::store::outbox::unsent_raws(store, key.old_header().as_bytes()).await?
    {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::outbox::{self as rows, Enqueued, NewMail, Purpose};

    #[tokio::test]
    async fn mail_queued_before_the_keyed_token_gets_it_once_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite")).await.unwrap();
        let key = compose::LoopKey::new("postbote-test", [7; 32]);
        let row = |k: &str, raw: String| NewMail {
            idempotency_key: k.into(),
            message_id: format!("{k}.postbote@ews.test"),
            purpose: Purpose::StaffNotice,
            application_id: None,
            env_from: "projekt@ews.test".into(),
            env_to: "leitung@ews.test".into(),
            subject: "s".into(),
            raw: raw.into_bytes(),
            expires_at: None,
        };
        let old = "From: projekt@ews.test\r\nX-Postbote-Loop: postbote-test\r\n\r\nx\r\n";
        let new = format!(
            "From: projekt@ews.test\r\nX-Postbote-Loop: {}\r\n\r\nx\r\n",
            key.header_value("b.postbote@ews.test")
        );
        let mut tx = store.begin().await.unwrap();
        let mut ids = Vec::new();
        for mail in [row("a", old.into()), row("b", new.clone())] {
            match rows::enqueue(&mut tx, &mail, 5).await.unwrap() {
                Enqueued::Queued(id) => ids.push(id),
                other => panic!("{other:?}"),
            }
        }
        tx.commit().await.unwrap();
        assert_eq!(upgrade_loop_headers(&store, &key).await.unwrap(), 1);
        assert_eq!(upgrade_loop_headers(&store, &key).await.unwrap(), 0);
        let a = String::from_utf8(rows::raw(&store, ids[0]).await.unwrap()).unwrap();
        assert!(
            a.contains(&format!(
                "X-Postbote-Loop: {}\r\n",
                key.header_value("a.postbote@ews.test")
            )),
            "{a}"
        );
        let b = String::from_utf8(rows::raw(&store, ids[1]).await.unwrap()).unwrap();
        assert_eq!(b, new);
    }
}
