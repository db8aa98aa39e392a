//! Mutual TLS between nodes: every node holds a certificate signed by the cluster CA and
//! requires one from its peers.

use std::path::PathBuf;

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::TransportError;

/// The DNS name every node certificate carries (as a subject alternative name) and that
/// clients verify: membership of the cluster is proven by the CA's signature, not by a host
/// name, so nodes can move between addresses.
pub const PEER_TLS_NAME: &str = "rampart-peer";

/// PEM files of a node's TLS identity and the cluster CA.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The cluster CA certificate: peers must present a certificate it signed.
    pub ca_cert: PathBuf,
    /// This node's certificate (SAN `rampart-peer`), signed by the cluster CA.
    pub cert: PathBuf,
    /// This node's private key.
    pub key: PathBuf,
}

#[derive(Clone)]
pub(crate) struct TlsMaterial {
    ca: Certificate,
    identity: Identity,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsMaterial { .. }")
    }
}

impl TlsFiles {
    pub(crate) fn load(&self) -> Result<TlsMaterial, TransportError> {
        let read = |p: &PathBuf| {
            std::fs::read(p).map_err(|e| TransportError::Tls(format!("{}: {e}", p.display())))
        };
        Ok(TlsMaterial {
            ca: Certificate::from_pem(read(&self.ca_cert)?),
            identity: Identity::from_pem(read(&self.cert)?, read(&self.key)?),
        })
    }
}

impl TlsMaterial {
    pub(crate) fn server(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(self.identity.clone())
            .client_ca_root(self.ca.clone())
            .client_auth_optional(false)
    }

    pub(crate) fn client(&self) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(self.ca.clone())
            .identity(self.identity.clone())
            .domain_name(PEER_TLS_NAME)
    }
}
