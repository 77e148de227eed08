//! The running station's own alarms for the plant systems (MQTT): the reject rate against the
//! p-chart's run rules, and drift of the passed items' scores, each raised once and cleared
//! when the line is back. The same rules as the Reports tab and the window's banner.

use std::time::SystemTime;

use crate::lineio::{AlarmKind, LineAlarm};
use crate::reports::drift::DriftReference;
use crate::reports::spc::LiveMonitor;

/// Passed items per drift period on the running line.
pub const DRIFT_PERIOD_ITEMS: u64 = 500;

/// Watches one station's counters and says when an alarm is raised or cleared.
#[derive(Clone, Debug)]
pub struct AlarmWatch {
    monitor: LiveMonitor,
    run_rule_up: bool,
    drift: DriftReference,
    period_passed: u64,
    period_above: u64,
    drift_up: bool,
}

impl AlarmWatch {
    /// A watch judging drift against `drift` (the model's reference).
    pub fn new(drift: DriftReference) -> AlarmWatch {
        AlarmWatch {
            monitor: LiveMonitor::default(),
            run_rule_up: false,
            drift,
            period_passed: 0,
            period_above: 0,
            drift_up: false,
        }
    }

    /// The model changed: drift is judged against its reference from a fresh period.
    pub fn set_drift_reference(&mut self, drift: DriftReference) {
        self.drift = drift;
        self.period_passed = 0;
        self.period_above = 0;
    }

    /// The reference score a passed item is compared with.
    pub fn drift_score(&self) -> f64 {
        self.drift.score_quantile
    }

    /// Feed the cumulative items and rejects, and this frame's passed items (`above` of them
    /// over the drift reference score). Returns the alarms raised or cleared now.
    pub fn observe(&mut self, items: u64, rejects: u64, passed: u64, above: u64) -> Vec<LineAlarm> {
        let mut out = Vec::new();
        let now = SystemTime::now();
        if self.monitor.update(items, rejects) {
            let alarm = self.monitor.alarm();
            if alarm.is_some() != self.run_rule_up {
                self.run_rule_up = alarm.is_some();
                out.push(match alarm {
                    Some(a) => LineAlarm {
                        kind: AlarmKind::RunRule,
                        raised: true,
                        message: a.message(),
                        details: serde_json::json!({
                            "p": a.p,
                            "p_bar": a.p_bar,
                            "ucl": a.ucl,
                            "rules": a.rules.iter().map(|r| r.number()).collect::<Vec<_>>(),
                        }),
                        at: now,
                    },
                    None => LineAlarm {
                        kind: AlarmKind::RunRule,
                        raised: false,
                        message: "reject rate back in control".into(),
                        details: serde_json::json!({}),
                        at: now,
                    },
                });
            }
        }
        self.period_passed += passed;
        self.period_above += above;
        if self.period_passed >= DRIFT_PERIOD_ITEMS {
            let (n, k) = (self.period_passed, self.period_above);
            self.period_passed = 0;
            self.period_above = 0;
            let drifting = self.drift.drifting(n, k);
            if drifting != self.drift_up {
                self.drift_up = drifting;
                let share = k as f64 / n as f64;
                out.push(LineAlarm {
                    kind: AlarmKind::Drift,
                    raised: drifting,
                    message: if drifting {
                        format!(
                            "score drift: {:.1} % of passed items above the reference (expected {:.1} %)",
                            share * 100.0,
                            self.drift.reference_share() * 100.0
                        )
                    } else {
                        "scores back at the reference".into()
                    },
                    details: serde_json::json!({
                        "passed": n,
                        "above": k,
                        "share": share,
                        "expected_share": self.drift.reference_share(),
                    }),
                    at: now,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jump_in_rejects_raises_once_and_clears() {
        let mut w = AlarmWatch::new(DriftReference::default());
        let (mut items, mut rejects) = (0, 0);
        let mut raised = Vec::new();
        for step in 0..40 {
            items += 50;
            rejects += if step == 30 { 25 } else { 1 };
            raised.extend(w.observe(items, rejects, 0, 0));
        }
        let kinds: Vec<_> = raised.iter().map(|a| (a.kind, a.raised)).collect();
        assert_eq!(
            kinds,
            [(AlarmKind::RunRule, true), (AlarmKind::RunRule, false)]
        );
        assert_eq!(raised[0].details["rules"][0], 1);
    }

    #[test]
    fn passed_items_scoring_high_raise_drift() {
        let mut w = AlarmWatch::new(DriftReference::default());
        // 5 % above the reference: as calibrated, no alarm.
        assert!(w.observe(0, 0, 500, 25).is_empty());
        // 20 %: drift.
        let a = w.observe(0, 0, 500, 100);
        assert_eq!((a[0].kind, a[0].raised), (AlarmKind::Drift, true));
        assert!(w.observe(0, 0, 500, 100).is_empty(), "raised once");
        let a = w.observe(0, 0, 500, 20);
        assert_eq!((a[0].kind, a[0].raised), (AlarmKind::Drift, false));
    }
}
