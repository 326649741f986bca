//! rustls client configuration: system roots plus an optional extra CA file.

use anyhow::Context;
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// The PEM certificates in a CA file; an error when there is none (a DER file,
/// a key file or an empty file would otherwise be accepted silently).
pub fn ca_certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem =
        std::fs::read(path).with_context(|| format!("cannot read CA file {}", path.display()))?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("bad certificate in CA file {}", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("no PEM certificate in CA file {}", path.display());
    }
    Ok(certs)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_without_pem_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let der = dir.path().join("ca.der");
        std::fs::write(&der, [0x30, 0x82, 0x01, 0x0a, 0x02]).unwrap();
        for path in [&empty, &der] {
            let e = ca_certificates(path).unwrap_err().to_string();
            assert!(e.contains("no PEM certificate"), "{e}");
        }
        assert!(ca_certificates(&dir.path().join("missing.pem")).is_err());
    }
}
