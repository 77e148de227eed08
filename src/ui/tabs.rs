//! Small helpers shared by the tabs.

/// A unix-ms timestamp as local-looking `YYYY-MM-DD HH:MM:SS` (UTC).
pub(crate) fn fmt_ts(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| ms.to_string())
}
