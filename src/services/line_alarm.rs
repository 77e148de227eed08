//! The running line's out-of-control alarm: the station counters fed into a
//! [`LiveMonitor`]; a new alarm is raised once (with the details to log), and cleared when
//! the line is back in control. The front end shows [`LineWatch::alarm`] whichever tab is up.

use crate::reports::spc::{LiveAlarm, LiveMonitor};
use crate::station::StationStats;

/// Audit action of a raised alarm.
pub const ALARM_ACTION: &str = "line.alarm";
/// Actor the alarm is logged under (the program itself, not a person).
pub const ALARM_ACTOR: &str = "system";

/// Watches the station counters for an out-of-control reject rate.
#[derive(Clone, Debug, Default)]
pub struct LineWatch {
    monitor: LiveMonitor,
    alarm: Option<LiveAlarm>,
}

impl LineWatch {
    /// Feed the latest counters. Returns the audit details of an alarm that has just been
    /// raised (once per alarm; log them), else `None`.
    pub fn watch(&mut self, stats: &StationStats) -> Option<serde_json::Value> {
        if !self.monitor.update(stats.items, stats.rejects) {
            return None;
        }
        let alarm = self.monitor.alarm();
        let raised = match (&alarm, &self.alarm) {
            (Some(a), None) => {
                let msg = a.message();
                tracing::warn!(lot = %stats.lot, "{msg}");
                Some(serde_json::json!({
                    "lot": stats.lot,
                    "source": stats.source,
                    "p": a.p,
                    "p_bar": a.p_bar,
                    "ucl": a.ucl,
                    "rules": a.rules.iter().map(|r| r.number()).collect::<Vec<_>>(),
                    "message": msg,
                }))
            }
            _ => None,
        };
        self.alarm = alarm;
        raised
    }

    /// The alarm while the line is out of control.
    pub fn alarm(&self) -> Option<&LiveAlarm> {
        self.alarm.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_control_line_raises_one_alarm_and_clears() {
        let mut w = LineWatch::default();
        let mut stats = StationStats {
            lot: "L9".into(),
            ..Default::default()
        };
        assert!(w.watch(&stats).is_none());
        // Twenty subgroups of 50 items at 2 % rejects: in control.
        for _ in 0..20 {
            stats.items += 50;
            stats.rejects += 1;
            assert!(w.watch(&stats).is_none());
            assert!(w.alarm().is_none());
        }
        // Then 20 of 50 rejected: beyond 3 sigma. Raised once; it stays up for the next
        // frames (same counters).
        stats.items += 50;
        stats.rejects += 20;
        let details = w.watch(&stats).expect("raised");
        for _ in 0..2 {
            assert!(w.watch(&stats).is_none());
        }
        let alarm = w.alarm().cloned().expect("alarm");
        assert!(alarm.message().contains("40.0 %"), "{}", alarm.message());
        assert_eq!(details["lot"], "L9");
        assert_eq!(details["rules"][0], 1);
        // Back to normal: the alarm clears.
        for _ in 0..2 {
            stats.items += 50;
            stats.rejects += 1;
            w.watch(&stats);
        }
        assert!(w.alarm().is_none());
    }
}
