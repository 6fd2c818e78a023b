//! How a driver reaches a database server: host, port, user and the
//! password (read from its reference when the endpoint is made, never
//! shown), for a resource's connection details or a declared server.

use coffer_model::{Resource, Server};

use crate::{connection, parse_secret_ref, resolve_secret, DriverError, Result};

/// How to reach a server: host, port, user (each engine has its default
/// when none is given), and the password (resolved).
#[derive(Clone)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub(crate) password: Option<String>,
    /// For messages: the resource or server it belongs to.
    pub label: String,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Endpoint {
    /// The endpoint of a database resource (its connection details).
    ///
    /// # Errors
    /// When a field is missing or the password reference cannot be read.
    pub fn of_resource(resource: &Resource) -> Result<Endpoint> {
        let label = resource.resource_arn.to_string();
        let port = connection(resource, "port")?
            .parse()
            .map_err(|_| DriverError::Resource {
                resource: label.clone(),
                message: "the port in its connection details is not a number".into(),
            })?;
        let password = match resource.connection.get("password") {
            None => None,
            Some(text) => {
                let reference = parse_secret_ref(text).ok_or_else(|| DriverError::Resource {
                    resource: label.clone(),
                    message: "its password reference is neither env:NAME nor file:PATH".into(),
                })?;
                Some(
                    resolve_secret(&reference).map_err(|source| DriverError::Password {
                        resource: label.clone(),
                        source,
                    })?,
                )
            }
        };
        Ok(Endpoint {
            host: connection(resource, "host")?.to_string(),
            port,
            user: resource.connection.get("user").cloned(),
            password,
            label,
        })
    }

    /// The endpoint of an inventory server.
    ///
    /// # Errors
    /// When its password reference cannot be read.
    pub fn of_server(server: &Server) -> Result<Endpoint> {
        let label = format!("server {}", server.name);
        let password = match &server.password {
            None => None,
            Some(reference) => {
                Some(
                    resolve_secret(reference).map_err(|source| DriverError::Password {
                        resource: label.clone(),
                        source,
                    })?,
                )
            }
        };
        Ok(Endpoint {
            host: server.host.clone(),
            port: server.port,
            user: server.user.clone(),
            password,
            label,
        })
    }

    /// A failure of this server, named by its resource or server.
    pub(crate) fn error(&self, message: impl Into<String>) -> DriverError {
        DriverError::Resource {
            resource: self.label.clone(),
            message: message.into(),
        }
    }
}
