//! Reject crops to the plant (`foodqc.rejects`, optional): the outbox row names the saved
//! crop and the size limit; here the crop becomes the message: JPEG bytes as the value, the
//! record's fields as headers. A crop that is gone or over the limit is not sent; the row is
//! settled with the reason (the inspection itself reaches the plant on its own topic).

use rdkafka::message::{Header, OwnedHeaders};

use crate::store::OutboxRow;

/// The schema of a reject crop message (header `schema`).
pub const REJECT_SCHEMA: &str = "foodqc.reject/1";
/// JPEG quality of a crop: defects stay visible, a crop stays a few KiB.
const QUALITY: u8 = 85;

/// A crop ready to send: the JPEG and the headers.
pub struct CropMessage {
    /// JPEG bytes.
    pub jpeg: Vec<u8>,
    /// `schema`, and `record`: the JSON of the reject (station, id, ts_ms, frame, item,
    /// score, defect_class, lot, model_version).
    pub headers: OwnedHeaders,
}

/// The message for reject-crop row `row`, or why it is not sent (names the crop).
pub fn prepare(row: &OutboxRow) -> Result<CropMessage, String> {
    let mut record: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&row.payload).map_err(|e| format!("outbox row {}: {e}", row.id))?;
    let crop = record
        .remove("crop")
        .and_then(|c| c.as_str().map(str::to_string))
        .ok_or_else(|| format!("outbox row {}: no crop", row.id))?;
    let max_bytes = record
        .remove("max_bytes")
        .and_then(|m| m.as_u64())
        .ok_or_else(|| format!("outbox row {}: no max_bytes", row.id))?;
    let image = crate::imageio::load_rgb(std::path::Path::new(&crop)).map_err(|e| e.to_string())?;
    let jpeg = crate::imageio::jpeg_bytes(&image, QUALITY).map_err(|e| format!("{crop}: {e}"))?;
    if jpeg.len() as u64 > max_bytes {
        return Err(crate::tr!(
            "kafka-crop-too-large",
            crop = crop,
            bytes = jpeg.len(),
            limit = max_bytes
        ));
    }
    let record = serde_json::Value::Object(record).to_string();
    let headers = OwnedHeaders::new()
        .insert(Header {
            key: "schema",
            value: Some(REJECT_SCHEMA),
        })
        .insert(Header {
            key: "record",
            value: Some(record.as_str()),
        });
    Ok(CropMessage { jpeg, headers })
}
