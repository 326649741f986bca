//! rustls client configuration: system roots plus an optional extra CA file.

use anyhow::Context;
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

pub fn connector(extra_ca: Option<&Path>) -> anyhow::Result<TlsConnector> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // NOTE: a broken system certificate must not stop the daemon; skip it.
        let _ = roots.add(cert);
    }
    if let Some(path) = extra_ca {
        let pem = std::fs::read(path)
            .with_context(|| format!("cannot read CA file {}", path.display()))?;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.with_context(|| format!("bad certificate in {}", path.display()))?;
            roots
                .add(cert)
                .with_context(|| format!("unusable certificate in {}", path.display()))?;
        }
    }
    if roots.is_empty() {
        anyhow::bail!("no trusted root certificates: install ca-certificates or set ca_file");
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("cannot set up TLS")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}
