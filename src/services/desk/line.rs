//! The line outputs setting: which PLCs and MQTT brokers the station's decisions go to, and
//! reject on doubt. An admin's change (ManageSettings), checked address by address, audited
//! with the old and new values, then handed to the front end to restart the station with.

use super::event::Event;
use super::status::{Status, Topic};
use super::worker::{DeskError, Worker};
use crate::domain::Permission;
use crate::lineio::LineOutputSpec;

/// Audit action of a changed line outputs setting.
pub const LINE_OUTPUTS_ACTION: &str = "station.line_outputs";

impl Worker {
    pub(super) fn set_line_outputs(
        &mut self,
        plc: &[String],
        mqtt: &[String],
        reject_on_doubt: bool,
        kafka: &str,
        kafka_ca: &str,
    ) -> Result<(), DeskError> {
        let user = self.user_for(Permission::ManageSettings)?;
        let clean = |urls: &[String]| -> Vec<String> {
            urls.iter()
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty())
                .collect()
        };
        let (plc, mqtt) = (clean(plc), clean(mqtt));
        let mut outputs = Vec::new();
        for url in &plc {
            outputs
                .push(LineOutputSpec::parse_plc(url).map_err(|e| DeskError::Other(e.to_string()))?);
        }
        for url in &mqtt {
            outputs.push(
                LineOutputSpec::parse_mqtt(url).map_err(|e| DeskError::Other(e.to_string()))?,
            );
        }
        let kafka = Some(kafka.trim())
            .filter(|k| !k.is_empty())
            .map(|k| crate::domain::KafkaSpec::parse_with_ca(k, kafka_ca))
            .transpose()
            .map_err(DeskError::Other)?;
        self.store()?.audit(
            &user.name,
            LINE_OUTPUTS_ACTION,
            serde_json::json!({
                "plc": plc,
                "mqtt": mqtt,
                "reject_on_doubt": reject_on_doubt,
                "kafka": kafka.as_ref().map(|k| k.brokers.as_str()),
                "kafka_ca": Some(kafka_ca.trim()).filter(|c| !c.is_empty()),
            }),
        )?;
        let n = (plc.len() + mqtt.len() + usize::from(kafka.is_some())) as u64;
        self.sink.emit(Event::LineOutputs {
            outputs,
            reject_on_doubt,
            kafka,
            kafka_ca: kafka_ca.trim().to_string(),
        });
        self.sink.status(
            Topic::Line,
            Status::Done(crate::tr!("desk-line-outputs-set", n = n)),
        );
        Ok(())
    }
}
