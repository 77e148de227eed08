//! Where the plant's Kafka brokers are and how to reach them: plain settings, parsed and
//! checked, shared by the station's desk, the publisher and the collector.

use std::path::PathBuf;

/// The plant's Kafka brokers: `HOST:PORT[,HOST:PORT...]`, and TLS when the environment asks
/// for it (see [`KafkaTls::from_vars`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaSpec {
    /// Bootstrap servers, as given.
    pub brokers: String,
    /// TLS to the brokers; `None`: plaintext.
    pub tls: Option<KafkaTls>,
}

/// TLS to the brokers: the brokers' certificates are checked against `ca` (the system's
/// certificate authorities when `None`) and their host names; a client certificate is shown
/// when the brokers ask for one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaTls {
    /// PEM file of the certificate authorities that signed the brokers' certificates.
    pub ca: Option<PathBuf>,
    /// PEM client certificate and its key (mutual TLS), both or neither.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// Switches TLS on (`1`, `true`, `on`) with the system's certificate authorities.
pub const ENV_TLS: &str = "FOODQC_KAFKA_TLS";
/// PEM file of the brokers' certificate authority; switches TLS on.
pub const ENV_CA: &str = "FOODQC_KAFKA_CA";
/// PEM client certificate (with [`ENV_KEY`]); switches TLS on.
pub const ENV_CERT: &str = "FOODQC_KAFKA_CERT";
/// PEM key of the client certificate.
pub const ENV_KEY: &str = "FOODQC_KAFKA_KEY";

impl KafkaSpec {
    /// `HOST:PORT[,HOST:PORT...]`, each port a number from 1 to 65535, with TLS as the
    /// environment says ([`KafkaTls::from_vars`]); the error names the address or the
    /// variable at fault.
    pub fn parse(text: &str) -> Result<KafkaSpec, String> {
        let tls = KafkaTls::from_vars(|name| std::env::var(name).ok())?;
        Self::parse_with(text, tls)
    }

    /// As [`KafkaSpec::parse`], with the brokers' authority `ca` (a PEM file, e.g. from the
    /// window's Plant Kafka setting) when it is not empty: it switches TLS on and takes the
    /// place of [`ENV_CA`]; a client certificate still comes from the environment.
    pub fn parse_with_ca(text: &str, ca: &str) -> Result<KafkaSpec, String> {
        Self::parse_with_ca_from(text, ca, |name| std::env::var(name).ok())
    }

