//! The serving certificate, reloaded when its files change (cert-manager
//! rotates the Secret; the kubelet swaps the mounted files): new TLS
//! handshakes get the new certificate, open connections keep theirs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::whole_file;

/// The certificate and key files and what was last read from them.
#[derive(Debug)]
pub struct Certificates {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    fingerprint: Mutex<u64>,
}

impl Certificates {
    /// Reads the files; an error names the file and what is wrong.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Arc<Certificates>, String> {
        let (key, fingerprint) = read(cert_path, key_path)?;
        Ok(Arc::new(Certificates {
            cert_path: cert_path.to_owned(),
            key_path: key_path.to_owned(),
            current: RwLock::new(Arc::new(key)),
            fingerprint: Mutex::new(fingerprint),
        }))
    }

    /// Reads the files again: `Ok(true)` when they changed and the new pair
    /// is in service, `Ok(false)` when they did not change, `Err` when the
    /// new files are unusable (the old pair stays in service).
    pub fn reload(&self) -> Result<bool, String> {
        let unchanged = fingerprint(&self.cert_path, &self.key_path)
            .is_ok_and(|f| self.fingerprint.lock().is_ok_and(|last| *last == f));
        if unchanged {
            return Ok(false);
        }
        let (key, fingerprint) = read(&self.cert_path, &self.key_path).inspect_err(|_| {
            // Do not retry the same broken files every interval: wait for
            // the next change.
            if let (Ok(f), Ok(mut last)) = (
                self::fingerprint(&self.cert_path, &self.key_path),
                self.fingerprint.lock(),
            ) {
                *last = f;
            }
        })?;
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(key);
        }
        if let Ok(mut last) = self.fingerprint.lock() {
            *last = fingerprint;
        }
        Ok(true)
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|key| Arc::clone(&key))
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server configuration that asks `certificates` at every handshake and
/// speaks HTTP/2 and HTTP/1.1 (the API server uses either).
pub fn server_config(certificates: Arc<Certificates>) -> Result<Arc<ServerConfig>, String> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(certificates);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The certificate's or the key's bytes, at most [`whole_file::LIMIT`].
fn read_pem(what: &str, path: &Path) -> Result<Vec<u8>, String> {
    whole_file::read(path, whole_file::LIMIT)
        .map_err(|e| format!("reading the TLS {what} {}: {e}", path.display()))
}

fn fingerprint(cert_path: &Path, key_path: &Path) -> Result<u64, String> {
    let cert = read_pem("certificate", cert_path)?;
    let key = read_pem("key", key_path)?;
    Ok(crate::hash::fnv1a64(&[cert, key].concat()))
}

fn read(cert_path: &Path, key_path: &Path) -> Result<(CertifiedKey, u64), String> {
    let cert_pem = read_pem("certificate", cert_path)?;
    let key_pem = read_pem("key", key_path)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            format!(
                "the TLS certificate {} is not PEM: {e}",
                cert_path.display()
            )
        })?;
    if chain.is_empty() {
        return Err(format!(
            "the TLS certificate {} holds no CERTIFICATE block",
            cert_path.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        format!(
            "the TLS key {} is not a PEM private key: {e}",
            key_path.display()
        )
    })?;
    let certified = CertifiedKey::from_der(chain, key, &provider()).map_err(|e| {
        format!(
            "the TLS certificate {} and key {} do not belong together: {e}",
            cert_path.display(),
            key_path.display()
        )
    })?;
    Ok((
        certified,
        crate::hash::fnv1a64(&[cert_pem, key_pem].concat()),
    ))
}
