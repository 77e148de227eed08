//! Where the plant's Kafka brokers are: plain settings, parsed and checked, shared by the
//! station's desk, the publisher and the collector.

/// The plant's Kafka brokers: `HOST:PORT[,HOST:PORT...]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaSpec {
    /// Bootstrap servers, as given.
    pub brokers: String,
}

impl KafkaSpec {
    /// `HOST:PORT[,HOST:PORT...]`, each port a number from 1 to 65535; the error names the
    /// address at fault.
    pub fn parse(text: &str) -> Result<KafkaSpec, String> {
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
        })
    }
}
