//! Statistical process control for the reject proportion: the p-chart and the Western Electric
//! run rules.
//!
//! Each point is one subgroup (a lot, an hour, a block of items on the live line) with `n`
//! items of which `d` were rejected. The centre line is the pooled proportion
//! `p̄ = Σd / Σn`; each point has its own limits `p̄ ± 3·sqrt(p̄(1−p̄)/n_i)` clamped to [0, 1],
//! so small subgroups get wide limits. The run rules work on the standardised value
//! `z_i = (p_i − p̄) / sqrt(p̄(1−p̄)/n_i)`, which makes zones comparable across sizes.

use serde::Serialize;

/// One Western Electric rule. A violation is flagged on the point that completes the pattern,
/// and only when that point is itself on the offending side (so a run is reported once it
/// forms, not again for an old point).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Rule {
    /// Rule 1: one point beyond 3 sigma.
    Beyond3Sigma,
    /// Rule 2: two of three consecutive points beyond 2 sigma on the same side.
    TwoOfThreeBeyond2Sigma,
    /// Rule 3: four of five consecutive points beyond 1 sigma on the same side.
    FourOfFiveBeyond1Sigma,
    /// Rule 4: eight consecutive points on the same side of the centre line.
    EightOnOneSide,
}

impl Rule {
    /// Short text for tables and alarms, in the language in force.
    pub fn describe(self) -> String {
        match self {
            Rule::Beyond3Sigma => crate::tr!("spc-rule-1"),
            Rule::TwoOfThreeBeyond2Sigma => crate::tr!("spc-rule-2"),
            Rule::FourOfFiveBeyond1Sigma => crate::tr!("spc-rule-3"),
            Rule::EightOnOneSide => crate::tr!("spc-rule-4"),
        }
    }

    /// The rule number (1-4).
    pub fn number(self) -> u8 {
        match self {
            Rule::Beyond3Sigma => 1,
            Rule::TwoOfThreeBeyond2Sigma => 2,
            Rule::FourOfFiveBeyond1Sigma => 3,
            Rule::EightOnOneSide => 4,
        }
    }
}

/// One subgroup on the chart.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PPoint {
    /// What the point is (lot code, hour).
    pub label: String,
    /// Items in the subgroup.
    pub n: u64,
    /// Rejected items.
    pub rejects: u64,
    /// Reject proportion `rejects / n`.
    pub p: f64,
    /// Upper control limit for this point's size (at most 1).
    pub ucl: f64,
    /// Lower control limit for this point's size (at least 0).
    pub lcl: f64,
    /// Standardised distance from the centre line in sigmas (0 when sigma is 0).
    pub z: f64,
    /// Run rules this point completes.
    pub violations: Vec<Rule>,
}

impl PPoint {
    /// True when any run rule flags the point.
    pub fn out_of_control(&self) -> bool {
        !self.violations.is_empty()
    }
}

/// A p-chart.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PChart {
    /// Centre line: the pooled reject proportion.
    pub p_bar: f64,
    /// The points, in order.
    pub points: Vec<PPoint>,
}

impl PChart {
    /// Build the chart from `(label, n, rejects)` subgroups in time order. Subgroups with
    /// `n = 0` are skipped (they carry no proportion).
    pub fn new(subgroups: impl IntoIterator<Item = (String, u64, u64)>) -> Self {
        let groups: Vec<(String, u64, u64)> =
            subgroups.into_iter().filter(|(_, n, _)| *n > 0).collect();
        let total_n: u64 = groups.iter().map(|g| g.1).sum();
        let total_d: u64 = groups.iter().map(|g| g.2.min(g.1)).sum();
        let p_bar = if total_n == 0 {
            0.0
        } else {
            total_d as f64 / total_n as f64
        };
        Self::with_centre(groups, p_bar)
    }

