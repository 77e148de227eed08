//! A plant decision's seal ([`crate::store::plant_key`]) as Kafka headers, both ways: the
//! publisher writes them, the station's command listener reads them.

use rdkafka::message::{BorrowedHeaders, Header, Headers, OwnedHeaders};

use crate::store::plant_key::{KEY_HEADER, MessageSeal, SIGNATURE_HEADER};

/// The headers that carry `seal`.
pub fn to_headers(seal: &MessageSeal) -> OwnedHeaders {
    OwnedHeaders::new()
        .insert(Header {
            key: KEY_HEADER,
            value: Some(seal.key.as_bytes()),
        })
        .insert(Header {
            key: SIGNATURE_HEADER,
            value: Some(seal.signature.as_bytes()),
        })
}

/// The seal in a message's headers, `None` when it has none (or only half of one).
pub fn from_headers(headers: Option<&BorrowedHeaders>) -> Option<MessageSeal> {
    let headers = headers?;
    let text = |name: &str| {
        headers
            .iter()
            .find(|h| h.key == name)
            .and_then(|h| h.value)
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::to_string)
    };
    Some(MessageSeal {
        key: text(KEY_HEADER)?,
        signature: text(SIGNATURE_HEADER)?,
    })
}
