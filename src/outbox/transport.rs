//! Where outgoing mail goes: SMTP (lettre, pooled, TLS, AUTH) or .eml files.

use crate::config::Security;
use crate::config::settings::{SmtpSettings, TransportKind};
use anyhow::Context;
use lettre::address::Envelope;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;
use std::path::PathBuf;
use std::time::Duration;

/// The retry decision travels with the error.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying later: connection refused, timeouts, 4xx replies.
    #[error("transient delivery failure: {0}")]
    Transient(String),
    /// Will never succeed as it is: 5xx replies, unusable addresses.
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

/// Two implementations, so an enum: SMTP for real, files for the demo and dry runs.
#[derive(Clone)]
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(PathBuf),
}

impl Transport {
    pub fn from_settings(s: &SmtpSettings) -> anyhow::Result<Transport> {
        match s.transport {
            TransportKind::File => {
                let dir = s.file_dir.clone().context("smtp.file_dir is not set")?;
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                Ok(Transport::File(dir))
            }
            TransportKind::Smtp => Ok(Transport::Smtp(smtp(s)?)),
        }
    }

    /// Delivers one rendered message to its envelope.
    pub async fn send(
        &self,
        message_id: &str,
        from: &str,
        to: &str,
        raw: &[u8],
    ) -> Result<(), DeliveryError> {
        let envelope = Envelope::new(
            Some(
                from.parse()
                    .map_err(|e| DeliveryError::Permanent(format!("bad sender {from:?}: {e}")))?,
            ),
            vec![
                to.parse()
                    .map_err(|e| DeliveryError::Permanent(format!("bad recipient {to:?}: {e}")))?,
            ],
        )
        .map_err(|e| DeliveryError::Permanent(e.to_string()))?;
        match self {
            Transport::Smtp(t) => t.send_raw(&envelope, raw).await.map(|_| ()).map_err(|e| {
                if e.is_permanent() {
                    DeliveryError::Permanent(e.to_string())
                } else {
                    DeliveryError::Transient(e.to_string())
                }
            }),
            Transport::File(dir) => write_file(dir, message_id, raw)
                .await
                .map_err(|e| DeliveryError::Transient(format!("{e:#}"))),
        }
    }
}

fn smtp(s: &SmtpSettings) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.clone())
        .port(s.port)
        .timeout(Some(Duration::from_secs(s.timeout_secs)))
        .pool_config(PoolConfig::new().max_size(s.pool_max.max(1)));
    if s.security != Security::Plain {
        let mut params = TlsParameters::builder(s.host.clone());
        if let Some(ca) = &s.ca_file {
            crate::mailbox::tls::ca_certificates(ca)?;
            let pem = std::fs::read(ca).with_context(|| format!("cannot read {}", ca.display()))?;
            params = params.add_root_certificate(
                Certificate::from_pem(&pem)
                    .with_context(|| format!("bad CA file {}", ca.display()))?,
            );
        }
        let params = params.build_rustls().context("cannot set up SMTP TLS")?;
        b = b.tls(match s.security {
            Security::Tls => Tls::Wrapper(params),
            _ => Tls::Required(params),
        });
    }
    if let (Some(user), Some(pw)) = (&s.username, &s.password) {
        b = b.credentials(Credentials::new(
            user.clone(),
            pw.expose_secret().to_string(),
        ));
    }
    Ok(b.build())
}

/// Writes `<message-id>.eml` atomically (temp file, fsync, rename).
async fn write_file(dir: &std::path::Path, message_id: &str, raw: &[u8]) -> anyhow::Result<()> {
    // Our own Message-IDs are hex@domain; anything else is refused as a name.
    if !message_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"@.-_".contains(&b))
    {
        anyhow::bail!("unsafe message id for a file name: {message_id:?}");
    }
    let final_path = dir.join(format!("{message_id}.eml"));
    let tmp = dir.join(format!(".{message_id}.tmp"));
    let raw = raw.to_vec();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(&raw)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &final_path)?;
        Ok(())
    })
    .await
    .context("file transport task failed")?
}