    /// Build the chart against a known centre line `p_bar` (e.g. from a baseline period)
    /// instead of the pooled proportion of these subgroups.
    pub fn with_centre(
        subgroups: impl IntoIterator<Item = (String, u64, u64)>,
        p_bar: f64,
    ) -> Self {
        let mut points: Vec<PPoint> = subgroups
            .into_iter()
            .filter(|(_, n, _)| *n > 0)
            .map(|(label, n, d)| {
                let d = d.min(n);
                let p = d as f64 / n as f64;
                let sigma = (p_bar * (1.0 - p_bar) / n as f64).sqrt();
                let z = if sigma > 0.0 {
                    (p - p_bar) / sigma
                } else {
                    0.0
                };
                PPoint {
                    label,
                    n,
                    rejects: d,
                    p,
                    ucl: (p_bar + 3.0 * sigma).min(1.0),
                    lcl: (p_bar - 3.0 * sigma).max(0.0),
                    z,
                    violations: Vec::new(),
                }
            })
            .collect();
        let z: Vec<f64> = points.iter().map(|p| p.z).collect();
        for (pt, v) in points.iter_mut().zip(western_electric(&z)) {
            pt.violations = v;
        }
        PChart { p_bar, points }
    }

    /// Points flagged by any rule.
    pub fn out_of_control(&self) -> impl Iterator<Item = &PPoint> {
        self.points.iter().filter(|p| p.out_of_control())
    }
}

/// The Western Electric rules over standardised points: for each point, the rules it
/// completes (see [`Rule`]).
pub fn western_electric(z: &[f64]) -> Vec<Vec<Rule>> {
    let mut out = vec![Vec::new(); z.len()];
    // Count of points in z[i+1-len ..= i] with sign*z > k.
    let count = |i: usize, len: usize, k: f64, sign: f64| -> usize {
        z[i + 1 - len..=i].iter().filter(|&&v| sign * v > k).count()
    };
    for i in 0..z.len() {
        let sign = if z[i] >= 0.0 { 1.0 } else { -1.0 };
        if z[i].abs() > 3.0 {
            out[i].push(Rule::Beyond3Sigma);
        }
        if i >= 2 && sign * z[i] > 2.0 && count(i, 3, 2.0, sign) >= 2 {
            out[i].push(Rule::TwoOfThreeBeyond2Sigma);
        }
        if i >= 4 && sign * z[i] > 1.0 && count(i, 5, 1.0, sign) >= 4 {
            out[i].push(Rule::FourOfFiveBeyond1Sigma);
        }
        if i >= 7 && z[i] != 0.0 && count(i, 8, 0.0, sign) == 8 {
            out[i].push(Rule::EightOnOneSide);
        }
    }
    out
}

/// Watches the running line's reject proportion in fixed-size subgroups and says when the
/// latest subgroup is out of control (by the rules above, against the recent history).
#[derive(Clone, Debug, Serialize)]
pub struct LiveMonitor {
    /// Items per subgroup.
    pub subgroup_size: u64,
    /// Subgroups kept for the centre line and the run rules.
    pub window: usize,
    /// Completed subgroups `(n, rejects)`, oldest first.
    subgroups: std::collections::VecDeque<(u64, u64)>,
    /// Cumulative counters at the start of the subgroup being filled.
    start: Option<(u64, u64)>,
}

/// The alarm state of a [`LiveMonitor`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LiveAlarm {
    /// Rules the latest subgroup violates.
    pub rules: Vec<Rule>,
    /// Its reject proportion.
    pub p: f64,
    /// The centre line it was judged against.
    pub p_bar: f64,
    /// Its upper control limit.
    pub ucl: f64,
}

impl LiveAlarm {
    /// One line for the banner and the log.
    pub fn message(&self) -> String {
        use crate::i18n::format_percent;
        let rules: Vec<String> = self.rules.iter().map(|r| r.describe()).collect();
        crate::tr!(
            "spc-alarm",
            rate = format_percent(self.p, 1),
            centre = format_percent(self.p_bar, 1),
            limit = format_percent(self.ucl, 1),
            rules = rules.join("; ")
        )
    }
}

impl Default for LiveMonitor {
    fn default() -> Self {
        Self::new(50, 30)
    }
}

