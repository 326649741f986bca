//! The preview of held notices before release: the count, the recipients and
//! the rendered text (as pretalx shows before it sends).

use crate::store::Tx;
use crate::store::outbox::{self, Purpose};
use crate::workflow::desk::Desk;
use mail_parser::MessageParser;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct HeldNotice {
    pub id: i64,
    pub purpose: Purpose,
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// Every held notice of `desk`'s programme with its plain text.
pub async fn held(desk: &Desk<'_>, tx: &mut Tx<'_>) -> anyhow::Result<Vec<HeldNotice>> {
    Ok(outbox::held(tx, &super::batch(desk))
        .await?
        .into_iter()
        .map(|h| HeldNotice {
            text: MessageParser::default()
                .parse(&h.raw)
                .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
                .unwrap_or_default(),
            id: h.id,
            purpose: h.purpose,
            to: h.env_to,
            subject: h.subject,
        })
        .collect())
}

/// The preview as text: a summary line, then each mail.
pub fn render(notices: &[HeldNotice]) -> String {
    let mut out = format!("{} notice(s) held for release\n", notices.len());
    for n in notices {
        out.push_str(&format!(
            "\n=== #{} {} to {}\nSubject: {}\n\n{}\n",
            n.id, n.purpose, n.to, n.subject, n.text
        ));
    }
    out
}
