//! The database URL and TLS to PostgreSQL, by libpq's `sslmode`: `disable` and `prefer` (the
//! default) connect in plain TCP; `require` encrypts every connection (pool, LISTEN,
//! migrations), checking the handshake's signature but not the certificate chain, as libpq
//! does; `verify-ca` also checks the chain against `sslrootcert` (a PEM file of CA
//! certificates); `verify-full` also checks that the certificate names the host connected to.
//! Without `sslrootcert`, libpq's `~/.postgresql/root.crt` is used when it exists.
//! tokio-postgres knows neither `verify-*` nor `sslrootcert`, so they are taken out of the URL
//! here and the rest is its to parse.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use percent_encoding::percent_decode_str;
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{StoreError, StoreResult};

/// How the server's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verify {
    /// `require`: encrypted, any certificate.
    Nothing,
    /// `verify-ca`: a chain to one of these roots.
    Chain(PathBuf),
    /// `verify-full`: a chain to one of these roots, naming the host.
    ChainAndName(PathBuf),
}

/// A parsed database URL: what tokio-postgres connects with, and the TLS it needs (`None`:
/// plain TCP).
#[derive(Clone)]
pub(super) struct Target {
    pub config: tokio_postgres::Config,
    pub tls: Option<MakeRustlsConnect>,
}

impl Target {
    /// `connecting` (a connect to this target) bounded as a whole by its connect timeout: TCP, TLS
    /// and PostgreSQL's start-up. tokio-postgres bounds only the TCP connect, so a server that
    /// accepts and then never answers (a frozen one) would hold a start, a `migrate` or the
    /// LISTEN connection's reconnect for ever.
    pub async fn bounded<T>(
        &self,
        connecting: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> StoreResult<T> {
        let limit = self
            .config
            .get_connect_timeout()
            .copied()
            .unwrap_or(std::time::Duration::from_millis(super::conn::PG_CONNECT_TIMEOUT_MS_DEFAULT));
        match tokio::time::timeout(limit, connecting).await {
            Ok(connected) => Ok(connected?),
            Err(_) => Err(StoreError::Unavailable(format!(
                "PostgreSQL did not finish connecting within {} ms",
                limit.as_millis()
            ))),
        }
    }

    pub fn parse(url: &str) -> StoreResult<Self> {
        let (rest, verify) = take_verification(url)?;
        let mut config = rest
            .parse::<tokio_postgres::Config>()
            .map_err(|e| StoreError::Url(format!("{e} (expected postgres://user@host:port/database)")))?;
        let verify = match verify {
            Some(verify) => {
                config.ssl_mode(SslMode::Require);
                Some(verify)
            }
            None => (config.get_ssl_mode() == SslMode::Require).then_some(Verify::Nothing),
        };
        let tls = verify.map(|verify| connector(&verify)).transpose()?;
        Ok(Self { config, tls })
    }
}

/// Splits `sslmode=verify-*` and `sslrootcert` off a `postgres://` URL's query.
fn take_verification(url: &str) -> StoreResult<(String, Option<Verify>)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None));
    };
    let (mut mode, mut root) = (None, None);
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode_str(value).decode_utf8_lossy().into_owned();
        match key {
            "sslmode" if value.starts_with("verify-") => mode = Some(value),
            "sslrootcert" => root = Some(PathBuf::from(value)),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    let root_path = || -> StoreResult<PathBuf> {
        if let Some(root) = &root {
            return Ok(root.clone());
        }
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        let default = home.join(".postgresql/root.crt");
        if default.is_file() {
            return Ok(default);
        }
        Err(StoreError::Url(
            "sslmode=verify-ca and verify-full need sslrootcert=/path/to/ca.pem (or ~/.postgresql/root.crt)".into(),
        ))
    };
    let verify = match mode.as_deref() {
        None if root.is_some() => {
            return Err(StoreError::Url(
                "sslrootcert is only read with sslmode=verify-ca or verify-full; add one, or drop sslrootcert".into(),
            ));
        }
        None => None,
        Some("verify-ca") => Some(Verify::Chain(root_path()?)),
        Some("verify-full") => Some(Verify::ChainAndName(root_path()?)),
        Some(other) => {
            return Err(StoreError::Url(format!(
                "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
            )));
        }
    };
    Ok((rest, verify))
}

fn connector(verify: &Verify) -> StoreResult<MakeRustlsConnect> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Url(format!("TLS: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = match verify {
        Verify::Nothing => Arc::new(EncryptOnly(provider)),
        Verify::Chain(root) => Arc::new(ChainOnly(webpki(root, provider)?)),
        Verify::ChainAndName(root) => webpki(root, provider)?,
    };
    let client = builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth();
    Ok(MakeRustlsConnect::new(client))
}

/// The standard verifier over the roots in `path`.
fn webpki(path: &Path, provider: Arc<CryptoProvider>) -> StoreResult<Arc<WebPkiServerVerifier>> {
    let fail = |why: String| StoreError::Url(format!("sslrootcert {}: {why}", path.display()));
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(path).map_err(|e| fail(e.to_string()))? {
        roots.add(certificate.map_err(|e| fail(e.to_string()))?).map_err(|e| fail(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(fail("holds no PEM certificate".into()));
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build().map_err(|e| fail(e.to_string()))
}

/// Accepts the server's certificate as presented (libpq `require`), still checking that the
/// handshake was signed by its key.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// libpq `verify-ca`: the chain must reach a trusted root; the name is not checked.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verification_is_taken_out_of_the_url_and_the_rest_kept() {
        let (rest, verify) =
            take_verification("postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&options=-cx%3D1")
                .unwrap();
        assert_eq!(rest, "postgres://u@h/db?options=-cx%3D1");
        assert_eq!(verify, Some(Verify::ChainAndName(PathBuf::from("/tmp/ca.pem"))));
        let (rest, verify) = take_verification("postgres://u@h/db?sslmode=require").unwrap();
        assert_eq!((rest.as_str(), verify), ("postgres://u@h/db?sslmode=require", None));
        assert!(take_verification("postgres://u@h/db?sslrootcert=/x").is_err(), "sslrootcert alone is not ignored");
        assert!(take_verification("postgres://u@h/db?sslmode=verify-fully&sslrootcert=/x").is_err());
        assert!(Target::parse("postgres://u@h/db?sslmode=verify-ca&sslrootcert=/nonexistent.pem").is_err());
    }
}