impl LiveMonitor {
    /// A monitor with `subgroup_size` items per point and `window` points of history.
    pub fn new(subgroup_size: u64, window: usize) -> Self {
        Self {
            subgroup_size: subgroup_size.max(1),
            window: window.max(2),
            subgroups: Default::default(),
            start: None,
        }
    }

    /// Feed the line's cumulative counters (items judged, rejects). Returns true when a
    /// subgroup was completed (the alarm state may have changed). Counters that go backwards
    /// (a restarted station) start a new history.
    pub fn update(&mut self, items: u64, rejects: u64) -> bool {
        let Some((i0, r0)) = self.start else {
            self.start = Some((items, rejects));
            return false;
        };
        if items < i0 || rejects < r0 {
            self.subgroups.clear();
            self.start = Some((items, rejects));
            return false;
        }
        if items - i0 < self.subgroup_size {
            return false;
        }
        self.subgroups.push_back((items - i0, rejects - r0));
        while self.subgroups.len() > self.window {
            self.subgroups.pop_front();
        }
        self.start = Some((items, rejects));
        true
    }

    /// The chart of the recent subgroups.
    pub fn chart(&self) -> PChart {
        PChart::new(
            self.subgroups
                .iter()
                .enumerate()
                .map(|(i, &(n, d))| (format!("#{i}"), n, d)),
        )
    }