    /// As [`KafkaSpec::parse_with_ca`], the environment read by `get`.
    pub fn parse_with_ca_from(
        text: &str,
        ca: &str,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<KafkaSpec, String> {
        let env = KafkaTls::from_vars(&get)?;
        let ca = ca.trim();
        if ca.is_empty() {
            return Self::parse_with(text, env);
        }
        let path = PathBuf::from(ca);
        std::fs::File::open(&path).map_err(|e| {
            crate::tr!(
                "kafka-tls-ca-file",
                file = path.display().to_string(),
                error = e.to_string()
            )
        })?;
        let tls = KafkaTls {
            ca: Some(path),
            client: env.and_then(|t| t.client),
        };
        Self::parse_with(text, Some(tls))
    }

    /// As [`KafkaSpec::parse`], with TLS given.
    pub fn parse_with(text: &str, tls: Option<KafkaTls>) -> Result<KafkaSpec, String> {
        let mut brokers = Vec::new();
        for part in text.split(',').map(str::trim) {
            let port = part
                .rsplit_once(':')
                .map(|(host, port)| (host, port.parse::<u16>()));
            match port {
                Some((host, Ok(p))) if !host.is_empty() && p != 0 => brokers.push(part),
                _ => return Err(crate::tr!("kafka-bad-address", address = part, all = text)),
            }
        }
        Ok(KafkaSpec {
            brokers: brokers.join(","),
            tls,
        })
    }
}

impl KafkaTls {
    /// TLS from the variables [`ENV_TLS`], [`ENV_CA`], [`ENV_CERT`] and [`ENV_KEY`] as `get`
    /// reads them (the process environment, in a deployment its container's): `None` when
    /// none is set or TLS is switched off. Each file must be readable; the error names the
    /// variable and the file.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Option<KafkaTls>, String> {
        let set = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let switch = match set(ENV_TLS).map(|v| v.trim().to_ascii_lowercase()) {
            None => None,
            Some(v) if matches!(v.as_str(), "1" | "true" | "on" | "yes") => Some(true),
            Some(v) if matches!(v.as_str(), "0" | "false" | "off" | "no") => Some(false),
            Some(v) => {
                return Err(crate::tr!(
                    "kafka-tls-bad-switch",
                    variable = ENV_TLS,
                    value = v
                ));
            }
        };
        let file = |name: &str| -> Result<Option<PathBuf>, String> {
            let Some(v) = set(name) else { return Ok(None) };
            let path = PathBuf::from(v.trim());
            std::fs::File::open(&path).map_err(|e| {
                crate::tr!(
                    "kafka-tls-file",
                    variable = name,
                    file = path.display().to_string(),
                    error = e.to_string()
                )
            })?;
            Ok(Some(path))
        };
        let ca = file(ENV_CA)?;
        let client = match (file(ENV_CERT)?, file(ENV_KEY)?) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(crate::tr!(
                    "kafka-tls-pair",
                    set = ENV_CERT,
                    missing = ENV_KEY
                ));
            }
            (None, Some(_)) => {
                return Err(crate::tr!(
                    "kafka-tls-pair",
                    set = ENV_KEY,
                    missing = ENV_CERT
                ));
            }
        };
        let asked = ca.is_some() || client.is_some();
        Ok(match switch {
            Some(false) => None,
            Some(true) => Some(KafkaTls { ca, client }),
            None => asked.then_some(KafkaTls { ca, client }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(set: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            set.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn an_authority_from_the_setting_switches_tls_on_and_keeps_the_client_pair() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, cert, key) = (
            dir.path().join("ca.pem"),
            dir.path().join("c.pem"),
            dir.path().join("k.pem"),
        );
        for f in [&ca, &cert, &key] {
            std::fs::write(f, "pem").unwrap();
        }
        let none = KafkaSpec::parse_with_ca_from("k1:9092", " ", vars(&[])).unwrap();
        assert_eq!(none.tls, None);
        let env = [
            (ENV_CA, "/nowhere/else.pem"),
            (ENV_CERT, cert.to_str().unwrap()),
            (ENV_KEY, key.to_str().unwrap()),
        ];
        // The environment's own authority is checked first, so it must exist too.
        assert!(
            KafkaSpec::parse_with_ca_from("k1:9092", ca.to_str().unwrap(), vars(&env)).is_err()
        );
        let env = [
            (ENV_CERT, cert.to_str().unwrap()),
            (ENV_KEY, key.to_str().unwrap()),
        ];
        let spec =
            KafkaSpec::parse_with_ca_from("k1:9092", ca.to_str().unwrap(), vars(&env)).unwrap();
        let tls = spec.tls.unwrap();
        assert_eq!(tls.ca.as_deref(), Some(ca.as_path()));
        assert_eq!(tls.client, Some((cert.clone(), key.clone())));
        let missing = dir.path().join("gone.pem");
        let err = KafkaSpec::parse_with_ca_from("k1:9092", missing.to_str().unwrap(), vars(&[]))
            .unwrap_err();
        assert!(err.contains("gone.pem"), "{err}");
    }

    #[test]
    fn tls_is_off_unless_asked_and_each_setting_is_checked() {
        assert_eq!(KafkaTls::from_vars(vars(&[])).unwrap(), None);
        let on = KafkaTls::from_vars(vars(&[(ENV_TLS, "true")])).unwrap();
        assert_eq!(
            on,
            Some(KafkaTls {
                ca: None,
                client: None
            })
        );
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "pem").unwrap();
        let ca_text = ca.to_str().unwrap();
        let with_ca = KafkaTls::from_vars(vars(&[(ENV_CA, ca_text)]))
            .unwrap()
            .unwrap();
        assert_eq!(with_ca.ca.as_deref(), Some(ca.as_path()));
        assert_eq!(
            KafkaTls::from_vars(vars(&[(ENV_CA, ca_text), (ENV_TLS, "off")])).unwrap(),
            None
        );
        let err = KafkaTls::from_vars(vars(&[(ENV_TLS, "maybe")])).unwrap_err();
        assert!(err.contains(ENV_TLS) && err.contains("maybe"), "{err}");
        let err = KafkaTls::from_vars(vars(&[(ENV_CA, "/no/such/ca.pem")])).unwrap_err();
        assert!(
            err.contains(ENV_CA) && err.contains("/no/such/ca.pem"),
            "{err}"
        );
        let err = KafkaTls::from_vars(vars(&[(ENV_CERT, ca_text)])).unwrap_err();
        assert!(err.contains(ENV_KEY), "{err}");
    }
}
