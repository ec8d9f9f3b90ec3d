//! `ThrowawayCa`: a certificate authority and a server certificate for
//! `127.0.0.1` / `localhost`, made with the `openssl` command in a temporary
//! directory, for TLS tests. Never for anything but loopback tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{TestServerError, on_path};

/// A CA (`ca.crt`) and a server certificate it signed (`server.crt`,
/// `server.key`), valid for one day for `127.0.0.1` and `localhost`.
#[derive(Debug)]
pub struct ThrowawayCa {
    dir: tempfile::TempDir,
}

impl ThrowawayCa {
    /// Makes the files with `openssl` (`NotInstalled` when it is not on
    /// `PATH`).
    pub fn generate() -> Result<Self, TestServerError> {
        let openssl = on_path("openssl").ok_or(TestServerError::NotInstalled)?;
        let dir = tempfile::Builder::new()
            .prefix("palisade-redis-tls-")
            .tempdir()
            .map_err(TestServerError::TempDir)?;
        let ca = Self { dir };
        std::fs::write(
            ca.path("server.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .map_err(TestServerError::TempDir)?;
        let steps: [&[&str]; 3] = [
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=palisade throwaway test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
            ],
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ],
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "1",
                "-extfile",
                "server.ext",
                "-out",
                "server.crt",
            ],
        ];
        for args in steps {
            let output = Command::new(&openssl)
                .args(args)
                .current_dir(ca.dir.path())
                .stdin(Stdio::null())
                .output()
                .map_err(|err| ca.failed(&openssl, format!("openssl {}: {err}", args[0])))?;
            if !output.status.success() {
                return Err(ca.failed(
                    &openssl,
                    format!(
                        "openssl {} failed: {}",
                        args.join(" "),
                        String::from_utf8_lossy(&output.stderr).trim()
                    ),
                ));
            }
        }
        Ok(ca)
    }

    /// The CA certificate (PEM): what a client trusts.
    pub fn ca_certificate(&self) -> PathBuf {
        self.path("ca.crt")
    }

    /// The server certificate (PEM).
    pub fn server_certificate(&self) -> PathBuf {
        self.path("server.crt")
    }

    /// The server's private key (PEM).
    pub fn server_key(&self) -> PathBuf {
        self.path("server.key")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn failed(&self, openssl: &Path, reason: String) -> TestServerError {
        TestServerError::DidNotStart {
            path: openssl.to_owned(),
            port: 0,
            reason,
        }
    }
}