    /// The alarm when the latest subgroup is out of control and above the centre line (a
    /// drop in rejects is good news, not an alarm). Needs at least 5 subgroups of history.
    pub fn alarm(&self) -> Option<LiveAlarm> {
        if self.subgroups.len() < 5 {
            return None;
        }
        let chart = self.chart();
        let last = chart.points.last()?;
        (last.out_of_control() && last.z > 0.0).then(|| LiveAlarm {
            rules: last.violations.clone(),
            p: last.p,
            p_bar: chart.p_bar,
            ucl: last.ucl,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn limits_match_hand_computation() {
        // n = 100, 200, 50, 150 with 2, 6, 1, 3 rejects: p̄ = 12 / 500 = 0.024.
        let chart = PChart::new([
            ("a".to_string(), 100, 2),
            ("b".to_string(), 200, 6),
            ("c".to_string(), 50, 1),
            ("d".to_string(), 150, 3),
        ]);
        close(chart.p_bar, 0.024);
        // sigma(100) = sqrt(0.024 * 0.976 / 100) = 0.0153049012...
        let s100 = (0.024f64 * 0.976 / 100.0).sqrt();
        close(s100, 0.015304901175767194);
        let a = &chart.points[0];
        close(a.ucl, 0.024 + 3.0 * 0.015304901175767194); // 0.0699147035
        close(a.lcl, 0.0); // 0.024 - 0.0459 < 0: clamped
        close(a.z, (0.02 - 0.024) / 0.015304901175767194); // -0.26135...
        // n = 200: sigma = 0.0108222..., UCL = 0.0564666...
        let b = &chart.points[1];
        close(b.ucl, 0.024 + 3.0 * (0.024f64 * 0.976 / 200.0).sqrt());
        assert!((b.ucl - 0.0564666).abs() < 1e-6, "{}", b.ucl);
        close(b.p, 0.03);
        // Smaller subgroups have wider limits.
        assert!(chart.points[2].ucl > a.ucl && a.ucl > b.ucl);
        assert!(chart.out_of_control().next().is_none());
    }

    #[test]
    fn limits_clamp_to_unit_interval() {
        // p̄ = 0.5 with n = 1: 0.5 ± 1.5 -> [0, 1].
        let chart = PChart::new([("a".to_string(), 1, 1), ("b".to_string(), 1, 0)]);
        close(chart.points[0].ucl, 1.0);
        close(chart.points[0].lcl, 0.0);
        // No rejects at all: sigma 0, z 0, nothing flagged.
        let none = PChart::new([("a".to_string(), 10, 0), ("b".to_string(), 0, 0)]);
        assert_eq!(none.points.len(), 1);
        close(none.points[0].z, 0.0);
        assert!(!none.points[0].out_of_control());
    }

    #[test]
    fn a_spike_breaks_rule_one() {
        // Ten lots of 1000; rejects sum to 300, so p̄ = 0.03,
        // sigma = sqrt(0.03 * 0.97 / 1000) = 0.00539444, UCL = 0.0461833.
        let rejects = [24, 28, 22, 26, 80, 25, 27, 23, 21, 24];
        let chart = PChart::new(
            rejects
                .iter()
                .enumerate()
                .map(|(i, &d)| (format!("L{i}"), 1000, d)),
        );
        close(chart.p_bar, 0.03);
        assert!((chart.points[4].ucl - 0.0461833).abs() < 1e-6);
        // z = (0.08 - 0.03) / 0.00539444 = 9.26880
        assert!(
            (chart.points[4].z - 9.26880).abs() < 1e-4,
            "{}",
            chart.points[4].z
        );
        let flagged: Vec<&str> = chart.out_of_control().map(|p| p.label.as_str()).collect();
        assert_eq!(flagged, ["L4"]);
        assert_eq!(chart.points[4].violations, [Rule::Beyond3Sigma]);
    }

    #[test]
    fn run_rules_on_hand_made_sequences() {
        // Rule 2: 2.5, 0, 2.1 -> the third point completes 2 of 3 beyond 2 sigma.
        let r = western_electric(&[2.5, 0.0, 2.1]);
        assert_eq!(r[2], [Rule::TwoOfThreeBeyond2Sigma]);
        assert!(r[0].is_empty() && r[1].is_empty());
        // Opposite sides do not count together.
        assert!(western_electric(&[2.5, 0.0, -2.1])[2].is_empty());
        // Rule 3: four of five beyond 1 sigma below the centre.
        let r = western_electric(&[-1.5, -1.2, 0.3, -1.1, -1.9]);
        assert_eq!(r[4], [Rule::FourOfFiveBeyond1Sigma]);
        assert!(r[..4].iter().all(Vec::is_empty));
        // Rule 4: eight in a row above the centre, flagged on the 8th and 9th.
        let r = western_electric(&[0.5, 0.2, 0.1, 0.9, 0.3, 0.4, 0.2, 0.6, 0.1, -0.3]);
        assert!(r[..7].iter().all(Vec::is_empty));
        assert_eq!(r[7], [Rule::EightOnOneSide]);
        assert_eq!(r[8], [Rule::EightOnOneSide]);
        assert!(r[9].is_empty());
        // Rule 1 below the centre too, and several rules at once.
        let r = western_electric(&[-3.5]);
        assert_eq!(r[0], [Rule::Beyond3Sigma]);
        let r = western_electric(&[1.5, 1.5, 1.5, 2.5, 3.5]);
        assert_eq!(
            r[4],
            [
                Rule::Beyond3Sigma,
                Rule::TwoOfThreeBeyond2Sigma,
                Rule::FourOfFiveBeyond1Sigma
            ]
        );
    }

    #[test]
    fn live_monitor_alarms_on_a_jump_in_rejects() {
        let mut m = LiveMonitor::new(100, 30);
        let (mut items, mut rejects) = (0u64, 0u64);
        m.update(items, rejects);
        // Twenty subgroups at 2 % rejects: no alarm.
        for _ in 0..20 {
            items += 100;
            rejects += 2;
            assert!(m.update(items, rejects));
            assert!(m.alarm().is_none(), "{:?}", m.chart());
        }
        // Partial subgroup: nothing completes.
        assert!(!m.update(items + 50, rejects + 20));
        // Then a subgroup at 20 %: p̄ = 60/2100, sigma(100) = 0.01664, UCL = 0.0785.
        items += 100;
        rejects += 20;
        assert!(m.update(items, rejects));
        let alarm = m.alarm().expect("alarm");
        assert!(alarm.rules.contains(&Rule::Beyond3Sigma));
        close(alarm.p, 0.2);
        close(alarm.p_bar, 60.0 / 2100.0);
        assert!(alarm.message().contains("20.0 %"), "{}", alarm.message());
        // A restarted station (counters go back) clears the history.
        assert!(!m.update(10, 0));
        assert!(m.alarm().is_none());
    }
}
