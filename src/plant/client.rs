//! The settings every client of the plant's Kafka shares: the brokers, and TLS when the
//! spec has it (librdkafka over OpenSSL; the brokers' names are checked against their
//! certificates).

use rdkafka::ClientConfig;

use super::KafkaSpec;

/// A client configuration for `spec`'s brokers; each client adds its own settings.
pub fn config(spec: &KafkaSpec) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &spec.brokers);
    if let Some(tls) = &spec.tls {
        c.set("security.protocol", "ssl")
            .set("ssl.endpoint.identification.algorithm", "https");
        match &tls.ca {
            Some(ca) => c.set("ssl.ca.location", ca.display().to_string()),
            // The system's certificate authorities, wherever this distribution keeps them.
            None => c.set("ssl.ca.location", "probe"),
        };
        if let Some((cert, key)) = &tls.client {
            c.set("ssl.certificate.location", cert.display().to_string())
                .set("ssl.key.location", key.display().to_string());
        }
    }
    c
}
