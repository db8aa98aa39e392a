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

/// Creates a cluster CA and one certificate per node id under `dir` (`ca.pem`, `ca.key`,
/// `node<ID>.pem`, `node<ID>.key`), for local and test clusters. Production clusters bring
/// certificates from their own CA; any certificate with the SAN `rampart-peer`, signed by the
/// CA every node trusts, works.
pub fn generate_cluster_certs(
    dir: &std::path::Path,
    ids: &[u64],
) -> Result<Vec<(u64, TlsFiles)>, TransportError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let err = |e: rcgen::Error| TransportError::Tls(e.to_string());
    let io = |p: &std::path::Path, e: std::io::Error| {
        TransportError::Tls(format!("{}: {e}", p.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "rampart cluster CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    let ca_key = KeyPair::generate().map_err(err)?;
    let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;
    let ca_path = dir.join("ca.pem");
    let write =
        |p: std::path::PathBuf, text: String| -> Result<std::path::PathBuf, TransportError> {
            std::fs::write(&p, text).map_err(|e| io(&p, e))?;
            Ok(p)
        };
    write(ca_path.clone(), ca_cert.pem())?;
    write(dir.join("ca.key"), ca_key.serialize_pem())?;
    let issuer = Issuer::new(ca_params, ca_key);
    let mut out = Vec::new();
    for &id in ids {
        let mut params = CertificateParams::new(vec![PEER_TLS_NAME.to_owned()]).map_err(err)?;
        params
            .distinguished_name
            .push(DnType::CommonName, format!("rampart node {id}"));
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().map_err(err)?;
        let cert = params.signed_by(&key, &issuer).map_err(err)?;
        let files = TlsFiles {
            ca_cert: ca_path.clone(),
            cert: write(dir.join(format!("node{id}.pem")), cert.pem())?,
            key: write(dir.join(format!("node{id}.key")), key.serialize_pem())?,
        };
        out.push((id, files));
    }
    Ok(out)
}
